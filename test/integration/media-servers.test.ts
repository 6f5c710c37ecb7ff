/**
 * Two FreeSWITCH servers (issue 21): the suite starts the second itself (INTEGRATION_FREESWITCH_BIN), on its own
 * ports and RTP range. Calls spread over both; kill -9 of one mid-call moves its calls to the other: new channels,
 * a re-INVITE to each phone, the media set again from the call's phase; the phones hear the right parties again
 * (checked by ear: each SIPp phone sends its own tone) and nothing is left on FreeSWITCH. Move times are printed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { heard } from './support/audio.js';
import { channelUuids } from './support/freeswitch.js';
import { secondFreeswitchBin, startSecondFreeswitch, type SecondFreeswitch } from './support/second-freeswitch.js';
import { startSipp, uacScenario, uasScenario, type Ending, type SippPhone } from './support/sipp.js';
import { AGENTS, channelState, clearAfterTest, integrationEnv, portShift, startStack, type Stack, ok, eventWaiters } from './support/stack.js';

const env = integrationEnv();
const bin = secondFreeswitchBin();
const skip = typeof env === 'string' || bin === undefined;
if (skip) console.log(`two-FreeSWITCH tests skipped: ${typeof env === 'string' ? env : 'INTEGRATION_FREESWITCH_BIN is not set'}`);

const [A, C, D] = [AGENTS[0]!, AGENTS[1]!, AGENTS[2]!];
const B = '5550100';
const B2 = '5550200';
const TONES = { A: 1000, B: 1500, C: 2100 };

describe.skipIf(skip)('two FreeSWITCH servers', () => {
  let stack: Stack;
  let second: SecondFreeswitch;
  const phones: SippPhone[] = [];
  const moveTimes: Record<string, number> = {};

  beforeAll(async () => {
    const e = env as Exclude<typeof env, string>;
    second = await startSecondFreeswitch(bin as string);
    stack = await startStack(e, {
      listenPort: 8095,
      freeswitchServers: [
        { host: e.freeswitch.host, port: e.freeswitch.port, secret: e.freeswitch.secret, sessionLimit: 100 },
        { host: second.host, port: second.eslPort, secret: second.secret, sessionLimit: 100 },
      ],
      routes: [
        { did: '4000', route: { kind: 'agent', workNo: A.workNo } },
        { did: '4002', route: { kind: 'agent', workNo: D.workNo } },
      ],
      helpAnswerTimeoutSeconds: 8,
    });
    const deadline = Date.now() + 15_000;
    while (!stack.backend.pool.servers.every((s) => s.up) && Date.now() < deadline) await sleep(100);
    expect(stack.backend.mediaServers().map((s) => s.up)).toEqual([true, true]);
  }, 60_000);
  afterAll(async () => {
    for (const p of phones) p.stop();
    await stack?.stop();
    await second?.stop();
    console.log(`move times (kill -9 to the phones bridged/in music/in the room again on the other server), ms: ${JSON.stringify(moveTimes)}`);
  });
  afterEach(async () => {
    await clearAfterTest(stack, phones, AGENTS.map((a) => a.workNo));
    portShift.value += 100;
    const deadline = Date.now() + 5000;
    while (stack.orchestrator.activeCallCount() > 0 && Date.now() < deadline) await sleep(100);
    for (const s of stack.backend.pool.servers) s.draining = false;
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  async function agentPhone(agent: (typeof AGENTS)[number], toneHz: number, then: Ending = { kind: 'moved' }): Promise<SippPhone> {
    const phone = startSipp({ scenario: uasScenario({ kind: 'answer', afterMs: 200, then }, true), port: agent.sipPort + portShift.value, rtpPort: agent.rtpPort + 2 * portShift.value, toneHz });
    phones.push(phone);
    await phone.ready;
    return phone;
  }

  function customerCalls(did: string, from: string, toneHz: number, offset = 0, end: Ending = { kind: 'moved' }): SippPhone {
    const e = env as Exclude<typeof env, string>;
    const phone = startSipp({
      scenario: uacScenario(end, true),
      port: 5090 + offset + portShift.value,
      rtpPort: 16100 + 2 * offset + 2 * portShift.value,
      call: { target: `127.0.0.1:${e.sipPort}`, service: did, from },
      toneHz,
    });
    phones.push(phone);
    return phone;
  }


  const { since, waitEvent } = eventWaiters(() => stack);

  /** The media server a phone's current leg lives on. */
  function serverOfPhone(number: string): string | undefined {
    for (const state of stack.orchestrator.callStates()) {
      for (const leg of Object.values(state.legs)) if (leg.number === number && leg.status === 'up') return stack.backend.pool.serverOfLeg(leg.id)?.id;
    }
    return undefined;
  }

  async function ears(who: Record<string, string>): Promise<Record<string, string[]>> {
    const numbers = Object.keys(who);
    const recordings = await Promise.all(numbers.map((n) => stack.recordHeard(n, 1200)));
    return Object.fromEntries(numbers.map((n, i) => [who[n] as string, heard(recordings[i] as Int16Array, TONES)]));
  }

  /** Polls (3 s at most, the target) until `check` holds on the first server; returns the ms it took. */
  async function within3s(what: string, check: () => Promise<boolean>, since: number): Promise<number> {
    const deadline = since + 3000;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) return Date.now() - since;
      await sleep(25);
    }
    throw new Error(`${what}: not within 3 s of the kill`);
  }

  const bridged = async (x: string, y: string): Promise<boolean> => {
    const [cx, cy] = [stack.channelOfPhone(x), stack.channelOfPhone(y)];
    if (!cx || !cy || serverOfPhone(x) !== 'fs1') return false;
    const [sx, sy] = [await channelState(stack, cx), await channelState(stack, cy)];
    return sx.bridgedTo === cy && sy.bridgedTo === cx;
  };
  const playing = async (x: string): Promise<boolean> => {
    const cx = stack.channelOfPhone(x);
    return cx !== undefined && serverOfPhone(x) === 'fs1' && (await channelState(stack, cx)).app === 'endless_playback';
  };
  const inRoom = async (numbers: string[]): Promise<boolean> => {
    const rooms = await Promise.all(numbers.map(async (n) => (serverOfPhone(n) === 'fs1' ? (await channelState(stack, stack.channelOfPhone(n) as string)).room : null)));
    return rooms[0] !== null && rooms.every((r) => r === rooms[0]);
  };

  /** Puts the next call on the second server: the first is drained while it is set up. */
  async function onSecondServer<T>(setUp: () => Promise<T>): Promise<T> {
    expect(stack.backend.pool.drain('fs1', true)).toBe(true);
    try {
      return await setUp();
    } finally {
      stack.backend.pool.drain('fs1', false);
    }
  }

  async function killSecond(): Promise<number> {
    const at = Date.now();
    await second.kill();
    return at;
  }

  async function restartSecond(): Promise<void> {
    await second.start();
    const deadline = Date.now() + 20_000;
    while (!stack.backend.pool.servers[1]?.up && Date.now() < deadline) await sleep(100);
    expect(stack.backend.pool.servers[1]?.up).toBe(true);
  }

  async function everyoneDone(list: SippPhone[]): Promise<void> {
    const codes = await Promise.all(list.map((p) => Promise.race([p.done, new Promise<number>((r) => setTimeout(() => r(-99), 20_000))])));
    expect(codes, list.map((p) => p.output().slice(-600)).join('\n---\n')).toEqual(list.map(() => 0));
  }

  async function noChannelLeft(): Promise<void> {
    const deadline = Date.now() + 3000;
    let left: string[] = [];
    while (Date.now() < deadline) {
      left = await channelUuids(stack.fsApi);
      if (left.length === 0) return;
      await sleep(100);
    }
    expect(left).toEqual([]);
  }

  it('calls spread over both servers; kill -9 of one mid-call: its call moves to the other and both phones hear each other again; the other call is untouched', async () => {
    const from = since();
    const a = await agentPhone(A, TONES.A, { kind: 'stay' });
    const b = customerCalls('4000', B, TONES.B, 0, { kind: 'stay' });
    await waitEvent(from, A.workNo, 'AgentEvent_Talking');
    const d = await agentPhone(D, TONES.C);
    const b2 = customerCalls('4002', B2, TONES.B, 5);
    await waitEvent(from, D.workNo, 'AgentEvent_Talking');
    // New calls go to the server with most room: the first to fs1 (a tie, the first listed), the second to fs2.
    expect([serverOfPhone(A.phone), serverOfPhone(B), serverOfPhone(D.phone), serverOfPhone(B2)]).toEqual(['fs1', 'fs1', 'fs2', 'fs2']);
    const releasesBefore = stack.events.filter((e) => e.eventType === 'AgentEvent_Call_Release').length;
    const killedAt = await killSecond();
    moveTimes.plain = await within3s('D and B2 bridged on fs1', () => bridged(D.phone, B2), killedAt);
    expect(await ears({ [D.phone]: 'C', [B2]: 'B' })).toEqual({ C: ['B'], B: ['C'] });
    // Nobody's desk was told of a release: the call survived. The first call never moved.
    expect(stack.events.filter((e) => e.eventType === 'AgentEvent_Call_Release').length).toBe(releasesBefore);
    expect(stack.orchestrator.activeCallCount()).toBe(2);
    expect(await bridged(A.phone, B)).toBe(true);
    ok(await stack.orchestrator.request({ kind: 'release', workNo: D.workNo }));
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, d, b2]);
    await noChannelLeft();
    await restartSecond();
  });

  it('customer on hold: after the move B hears music again and A is parked', async () => {
    const from = since();
    const { a, b } = await onSecondServer(async () => {
      const a = await agentPhone(A, TONES.A);
      const b = customerCalls('4000', B, TONES.B);
      await waitEvent(from, A.workNo, 'AgentEvent_Talking');
      return { a, b };
    });
    expect(serverOfPhone(B)).toBe('fs2');
    ok(await stack.orchestrator.request({ kind: 'hold', workNo: A.workNo }));
    await waitEvent(from, A.workNo, 'AgentEvent_Hold');
    const killedAt = await killSecond();
    moveTimes.hold = await within3s('B in music on fs1', () => playing(B), killedAt);
    expect(await ears({ [B]: 'B' })).toEqual({ B: ['moh'] });
    ok(await stack.orchestrator.request({ kind: 'gethold', workNo: A.workNo, callid: null }));
    await within3s('A and B bridged after the resume', () => bridged(A.phone, B), Date.now());
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b]);
    await noChannelLeft();
    await restartSecond();
  });

  it('two-party help, A–C talking: after the move A and C hear each other and B hears music', async () => {
    const from = since();
    const { a, b } = await onSecondServer(async () => {
      const a = await agentPhone(A, TONES.A);
      const b = customerCalls('4000', B, TONES.B);
      await waitEvent(from, A.workNo, 'AgentEvent_Talking');
      return { a, b };
    });
    const c = await agentPhone(C, TONES.C);
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, C.workNo, 'AgentEvent_Talking');
    expect([serverOfPhone(A.phone), serverOfPhone(B), serverOfPhone(C.phone)]).toEqual(['fs2', 'fs2', 'fs2']);
    const killedAt = await killSecond();
    moveTimes.help = await within3s('A–C bridged and B in music on fs1', async () => (await bridged(A.phone, C.phone)) && (await playing(B)), killedAt);
    expect(await ears({ [A.phone]: 'A', [B]: 'B', [C.phone]: 'C' })).toEqual({ A: ['C'], B: ['moh'], C: ['A'] });
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    await within3s('A–B bridged again', () => bridged(A.phone, B), Date.now());
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
    await noChannelLeft();
    await restartSecond();
  });

  it('three-party room: after the move A, B and C hear each other in a room on the other server', async () => {
    const from = since();
    const { a, b } = await onSecondServer(async () => {
      const a = await agentPhone(A, TONES.A);
      const b = customerCalls('4000', B, TONES.B);
      await waitEvent(from, A.workNo, 'AgentEvent_Talking');
      return { a, b };
    });
    const c = await agentPhone(C, TONES.C);
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 2, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, A.workNo, 'AgentEvent_Conference');
    const killedAt = await killSecond();
    moveTimes.room = await within3s('A, B, C in one room on fs1', () => inRoom([A.phone, B, C.phone]), killedAt);
    expect(await ears({ [A.phone]: 'A', [B]: 'B', [C.phone]: 'C' })).toEqual({ A: ['B', 'C'], B: ['A', 'C'], C: ['A', 'B'] });
    ok(await stack.orchestrator.request({ kind: 'release', workNo: C.workNo }));
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, c]);
    await noChannelLeft();
    await restartSecond();
  });
  it('a phone that cannot be moved (it does not answer the re-INVITE) is hung up: C leaves the room, A and B talk on the other server', async () => {
    const from = since();
    const { a, b } = await onSecondServer(async () => {
      const a = await agentPhone(A, TONES.A);
      const b = customerCalls('4000', B, TONES.B);
      await waitEvent(from, A.workNo, 'AgentEvent_Talking');
      return { a, b };
    });
    // C's phone takes no re-INVITE: SIPp treats it as unexpected and ends its call.
    const c = await agentPhone(C, TONES.C, { kind: 'stay' });
    ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 2, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' }));
    await waitEvent(from, A.workNo, 'AgentEvent_Conference');
    const moved = since();
    const killedAt = await killSecond();
    await waitEvent(moved, C.workNo, 'AgentEvent_Call_Release');
    // A and B hear each other again in the room on fs1 while C's re-INVITE fails; then bridged once C is dropped.
    moveTimes.unmovablePhone = await within3s('A and B together on fs1', async () => (await inRoom([A.phone, B])) || (await bridged(A.phone, B)), killedAt);
    await within3s('A–B bridged on fs1 after C was dropped', () => bridged(A.phone, B), killedAt);
    expect(await ears({ [A.phone]: 'A', [B]: 'B' })).toEqual({ A: ['B'], B: ['A'] });
    expect(stack.orchestrator.activeCallCount()).toBe(1);
    c.stop();
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b]);
    await noChannelLeft();
    await restartSecond();
  });
});
