/**
 * A supervisor on a live call (issue 20), by ear on real servers: each SIPp phone sends its own tone (agent A,
 * customer B, supervisor S), FreeSWITCH records what it sends to each phone. Monitor: S hears A and B, nobody hears
 * S; coach: only A hears S; barge: all three; switching on the same call without ringing S again; S leaving (by the
 * API, or by hanging up) leaves A and B talking.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/core/types.js';
import { heard } from './support/audio.js';
import { startSipp, uacScenario, uasScenario, type Answer, type Ending, type SippPhone } from './support/sipp.js';
import { AGENTS, clearAfterTest, integrationEnv, portShift, startStack, type Stack } from './support/stack.js';

const env = integrationEnv();
const B = '5550100';
const A = AGENTS[0]!;
/** The supervisor's phone: the third SIPp phone's place (agent 103 takes no call here). */
const S = AGENTS[2]!;
const TONES = { A: 1000, B: 1500, S: 2100 };
const who: Record<string, string> = { [A.phone]: 'A', [B]: 'B', [S.phone]: 'S' };

if (typeof env === 'string') console.log(`integration suite skipped: ${env}`);

describe.skipIf(typeof env === 'string')('a supervisor on a live call, by ear on real servers', () => {
  let stack: Stack;
  const phones: SippPhone[] = [];

  beforeAll(async () => {
    portShift.value = 2000;
    stack = await startStack(env as Exclude<typeof env, string>, { listenPort: (env as Exclude<typeof env, string>).freeswitch.listenPort + 7 });
  }, 30_000);
  afterAll(async () => {
    for (const p of phones) p.stop();
    await stack?.stop();
  });
  afterEach(async () => {
    await clearAfterTest(stack, phones, AGENTS.map((a) => a.workNo));
    portShift.value += 100;
    const deadline = Date.now() + 5000;
    while (stack.orchestrator.activeCallCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });

  function phoneAt(place: (typeof AGENTS)[number], answer: Answer, toneHz: number): Promise<SippPhone> {
    const phone = startSipp({ scenario: uasScenario(answer, true), port: place.sipPort + portShift.value, rtpPort: place.rtpPort + 2 * portShift.value, toneHz });
    phones.push(phone);
    return phone.ready.then(() => phone);
  }

  function customerCalls(end: Ending): SippPhone {
    const e = env as Exclude<typeof env, string>;
    const phone = startSipp({
      scenario: uacScenario(end, true),
      port: 5090 + portShift.value,
      rtpPort: 16100 + 2 * portShift.value,
      call: { target: `127.0.0.1:${e.sipPort}`, service: '4000', from: B },
      toneHz: TONES.B,
    });
    phones.push(phone);
    return phone;
  }

  function ok(reply: Reply | { ok: boolean; code?: string }): void {
    if (!reply.ok) throw new Error(`refused: ${JSON.stringify(reply)}`);
  }

  async function ears(numbers: string[]): Promise<Record<string, string[]>> {
    await stack.supervision.settle();
    const recordings = await Promise.all(numbers.map((n) => stack.recordHeard(n, 1200)));
    return Object.fromEntries(numbers.map((n, i) => [who[n] as string, heard(recordings[i] as Int16Array, TONES)]));
  }

  async function everyoneDone(list: SippPhone[]): Promise<void> {
    const codes = await Promise.all(list.map((p) => Promise.race([p.done, new Promise<number>((r) => setTimeout(() => r(-99), 20_000))])));
    expect(codes, list.map((p) => p.output().slice(-400)).join('\n---\n')).toEqual(list.map(() => 0));
  }

  async function talking(aEnd: Ending = { kind: 'stay' }): Promise<{ a: SippPhone; b: SippPhone; callId: string }> {
    const from = stack.events.length;
    const a = await phoneAt(A, { kind: 'answer', afterMs: 200, then: aEnd }, TONES.A);
    const b = customerCalls({ kind: 'stay' });
    await stack.waitFor((e) => stack.events.indexOf(e) >= from && e.workNo === A.workNo && e.eventType === 'AgentEvent_Talking', 'A talking');
    const callId = stack.orchestrator.callStates()[0]?.callId as string;
    return { a, b, callId };
  }

  async function joined(callId: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (stack.supervision.view(callId)?.stage !== 'joined') {
      if (Date.now() > deadline) throw new Error(`supervisor never joined: ${JSON.stringify(stack.supervision.view(callId))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await stack.supervision.settle();
  }

  it('monitor, coach, barge and back to monitor on the same call (S rung once); S leaves: A and B talk on', async () => {
    const { a, b, callId } = await talking();
    expect(await ears([A.phone, B])).toEqual({ A: ['B'], B: ['A'] });
    const s = await phoneAt(S, { kind: 'answer', afterMs: 200, then: { kind: 'stay' } }, TONES.S);
    ok(await stack.supervision.start('901', callId, 'monitor', S.phone));
    await joined(callId);
    const channel = stack.channelOfPhone(S.phone);
    expect(await ears([A.phone, B, S.phone])).toEqual({ A: ['B'], B: ['A'], S: ['A', 'B'] });
    ok(await stack.supervision.switchMode('901', callId, 'coach'));
    expect(await ears([A.phone, B, S.phone])).toEqual({ A: ['B', 'S'], B: ['A'], S: ['A', 'B'] });
    ok(await stack.supervision.switchMode('901', callId, 'barge'));
    expect(await ears([A.phone, B, S.phone])).toEqual({ A: ['B', 'S'], B: ['A', 'S'], S: ['A', 'B'] });
    ok(await stack.supervision.switchMode('901', callId, 'monitor'));
    expect(await ears([A.phone, B, S.phone])).toEqual({ A: ['B'], B: ['A'], S: ['A', 'B'] });
    // The same channel all along: the supervisor's phone was never called again.
    expect(stack.channelOfPhone(S.phone)).toBe(channel);
    ok(await stack.supervision.leave('901', callId));
    await stack.supervision.settle();
    expect(await ears([A.phone, B])).toEqual({ A: ['B'], B: ['A'] });
    expect(stack.orchestrator.callStates()[0]?.phase.name).toBe('connected');
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b, s]);
  });

  it("coach from the start, then the supervisor's phone hangs up: A and B still hear each other, and only each other", async () => {
    const { a, b, callId } = await talking();
    const s = await phoneAt(S, { kind: 'answer', afterMs: 200, then: { kind: 'bye', afterMs: 4500 } }, TONES.S);
    ok(await stack.supervision.start('901', callId, 'coach', S.phone));
    await joined(callId);
    expect(await ears([A.phone, B])).toEqual({ A: ['B', 'S'], B: ['A'] });
    await everyoneDone([s]);
    const deadline = Date.now() + 5000;
    while (stack.supervision.view(callId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stack.supervision.view(callId)).toBeUndefined();
    expect(await ears([A.phone, B])).toEqual({ A: ['B'], B: ['A'] });
    ok(await stack.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await everyoneDone([a, b]);
  });

  it('the call ends while the supervisor barges: its phone is hung up too', async () => {
    const { a, b, callId } = await talking({ kind: 'bye', afterMs: 5000 });
    const s = await phoneAt(S, { kind: 'answer', afterMs: 200, then: { kind: 'stay' } }, TONES.S);
    ok(await stack.supervision.start('901', callId, 'barge', S.phone));
    await joined(callId);
    expect(await ears([B])).toEqual({ B: ['A', 'S'] });
    await everyoneDone([a, b, s]);
  });
});
