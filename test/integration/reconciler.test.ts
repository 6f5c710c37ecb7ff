/**
 * The reconciler against a real FreeSWITCH: a channel tagged as this service's that no live leg owns (made here
 * with `originate`, as a leak would leave one) is hung up and counted; a channel tagged by another owner, or
 * younger than the grace period, is left alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipPhone } from './support/sip-phone.js';
import { integrationEnv, startStack, type Stack } from './support/stack.js';

const env = integrationEnv();
if (typeof env === 'string') console.log(`integration suite (reconciler) skipped: ${env}`);

describe.skipIf(typeof env === 'string')('reconciler on a real FreeSWITCH', () => {
  let stack: Stack;
  const phones: SipPhone[] = [];

  beforeAll(async () => {
    const real = env as Exclude<typeof env, string>;
    stack = await startStack(real, { agents: [], routes: [], listenPort: real.freeswitch.listenPort + 2 });
  }, 30_000);

  afterAll(async () => {
    for (const p of phones) p.close();
    await stack?.stop();
  });

  /** A FreeSWITCH channel to a phone of ours, with the given channel variables; resolves with its uuid. */
  async function channel(number: string, port: number, vars: Record<string, string>): Promise<{ uuid: string; phone: SipPhone }> {
    const phone = (await SipPhone.open(number, port, port + 10_000)).answerAfter(0);
    phones.push(phone);
    const list = Object.entries(vars).map(([k, v]) => `${k}=${v}`).join(',');
    const reply = (await stack.fsApi(`originate {${list}}sofia/drachtio_mrf/sip:${number}@127.0.0.1:${port} &park()`)).trim();
    expect(reply).toMatch(/^\+OK /);
    return { uuid: reply.slice(4).trim(), phone };
  }

  it('hangs up only our orphan channels, once they are older than the grace period', async () => {
    const orphan = await channel('5550901', 47000, { 'sip_h_X-Helpdesk-Owner': 'integration', 'sip_h_X-Helpdesk-Leg': 'leg-that-ended', 'sip_h_X-Helpdesk-Call': 'call-7' });
    const foreign = await channel('5550902', 47002, { 'sip_h_X-Helpdesk-Owner': 'another-service', 'sip_h_X-Helpdesk-Leg': 'x' });
    const untagged = await channel('5550903', 47004, {});
    try {
      // Too young: nothing is touched.
      expect(await stack.backend.reconciler.runOnce()).toBe(0);
      await new Promise((r) => setTimeout(r, 3200));
      expect(await stack.backend.reconciler.runOnce()).toBe(1);
      expect((await stack.fsApi(`uuid_exists ${orphan.uuid}`)).trim()).toBe('false');
      await Promise.race([orphan.phone.remoteHangup, new Promise((r) => setTimeout(r, 2000))]);
      expect(orphan.phone.state).toBe('ended');
      for (const c of [foreign, untagged]) expect((await stack.fsApi(`uuid_exists ${c.uuid}`)).trim()).toBe('true');
      expect(stack.backend.telemetry.report()).toMatchObject({ orphansHungUp: 1, lastError: null });
      expect(await stack.backend.reconciler.runOnce()).toBe(0);
    } finally {
      for (const c of [orphan, foreign, untagged]) await stack.fsApi(`uuid_kill ${c.uuid}`);
    }
  });
});
