/**
 * The seed's rules against a real drachtio-server and FreeSWITCH, with SIPp phones on 127.0.0.1. What each phone
 * is connected to is read from FreeSWITCH itself (bridge partner, room, running application).
 * Skipped, with the reason printed, when the servers are not configured (see docs/telephony.md).
 */
import { execSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HOLD_MUSIC, RINGBACK } from '../../src/telephony/drachtio/media.js';
import { heard } from './support/audio.js';
import { startSipp, uacScenario, uasScenario, type Answer, type Ending, type SippPhone } from './support/sipp.js';
import { AGENTS, channelState, clearAfterTest, expectBridgedOn, integrationEnv, portShift, startStack, type Stack, ok, eventWaiters } from './support/stack.js';

const env = integrationEnv();
const B = '5550100';
const [A, C] = [AGENTS[0]!, AGENTS[1]!];

if (typeof env === 'string') {
  console.log(`integration suite skipped: ${env}`);
}

describe.skipIf(typeof env === 'string')('internal help on real servers', () => {
  let stack: Stack;
  const phones: SippPhone[] = [];

  beforeAll(async () => {
    stack = await startStack(env as Exclude<typeof env, string>);
  }, 30_000);
  afterAll(async () => {
    for (const p of phones) p.stop();
    await stack?.stop();
  });
  // Each test starts from a quiet system, whatever the previous one left.
  afterEach(async () => {
    await clearAfterTest(stack, phones, AGENTS.map((a) => a.workNo));
    portShift.value += 100;
    const deadline = Date.now() + 5000;
    while (stack.orchestrator.activeCallCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });

  async function agentPhone(agent: (typeof AGENTS)[number], answer: Answer, toneHz?: number): Promise<SippPhone> {
    const phone = startSipp({
      scenario: uasScenario(answer, toneHz !== undefined),
      port: agent.sipPort + portShift.value,
      rtpPort: agent.rtpPort + 2 * portShift.value,
      ...(toneHz !== undefined ? { toneHz } : {}),
    });
    phones.push(phone);
    await phone.ready;
    return phone;
  }

  function customerCalls(did: string, end: Ending, toneHz?: number): SippPhone {
    const sipPort = (env as Exclude<typeof env, string>).sipPort;
    const phone = startSipp({
      scenario: uacScenario(end, toneHz !== undefined),
      port: 5090 + portShift.value,
      rtpPort: 16100 + 2 * portShift.value,
      call: { target: `127.0.0.1:${sipPort}`, service: did, from: B },
      ...(toneHz !== undefined ? { toneHz } : {}),
    });
    phones.push(phone);
    return phone;
  }


  const { since, waitEvent } = eventWaiters(() => stack);

  const expectBridged = (x: string, y: string): Promise<void> => expectBridgedOn(stack, x, y);

  async function expectInRoom(numbers: string[]): Promise<void> {
    const deadline = Date.now() + 5000;
    let rooms: (string | null)[] = [];
    while (Date.now() < deadline) {
      rooms = await Promise.all(numbers.map(async (n) => (await channelState(stack, stack.channelOfPhone(n) as string)).room));
      if (rooms[0] && new Set(rooms).size === 1) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not in one room on FreeSWITCH: ${JSON.stringify(rooms)}`);
  }

  /** The phone hears a looping tone: `what` says which (hold music or ringback), checked when given. */
  async function expectPlaying(number: string, what?: 'moh' | 'ringback'): Promise<void> {
    const state = await channelState(stack, stack.channelOfPhone(number) as string);
    const appData = what === undefined ? {} : { appData: what === 'moh' ? HOLD_MUSIC : RINGBACK };
    expect(state, `${number} should be hearing a looping tone`).toMatchObject({ app: 'endless_playback', ...appData });
  }

  async function talking(): Promise<{ a: SippPhone; b: SippPhone }> {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    await expectBridged(A.phone, B);
    return { a, b };
  }

  async function everyoneDone(list: SippPhone[]): Promise<void> {
    const codes = await Promise.all(list.map((p) => Promise.race([p.done, new Promise<number>((r) => setTimeout(() => r(-99), 20_000))])));
    expect(codes, list.map((p) => p.output().slice(-400)).join('\n---\n')).toEqual(list.map(() => 0));
  }

  it('two-party help: B hears music while A and C talk; C leaves: A and B talk again', async () => {
    const { a, b } = await talking();
    const c = await agentPhone(C, { kind: 'answer', afterMs: 500, then: { kind: 'bye', afterMs: 2500 } });
    const from = since();
    const helpCallId = ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await expectBridged(A.phone, C.phone);
    await expectPlaying(B);
    await waitEvent(from, A.workNo, 'AgentEvent_Customer_Release');
    await expectBridged(A.phone, B);
    expect(helpCallId).toBeTruthy();
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('two-party help: A leaves first, B is transferred to C', async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 300, then: { kind: 'bye', afterMs: 4000 } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await stack.waitFor((e) => e.workNo === C.workNo && e.eventType === 'AgentEvent_Customer_Release' && stack.events.indexOf(e) >= from, 'A left');
    await expectBridged(B, C.phone);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('two-party help: A drops the A–C call by its id and gets B back', async () => {
    const { a, b } = await talking();
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const from = since();
    const helpCallId = ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    ok(await stack.orchestrator.request({ kind: 'dropcall', workNo: A.workNo, callid: helpCallId }));
    await expectBridged(A.phone, B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('two-party help: C busy (486): A gets AgentEvent_Consult_Fail and talks with B again', async () => {
    const { a, b } = await talking();
    const c = await agentPhone(C, { kind: 'reject', afterMs: 300, status: 486 });
    const from = since();
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, A.workNo, 'AgentEvent_Consult_Fail');
    await expectBridged(A.phone, B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('two-party help: C does not answer in time: the INVITE is cancelled and B is back with A', async () => {
    const { a, b } = await talking();
    const c = await agentPhone(C, { kind: 'ring-until-cancel' });
    const from = since();
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await stack.waitFor((e) => stack.events.indexOf(e) >= from && e.eventType === 'AgentEvent_Consult_Fail', 'consult fail', 15_000);
    await expectBridged(A.phone, B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('three-party help: A, B and C in one room; C leaves: A and B talk', async () => {
    const { a, b } = await talking();
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'bye', afterMs: 3000 } });
    const from = since();
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 2, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, A.workNo, 'AgentEvent_Conference');
    await expectInRoom([A.phone, B, C.phone]);
    await waitEvent(from, A.workNo, 'AgentEvent_Customer_Release');
    await expectBridged(A.phone, B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('three-party help: A releases C by number and keeps B', async () => {
    const { a, b } = await talking();
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const from = since();
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 2, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, A.workNo, 'AgentEvent_Conference');
    ok(await stack.orchestrator.request({ kind: 'disconnect', workNo: A.workNo, number: C.workNo }));
    await expectBridged(A.phone, B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('three-party help: B leaves: A and C stay as an internal call', async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'bye', afterMs: 5000 });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 2, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, A.workNo, 'AgentEvent_Conference');
    await stack.waitFor((e) => stack.events.indexOf(e) >= from && e.workNo === A.workNo && e.eventType === 'AgentEvent_Customer_Release', 'B left');
    await expectBridged(A.phone, C.phone);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  describe('by ear: each phone sends its own tone, FreeSWITCH records what each phone is sent', () => {
    const TONES = { A: 1000, B: 1500, C: 2100 };
    const who = { [A.phone]: 'A', [B]: 'B', [C.phone]: 'C' };

    /** What each phone hears now, recorded at the same time. */
    async function ears(numbers: string[]): Promise<Record<string, string[]>> {
      const recordings = await Promise.all(numbers.map((n) => stack.recordHeard(n, 1200)));
      return Object.fromEntries(numbers.map((n, i) => [who[n] as string, heard(recordings[i] as Int16Array, TONES)]));
    }

    it('two-party help: A–B, then B hears music while A and C hear each other, then A–B again when C leaves', async () => {
      const from = since();
      const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'stay' } }, TONES.A);
      const b = customerCalls('4000', { kind: 'stay' }, TONES.B);
      await waitEvent(from, A.workNo, 'AgentEvent_Talking');
      expect(await ears([A.phone, B])).toEqual({ A: ['B'], B: ['A'] });
      const c = await agentPhone(C, { kind: 'answer', afterMs: 200, then: { kind: 'bye', afterMs: 4000 } }, TONES.C);
      ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
      await waitEvent(from, C.workNo, 'AgentEvent_Talking');
      expect(await ears([A.phone, B, C.phone])).toEqual({ A: ['C'], B: ['moh'], C: ['A'] });
      await waitEvent(from, A.workNo, 'AgentEvent_Customer_Release');
      expect(await ears([A.phone, B])).toEqual({ A: ['B'], B: ['A'] });
      ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
      await everyoneDone([a, b, c]);
    });

    it('three-party help: each hears the other two; A leaves: B and C hear each other', async () => {
      const from = since();
      const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'bye', afterMs: 4500 } }, TONES.A);
      const b = customerCalls('4000', { kind: 'stay' }, TONES.B);
      await waitEvent(from, A.workNo, 'AgentEvent_Talking');
      const c = await agentPhone(C, { kind: 'answer', afterMs: 200, then: { kind: 'stay' } }, TONES.C);
      ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 2, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
      await waitEvent(from, A.workNo, 'AgentEvent_Conference');
      expect(await ears([A.phone, B, C.phone])).toEqual({ A: ['B', 'C'], B: ['A', 'C'], C: ['A', 'B'] });
      await stack.waitFor((e) => stack.events.indexOf(e) >= from && e.workNo === C.workNo && e.eventType === 'AgentEvent_Customer_Release', 'A left');
      expect(await ears([B, C.phone])).toEqual({ B: ['C'], C: ['B'] });
      ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
      await everyoneDone([a, b, c]);
    });
  });

  // Needs a command that restarts FreeSWITCH (e.g. "docker compose restart freeswitch"): INTEGRATION_FREESWITCH_RESTART.
  it.skipIf(!process.env.INTEGRATION_FREESWITCH_RESTART)('FreeSWITCH restarts: every call it carried ends cleanly towards the phones; new calls work once it is back', async () => {
    const { a, b } = await talking();
    const from = since();
    const killedAt = Date.now();
    execSync(process.env.INTEGRATION_FREESWITCH_RESTART as string, { stdio: 'inherit' });
    // Both phones get a BYE (their SIPp scenarios end with success), both releases are told, nothing is left.
    await everyoneDone([a, b]);
    await waitEvent(from, A.workNo, 'AgentEvent_Call_Release');
    const released = stack.events.find((e) => stack.events.indexOf(e) >= from && e.eventType === 'AgentEvent_Call_Release');
    console.log(`FreeSWITCH restarted (kill -9): call released ${(released?.eventGenTime ?? NaN) - killedAt} ms after the kill`);
    expect(stack.orchestrator.activeCallCount()).toBe(0);
    const deadline = Date.now() + 30_000;
    while (!stack.backend.connected.freeswitch && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(stack.backend.connected.freeswitch).toBe(true);
    const again = await talking();
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([again.a, again.b]);
  }, 60_000);

  it("the handset's hold button (re-INVITE sendonly) holds the customer with music; its resume brings A and B back", async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'hold-and-resume', afterMs: 800, holdMs: 2500 } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    // The SIPp phone checks our answers itself (a=recvonly, then a=sendrecv).
    await waitEvent(from, A.workNo, 'AgentEvent_Hold');
    const deadline = Date.now() + 1500;
    while ((await channelState(stack, stack.channelOfPhone(B) as string)).app !== 'endless_playback' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await expectPlaying(B);
    await new Promise((r) => setTimeout(r, 2500));
    await expectBridged(A.phone, B);
    expect(stack.orchestrator.activeCallCount()).toBe(1);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b]);
  });

  it('help typed on the keypad: *2<C># from A\'s handset (RFC 2833) rings C; B hears music; A and C talk', async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'keys', afterMs: 1500, keys: `*2${C.workNo}#` } });
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await expectBridged(A.phone, C.phone);
    await expectPlaying(B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await everyoneDone([a, b, c]);
  });

  it("blind transfer from A's handset (hold, REFER to C): B hears ringback, C answers, B and C talk; A is told 100/180/200 and hung up", async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'blind-transfer', afterMs: 500, target: C.workNo, final: 200 } });
    const c = await agentPhone(C, { kind: 'answer', afterMs: 600, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_linkagePhoneTransferOut');
    await waitEvent(from, C.workNo, 'AgentEvent_Ringing');
    await new Promise((r) => setTimeout(r, 200));
    await expectPlaying(B, 'ringback');
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await waitEvent(from, A.workNo, 'AgentEvent_Call_Release');
    await expectBridged(C.phone, B);
    // A's SIPp checked the NOTIFYs (100, 180, 200) and our BYE, and has finished.
    expect(await Promise.race([a.done, new Promise<number>((r) => setTimeout(() => r(-99), 5000))])).toBe(0);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await everyoneDone([a, b, c]);
  });

  it("blind transfer to a helper who is busy (486): A's phone is told 486 and keeps B (on hold, as the phone left it)", async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'blind-transfer', afterMs: 500, target: C.workNo, final: 486 } });
    const c = await agentPhone(C, { kind: 'reject', afterMs: 400, status: 486 });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_SuccTransResult');
    await new Promise((r) => setTimeout(r, 300));
    await expectPlaying(B, 'moh');
    expect(stack.orchestrator.activeCallCount()).toBe(1);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
  });

  it("a REFER that cannot be honoured (to A's own number) gets its final response (404) and the call goes on", async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'refer', afterMs: 500, target: A.workNo, status: 404 } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    await new Promise((r) => setTimeout(r, 1500));
    await expectBridged(A.phone, B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b]);
  });

  it('the customer hangs up while the agent’s phone rings: the INVITE to the agent is cancelled', async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'ring-until-cancel' });
    const b = customerCalls('4000', { kind: 'bye', afterMs: 1000 });
    await waitEvent(from, A.workNo, 'AgentEvent_Ringing');
    await waitEvent(from, A.workNo, 'AgentEvent_Call_Release');
    await everyoneDone([a, b]);
    expect(stack.orchestrator.activeCallCount()).toBe(0);
  });
});
