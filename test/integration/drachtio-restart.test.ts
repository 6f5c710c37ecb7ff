/**
 * drachtio-server killed (kill -9) and started again under calls in progress, on the real servers with SIPp
 * phones: every dialog died with the old process, so the service must end each call itself (backend.ts: at the
 * reconnect, or after telephony.signallingLossSeconds): within 5 s it holds no call, the agents are free and told
 * AgentEvent_Call_Release, FreeSWITCH has none of the call's channels; and the next call works.
 *
 * The phones of the killed calls never hear a BYE (their dialogs went with the old process): the test stops them
 * itself. Every phone of this file has SIP and RTP ports of its own, so a late retransmission to a killed phone
 * never reaches the next one. Needs INTEGRATION_DRACHTIO_RESTART: a command that kill -9s drachtio-server and
 * starts it again (see docs/telephony.md).
 */
import { execSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { channelUuids } from './support/freeswitch.js';
import { startSipp, uacScenario, uasScenario, type Answer, type Ending, type SippPhone } from './support/sipp.js';
import { channelState, expectBridgedOn, integrationEnv, startStack, type Stack, ok, eventWaiters } from './support/stack.js';

const env = integrationEnv();
const restart = process.env.INTEGRATION_DRACHTIO_RESTART;
const skipped = typeof env === 'string' ? env : !restart ? 'INTEGRATION_DRACHTIO_RESTART is not set (a command that kill -9s drachtio-server and starts it again; see docs/telephony.md)' : null;
if (skipped) console.log(`integration suite (drachtio-server restart) skipped: ${skipped}`);

const B = '5550100';
const A = { workNo: '101', phone: '2001' };
const C = { workNo: '102', phone: '2002' };

/** Each phone of this file on ports of its own (SIP 6001…, RTP 30010…, above FreeSWITCH's 20000–29999). */
let slot = 0;
const nextPorts = (): { sip: number; rtp: number } => {
  slot++;
  return { sip: 6000 + slot, rtp: 30000 + 10 * slot };
};

describe.skipIf(skipped !== null)('drachtio-server restart (kill -9) on real servers', () => {
  const real = env as Exclude<typeof env, string>;
  let stack: Stack;
  const phones: SippPhone[] = [];
  /** Where each agent's phone answers now (a fresh SIPp each call). */
  const contacts = new Map<string, number>();

  beforeAll(async () => {
    stack = await startStack(real, {
      agents: [A, C],
      contactFor: (number) => (contacts.has(number) ? `sip:${number}@127.0.0.1:${contacts.get(number)}` : undefined),
      routes: [{ did: '4000', route: { kind: 'agent', workNo: A.workNo } }],
      listenPort: real.freeswitch.listenPort + 4,
    });
  }, 30_000);
  afterAll(async () => {
    for (const p of phones) p.stop();
    await stack?.stop();
  });
  afterEach(async () => {
    const leaving = phones.splice(0);
    for (const p of leaving) p.stop();
    await Promise.all(leaving.map((p) => p.done));
    for (const workNo of [A.workNo, C.workNo]) await stack.orchestrator.request({ kind: 'release', workNo });
  });

  async function agentPhone(agent: typeof A, answer: Answer): Promise<SippPhone> {
    const { sip, rtp } = nextPorts();
    const phone = startSipp({ scenario: uasScenario(answer), port: sip, rtpPort: rtp });
    phones.push(phone);
    await phone.ready;
    contacts.set(agent.phone, sip);
    return phone;
  }

  function customerCalls(did: string, end: Ending): SippPhone {
    const { sip, rtp } = nextPorts();
    const phone = startSipp({ scenario: uacScenario(end), port: sip, rtpPort: rtp, call: { target: `127.0.0.1:${real.sipPort}`, service: did, from: B } });
    phones.push(phone);
    return phone;
  }


  const { waitEvent } = eventWaiters(() => stack);

  const expectBridged = (x: string, y: string): Promise<void> => expectBridgedOn(stack, x, y);

  /** A customer call to A, answered and bridged on FreeSWITCH. */
  async function talking(): Promise<{ a: SippPhone; b: SippPhone }> {
    const from = stack.events.length;
    const a = await agentPhone(A, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Ringing');
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    await expectBridged(A.phone, B);
    return { a, b };
  }

  /**
   * Kills and restarts drachtio-server, then waits (5 s at most from the kill) until the service holds no call,
   * the agents are free and told the release, and FreeSWITCH has none of `channels`. Returns when each came.
   */
  async function restartDrachtio(agents: string[], channels: string[]): Promise<Record<string, number>> {
    const from = stack.events.length;
    const killedAt = Date.now();
    execSync(restart as string, { stdio: 'inherit' });
    const restartedMs = Date.now() - killedAt;
    const seen: Record<string, number> = {};
    const deadline = killedAt + 5000;
    let left: string[] = [];
    for (;;) {
      const now = Date.now() - killedAt;
      if (seen.noCall === undefined && stack.orchestrator.activeCallCount() === 0) seen.noCall = now;
      for (const workNo of agents) {
        if (seen[`free ${workNo}`] === undefined && !stack.directory.isBusy(workNo)) seen[`free ${workNo}`] = now;
        if (seen[`released ${workNo}`] === undefined && stack.events.some((e, i) => i >= from && e.workNo === workNo && e.eventType === 'AgentEvent_Call_Release')) {
          seen[`released ${workNo}`] = now;
        }
      }
      if (seen.noChannel === undefined) {
        const live = new Set(await channelUuids(stack.fsApi));
        left = channels.filter((uuid) => live.has(uuid));
        if (left.length === 0) seen.noChannel = Date.now() - killedAt;
      }
      if (Object.keys(seen).length === 2 + 2 * agents.length) break;
      if (Date.now() > deadline) {
        throw new Error(
          `5 s after the kill: ${JSON.stringify(seen)} (calls ${stack.orchestrator.activeCallCount()}, channels left ${JSON.stringify(left)}); events: ${JSON.stringify(stack.events.slice(from).map((e) => [e.workNo, e.eventType]))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`drachtio-server kill -9 + restart (script returned after ${restartedMs} ms): ms after the kill ${JSON.stringify(seen)}`);
    return seen;
  }

  /** The phones of the killed dialogs heard nothing: stopped here, and their ports never used again. */
  async function stopPhones(list: SippPhone[]): Promise<void> {
    for (const p of list) p.stop();
    await Promise.all(list.map((p) => p.done));
  }

  /** drachtio-srf is connected again, and a new customer call to A rings, is answered and bridged on FreeSWITCH. */
  async function nextCallWorks(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!stack.backend.connected.drachtio && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(stack.backend.connected.drachtio).toBe(true);
    const { a, b } = await talking();
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    const codes = await Promise.all([a, b].map((p) => Promise.race([p.done, new Promise<number>((r) => setTimeout(() => r(-99), 10_000))])));
    expect(codes, [a, b].map((p) => p.output().slice(-400)).join('\n---\n')).toEqual([0, 0]);
    expect(stack.orchestrator.activeCallCount()).toBe(0);
  }

  it('a customer call in talk: ended within 5 s (no call, A free and told, no channel left); a new call to A works', async () => {
    const { a, b } = await talking();
    const channels = [stack.channelOfPhone(A.phone), stack.channelOfPhone(B)] as string[];
    expect(channels.every(Boolean)).toBe(true);
    await restartDrachtio([A.workNo], channels);
    await stopPhones([a, b]);
    await nextCallWorks();
  }, 60_000);

  it('during two-party help (B on music, A and C talk): ended within 5 s for A, B and C; a new call to A works', async () => {
    const { a, b } = await talking();
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const from = stack.events.length;
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await expectBridged(A.phone, C.phone);
    expect((await channelState(stack, stack.channelOfPhone(B) as string)).app).toBe('endless_playback');
    const channels = [stack.channelOfPhone(A.phone), stack.channelOfPhone(B), stack.channelOfPhone(C.phone)] as string[];
    expect(channels.every(Boolean)).toBe(true);
    await restartDrachtio([A.workNo, C.workNo], channels);
    await stopPhones([a, b, c]);
    await nextCallWorks();
  }, 60_000);
});
