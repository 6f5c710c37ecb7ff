/**
 * Transfers and the busy check on a real drachtio-server and FreeSWITCH: to a skill queue (API and a handset's
 * REFER to the skill's name), consult then complete through the API, attended transfer from a handset (a second
 * line with digest, then REFER with Replaces naming the held line), what a REFER whose consultation ended leaves,
 * and two customers calling one agent at the same moment. What each phone hears is read from FreeSWITCH.
 * Skipped, with the reason printed, when the servers are not configured (see docs/telephony.md).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HOLD_MUSIC, RINGBACK } from '../../src/telephony/drachtio/media.js';
import { SipPhone } from './support/sip-phone.js';
import { startSipp, uacScenario, uasScenario, type Answer, type Ending, type SippPhone } from './support/sipp.js';
import { AGENTS, channelState, clearAfterTest, expectBridgedOn, integrationEnv, portShift, startStack, type Stack, ok, eventWaiters } from './support/stack.js';

const env = integrationEnv();
const B = '5550100';
const B2 = '5550101';
const [A, C] = [AGENTS[0]!, AGENTS[1]!];
const PASSWORD = 'handset-2001';

if (typeof env === 'string') console.log(`integration suite (transfers) skipped: ${env}`);

describe.skipIf(typeof env === 'string')('transfers and the busy check on real servers', () => {
  let stack: Stack;
  const phones: SippPhone[] = [];
  const handsets: SipPhone[] = [];
  const real = env as Exclude<typeof env, string>;

  beforeAll(async () => {
    stack = await startStack(real, {
      agents: [A, C],
      // A's handset may call out by itself (its second line): it proves who it is with digest.
      registrar: {
        credentials: [{ phone: A.phone, username: A.phone, password: PASSWORD }],
        settings: { realm: 'helpdesk', minExpiresSeconds: 60, maxExpiresSeconds: 3600, defaultExpiresSeconds: 600, maxContactsPerPhone: 3, failuresBeforeBlock: 5, blockSeconds: 60, nonceLifetimeSeconds: 300 },
      },
      listenPort: real.freeswitch.listenPort + 9,
    });
  }, 30_000);
  afterAll(async () => {
    for (const p of phones) p.stop();
    for (const h of handsets) h.close();
    await stack?.stop();
  });
  afterEach(async () => {
    for (const h of handsets.splice(0)) {
      await h.hangup();
      h.close();
    }
    await clearAfterTest(stack, phones, [A.workNo, C.workNo]);
    portShift.value += 100;
    const deadline = Date.now() + 5000;
    while (stack.orchestrator.activeCallCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });

  async function agentPhone(agent: (typeof AGENTS)[number], answer: Answer): Promise<SippPhone> {
    const phone = startSipp({ scenario: uasScenario(answer), port: agent.sipPort + portShift.value, rtpPort: agent.rtpPort + 2 * portShift.value });
    phones.push(phone);
    await phone.ready;
    return phone;
  }

  /** `offset`: another customer at the same time (SIPp takes its RTP port and the one 2 above it). */
  function customerCalls(did: string, end: Ending, from = B, offset = 0): SippPhone {
    const phone = startSipp({
      scenario: uacScenario(end),
      port: 5090 + offset + portShift.value,
      rtpPort: 16100 + 2 * (offset + portShift.value),
      call: { target: `127.0.0.1:${real.sipPort}`, service: did, from },
    });
    phones.push(phone);
    return phone;
  }

  /** A's handset as a small SIP phone on its own port (the static contact of 2001): it can hold, call, refer. */
  async function handsetA(): Promise<SipPhone> {
    const phone = await SipPhone.open(A.phone, A.sipPort + portShift.value, A.rtpPort + 2 * portShift.value);
    handsets.push(phone);
    return phone;
  }


  const { since, waitEvent } = eventWaiters(() => stack);

  async function expectPlaying(number: string, what: 'moh' | 'ringback'): Promise<void> {
    const deadline = Date.now() + 3000;
    let state: Awaited<ReturnType<typeof channelState>> | undefined;
    while (Date.now() < deadline) {
      state = await channelState(stack, stack.channelOfPhone(number) as string);
      if (state.app === 'endless_playback' && state.appData === (what === 'moh' ? HOLD_MUSIC : RINGBACK)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${number} should be hearing ${what}: ${JSON.stringify(state)}`);
  }

  async function everyoneDone(list: SippPhone[]): Promise<void> {
    const codes = await Promise.all(list.map((p) => Promise.race([p.done, new Promise<number>((r) => setTimeout(() => r(-99), 20_000))])));
    expect(codes, list.map((p) => p.output().slice(-400)).join('\n---\n')).toEqual(list.map(() => 0));
  }

  const hungUp = (phone: SipPhone): Promise<boolean> => Promise.race([phone.remoteHangup.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);

  it('to a skill queue from the API: A is hung up at once, B hears music while C rings, then B and C talk', async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'stay' } });
    const c = await agentPhone(C, { kind: 'answer', afterMs: 1500, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    ok(await stack.orchestrator.request({ kind: 'transfer', workNo: A.workNo, to: { kind: 'skill', skill: 'support' }, fromPhone: false }));
    await waitEvent(from, A.workNo, 'AgentEvent_Call_Release');
    await waitEvent(from, C.workNo, 'AgentEvent_Ringing');
    await expectPlaying(B, 'moh');
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await expectBridgedOn(stack, C.phone, B);
    expect(await Promise.race([a.done, new Promise<number>((r) => setTimeout(() => r(-99), 5000))])).toBe(0);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await everyoneDone([a, b, c]);
  });

  it("a handset's REFER to the skill's name: 202, NOTIFY 100 then 200, A hung up; C answers and talks with B", async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'blind-transfer', afterMs: 500, target: 'support', final: 200, ringing: false } });
    const c = await agentPhone(C, { kind: 'answer', afterMs: 800, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_linkagePhoneTransferOut');
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await expectBridgedOn(stack, C.phone, B);
    // A's SIPp checked the NOTIFYs (100, 200) and our BYE, and has finished.
    expect(await Promise.race([a.done, new Promise<number>((r) => setTimeout(() => r(-99), 5000))])).toBe(0);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await everyoneDone([a, b, c]);
  });

  it('consult, then complete through the API: innerhelp to C, C answers, transfer to C: B and C talk, A is hung up', async () => {
    const from = since();
    const a = await agentPhone(A, { kind: 'answer', afterMs: 200, then: { kind: 'stay' } });
    const c = await agentPhone(C, { kind: 'answer', afterMs: 400, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await expectBridgedOn(stack, A.phone, C.phone);
    await expectPlaying(B, 'moh');
    ok(await stack.orchestrator.request({ kind: 'transfer', workNo: A.workNo, to: { kind: 'agent', workNo: C.workNo }, fromPhone: false }));
    await waitEvent(from, A.workNo, 'AgentEvent_SuccTransResult');
    await expectBridgedOn(stack, C.phone, B);
    expect(await Promise.race([a.done, new Promise<number>((r) => setTimeout(() => r(-99), 5000))])).toBe(0);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await everyoneDone([a, b, c]);
  });

  /** A talks with B on its handset, holds B, and calls C on a second line (digest), which C answers. */
  async function consultFromHandset(): Promise<{ held: SipPhone; line2: SipPhone; b: SippPhone; c: SippPhone; from: number }> {
    const from = since();
    const held = (await handsetA()).answerAfter(200);
    const c = await agentPhone(C, { kind: 'answer', afterMs: 300, then: { kind: 'stay' } });
    const b = customerCalls('4000', { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    await expectBridgedOn(stack, A.phone, B);
    // A re-INVITE crossing one of FreeSWITCH's is answered 491: a phone tries again after a while (RFC 3261 14.1).
    let holding = await held.hold();
    if (holding === 491) {
      await new Promise((r) => setTimeout(r, 2500));
      holding = await held.hold();
    }
    expect(holding).toBe(200);
    await waitEvent(from, A.workNo, 'AgentEvent_Hold');
    await expectPlaying(B, 'moh');
    // The second line: the same handset (2001) from another port, proving who it is.
    const line2 = await SipPhone.open(A.phone, A.sipPort + 50 + portShift.value, A.rtpPort + 60 + 2 * portShift.value);
    handsets.push(line2);
    line2.credentials = { username: A.phone, password: PASSWORD };
    expect(await line2.call({ host: '127.0.0.1', port: real.sipPort }, C.workNo)).toBe(200);
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    await expectBridgedToLine(C.phone, line2);
    return { held, line2, b, c, from };
  }

  /** The phone's channel is bridged to the channel of A's line that `line` is (A has two: channelOfPhone sees one). */
  async function expectBridgedToLine(number: string, line: SipPhone): Promise<void> {
    const callId = line.dialogIds().callId;
    const deadline = Date.now() + 5000;
    let last = '';
    while (Date.now() < deadline) {
      const leg = stack.orchestrator
        .callStates()
        .flatMap((state) => Object.values(state.legs))
        .find((l) => l.number === A.phone && l.status === 'up' && stack.backend.signalling.locate(l.id).dialogId?.startsWith(callId));
      const lineChannel = leg ? stack.backend.channelOf(leg.id) : undefined;
      const state = await channelState(stack, stack.channelOfPhone(number) as string);
      if (lineChannel && state.bridgedTo === lineChannel) return;
      last = JSON.stringify({ lineChannel, state, dialogs: stack.orchestrator.callStates().flatMap((st) => Object.values(st.legs)).map((l) => stack.backend.signalling.locate(l.id).dialogId) });
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${number} is not bridged to A's line ${callId}: ${last}`);
  }

  /** The Refer-To of an attended transfer on the second line: the held call's dialog, from the phone's side. */
  function replacing(held: SipPhone): string {
    const ids = held.dialogIds();
    return `sip:${B}@127.0.0.1:${real.sipPort}?Replaces=${encodeURIComponent(`${ids.callId};to-tag=${ids.remoteTag};from-tag=${ids.localTag}`)}`;
  }

  it("attended transfer from the handset (hold, second line to C, REFER with Replaces): B and C talk, both of A's lines are hung up", async () => {
    const { held, line2, b, c, from } = await consultFromHandset();
    expect(await line2.refer(replacing(held))).toBe(202);
    await waitEvent(from, A.workNo, 'AgentEvent_SuccTransResult');
    await expectBridgedOn(stack, C.phone, B);
    expect(await hungUp(line2)).toBe(true);
    expect(await hungUp(held)).toBe(true);
    expect(line2.notifies.map((n) => n.split(' ')[1])).toEqual(['100', '200']);
    expect(stack.orchestrator.activeCallCount()).toBe(1);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await everyoneDone([b, c]);
  });

  it('attended transfer after C hung up: the REFER gets 481, B stays held with A, whose resume brings B back', async () => {
    const { held, line2, b, c, from } = await consultFromHandset();
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    expect(await hungUp(line2)).toBe(true);
    await waitEvent(from, C.workNo, 'AgentEvent_Call_Release');
    // The phone's second line is gone; the transfer button still names it (as a phone slower than the BYE would).
    const gone = line2.dialogIds();
    expect(await held.refer(`sip:${C.workNo}@127.0.0.1:${real.sipPort}?Replaces=${encodeURIComponent(`${gone.callId};to-tag=${gone.remoteTag};from-tag=${gone.localTag}`)}`)).toBe(481);
    await expectPlaying(B, 'moh');
    expect(await held.resume()).toBe(200);
    await expectBridgedOn(stack, A.phone, B);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    expect(await hungUp(held)).toBe(true);
    await everyoneDone([b, c]);
  });

  it('two customers call one agent at the same moment: its phone gets one INVITE, the other customer waits with music', async () => {
    const from = since();
    const phone = (await handsetA()).answerAfter(300);
    const first = customerCalls('4000', { kind: 'bye', afterMs: 6000 }, B, 0);
    const second = customerCalls('4000', { kind: 'bye', afterMs: 6000 }, B2, 5);
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    await new Promise((r) => setTimeout(r, 1000));
    // Exactly one INVITE reached the phone (a second one would show as a 486 it answered), and it was answered.
    expect(phone.log).toEqual(['INVITE 200']);
    expect(stack.events.slice(from).filter((e) => e.workNo === A.workNo && e.eventType === 'AgentEvent_Ringing')).toHaveLength(1);
    const talkingWith = [B, B2].find((n) => stack.orchestrator.callStates().some((s) => s.phase.name === 'connected' && Object.values(s.legs).some((l) => l.number === n && l.status === 'up')));
    expect(talkingWith).toBeDefined();
    const waiting = talkingWith === B ? B2 : B;
    await expectBridgedOn(stack, A.phone, talkingWith as string);
    await expectPlaying(waiting, 'moh');
    await everyoneDone([first, second]);
  }, 30_000);
});
