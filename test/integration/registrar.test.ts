/**
 * Handsets that register with digest on a real drachtio-server, then are rung, answered and helped there, with no
 * static contact anywhere in the configuration. Skipped, with the reason printed, when the servers are not set.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerScenario, startSipp, uacScenario, uasScenario, type SippPhone } from './support/sipp.js';
import { channelState, clearAfterTest, integrationEnv, startStack, type Stack } from './support/stack.js';

const env = integrationEnv();
if (typeof env === 'string') console.log(`integration suite (registrar) skipped: ${env}`);

const B = '5550100';
const A = { workNo: '101', phone: '2001', password: 'handset-2001', sipPort: 5171, rtpPort: 17000 };
const C = { workNo: '102', phone: '2002', password: 'handset-2002', sipPort: 5172, rtpPort: 17010 };
const REALM = 'helpdesk';

describe.skipIf(typeof env === 'string')('registrar on real servers', () => {
  let stack: Stack;
  const phones: SippPhone[] = [];
  const real = env as Exclude<typeof env, string>;

  beforeAll(async () => {
    stack = await startStack(real, {
      agents: [A, C],
      // No static contact: a phone is reachable only where it registered.
      contactFor: () => undefined,
      registrar: {
        credentials: [A, C].map((p) => ({ phone: p.phone, username: p.phone, password: p.password })),
        settings: { realm: REALM, minExpiresSeconds: 60, maxExpiresSeconds: 3600, defaultExpiresSeconds: 600, maxContactsPerPhone: 3, failuresBeforeBlock: 5, blockSeconds: 60, nonceLifetimeSeconds: 300 },
      },
      routes: [{ did: '4200', route: { kind: 'agent', workNo: A.workNo } }],
      listenPort: real.freeswitch.listenPort + 3,
    });
  }, 30_000);
  afterAll(async () => {
    for (const p of phones) p.stop();
    await stack?.stop();
  });
  afterEach(() => clearAfterTest(stack, phones, [A.workNo, C.workNo]));

  async function register(phone: typeof A, password: string, expect: 200 | 403): Promise<number> {
    const sipp = startSipp({ scenario: registerScenario(phone.phone, password, expect), port: phone.sipPort, rtpPort: phone.rtpPort, call: { target: `127.0.0.1:${real.sipPort}`, service: phone.phone, from: phone.phone }, timeoutSeconds: 10 });
    phones.push(sipp);
    const code = await sipp.done;
    if (code !== 0) throw new Error(`REGISTER of ${phone.phone} ended with ${code}: ${sipp.output().slice(-600)}`);
    return code;
  }

  it('a wrong password is refused (401, then 403) and leaves no binding', async () => {
    await register(A, 'not-the-password', 403);
    expect(stack.backend.bindings.live(A.phone, Date.now())).toEqual([]);
  });

  it('a handset that registered with digest is rung, answers, and is helped by another registered handset', async () => {
    await register(A, A.password, 200);
    await register(C, C.password, 200);
    expect(stack.backend.bindings.live(A.phone, Date.now()).map((b) => b.contact)).toEqual([`sip:${A.phone}@127.0.0.1:${A.sipPort}`]);
    // The handsets, now answering on the ports they registered from.
    const a = startSipp({ scenario: uasScenario({ kind: 'answer', afterMs: 200, then: { kind: 'stay' } }), port: A.sipPort, rtpPort: A.rtpPort });
    const c = startSipp({ scenario: uasScenario({ kind: 'answer', afterMs: 200, then: { kind: 'stay' } }), port: C.sipPort, rtpPort: C.rtpPort });
    phones.push(a, c);
    await Promise.all([a.ready, c.ready]);
    const from = stack.events.length;
    const b = startSipp({ scenario: uacScenario({ kind: 'stay' }), port: 5190, rtpPort: 17100, call: { target: `127.0.0.1:${real.sipPort}`, service: '4200', from: B } });
    phones.push(b);
    const talking = await stack.waitFor((e) => stack.events.indexOf(e) >= from && e.workNo === A.workNo && e.eventType === 'AgentEvent_Talking', 'A talking');
    expect(talking.workNo).toBe(A.workNo);
    const reply = await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    expect(reply.ok, JSON.stringify(reply)).toBe(true);
    await stack.waitFor((e) => stack.events.indexOf(e) >= from && e.workNo === C.workNo && e.eventType === 'AgentEvent_Talking', 'C talking');
    // A and C hear each other on FreeSWITCH.
    const deadline = Date.now() + 5000;
    let last = '';
    while (Date.now() < deadline) {
      const [ca, cc] = [stack.channelOfPhone(A.phone), stack.channelOfPhone(C.phone)];
      if (ca && cc) {
        const state = await channelState(stack, ca);
        if (state.bridgedTo === cc) return;
        last = JSON.stringify(state);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`A and C are not bridged: ${last}`);
  });
});
