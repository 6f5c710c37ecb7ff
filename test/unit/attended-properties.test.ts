/**
 * Property tests of the handset's attended transfer (src/core/calls/attended.ts) over interleavings with hang-ups of
 * each party: A holds B on call c1 and talks with C on its second line (call c2); any of B, A's two lines, C (and
 * lost channels, duplicate hang-ups) may go before, after or between REFERs with Replaces in either direction. The
 * two calls are driven as the shell drives them: an event goes to the call that holds its leg now, an ended call
 * takes nothing, and a transfer over a call that is gone is refused as the shell refuses it.
 *
 * After every step: B, while up, hears A, C or hold music and is never alone with silence; no leg is live in two
 * calls; a refused transfer changes nothing; a transfer that is carried out leaves B and C bridged and A on no call.
 * When everyone has hung up, both calls are over.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideAttendedTransfer } from '../../src/core/calls/attended.js';
import { decide, initialState } from '../../src/core/decide.js';
import { mediaPlan } from '../../src/core/media-plan.js';
import type { CallEvent, CallState, CoreConfig, LegId } from '../../src/core/types.js';

const CONFIG: CoreConfig = { helpAnswerTimeoutSeconds: 20, offerAnswerTimeoutSeconds: 15, requeueSeconds: 10 };
const A = { workNo: '101', phone: '2001' };
const snap = (workNo: string, phone: string) => ({ workNo, phone, signedIn: true, busy: false, ready: true });

type Calls = Map<string, CallState>;

function run(state: CallState, event: CallEvent): CallState {
  return decide(state, event, CONFIG).state;
}

/** c1: B talks with A (leg c1-L2), held; c2: A's second line H talks with C (leg c2-L2). */
function opening(cStillRinging: boolean): Calls {
  let c1 = initialState('c1');
  c1 = run(c1, { type: 'CustomerArrived', leg: { id: 'B', number: '5550100' }, called: '4000', route: { kind: 'agent', workNo: '101' }, candidates: [snap('101', '2001')] });
  c1 = run(c1, { type: 'LegAnswered', legId: 'c1-L2' });
  c1 = run(c1, { type: 'Api', request: { kind: 'hold', workNo: '101' } });
  let c2 = initialState('c2');
  c2 = run(c2, { type: 'AgentPhoneCalled', agent: A, leg: { id: 'H' }, target: { kind: 'agent', workNo: '102', phone: '2002' } });
  if (!cStillRinging) c2 = run(c2, { type: 'LegAnswered', legId: 'c2-L2' });
  return new Map([
    ['c1', c1],
    ['c2', c2],
  ]);
}

const A1 = 'c1-L2';
const CLEG = 'c2-L2';

/** The live call that holds the leg now (the shell's index). */
function callOf(calls: Calls, legId: LegId): CallState | undefined {
  for (const state of calls.values()) if (state.phase.name !== 'ended' && state.legs[legId] && state.legs[legId].status !== 'gone') return state;
  for (const state of calls.values()) if (state.phase.name !== 'ended' && state.legs[legId]) return state;
  return undefined;
}

type Step = { kind: 'event'; event: CallEvent } | { kind: 'transfer'; referLeg: LegId; replacedLeg: LegId };

const STEPS: Step[] = [
  ...['B', A1, 'H', CLEG].flatMap((legId): Step[] => [
    { kind: 'event', event: { type: 'LegHungUp', legId } },
    { kind: 'event', event: { type: 'LegHungUp', legId, lost: true } },
  ]),
  { kind: 'event', event: { type: 'LegAnswered', legId: CLEG } },
  { kind: 'event', event: { type: 'LegFailed', legId: CLEG, reason: 'busy' } },
  { kind: 'event', event: { type: 'Api', request: { kind: 'gethold', workNo: '101', callid: null } } },
  { kind: 'transfer', referLeg: A1, replacedLeg: 'H' },
  { kind: 'transfer', referLeg: 'H', replacedLeg: A1 },
  { kind: 'transfer', referLeg: A1, replacedLeg: A1 },
];

/** Carries one step out as the shell would; returns whether a transfer was carried out. */
function step(calls: Calls, s: Step): boolean {
  if (s.kind === 'event') {
    const legId = s.event.type === 'Api' ? A1 : (s.event as { legId: LegId }).legId;
    const state = callOf(calls, legId);
    if (!state) return false;
    calls.set(state.callId, run(state, s.event));
    return false;
  }
  const refer = callOf(calls, s.referLeg);
  const replaced = callOf(calls, s.replacedLeg);
  if (!refer || !replaced) return false; // the shell: 481
  const before = new Map(calls);
  const outcome = decideAttendedTransfer(refer, replaced, { workNo: '101', referLeg: s.referLeg, replacedLeg: s.replacedLeg }, CONFIG);
  if (!outcome.ok) {
    expect(calls).toEqual(before);
    return false;
  }
  calls.set(outcome.givenUp.state.callId, outcome.givenUp.state);
  calls.set(outcome.kept.state.callId, outcome.kept.state);
  // No phone still on a call is hung up; both of A's lines are.
  const hungUp = [...outcome.givenUp.commands, ...outcome.kept.commands].flatMap((c) => (c.kind === 'hangup' ? [c.legId] : []));
  for (const legId of hungUp) expect(callOf(calls, legId)?.legs[legId]?.status ?? 'gone', `${legId} hung up while on a call`).toBe('gone');
  expect(hungUp.sort()).toEqual([s.referLeg, s.replacedLeg].sort());
  return true;
}

function checkInvariants(calls: Calls): void {
  const live = new Map<LegId, string>();
  for (const state of calls.values()) {
    if (state.phase.name === 'ended') {
      expect(Object.values(state.legs).filter((l) => l.status !== 'gone')).toEqual([]);
      continue;
    }
    const plan = mediaPlan(state);
    for (const leg of Object.values(state.legs)) {
      if (leg.status === 'gone') continue;
      expect(live.has(leg.id), `${leg.id} live in two calls`).toBe(false);
      live.set(leg.id, state.callId);
      if (leg.status !== 'up' || leg.role !== 'customer') continue;
      // B is up: it hears music, ringback, or someone who is up, never nothing.
      const media = plan.get(leg.id);
      expect(media, `customer ${leg.id} in silence`).toBeDefined();
      if (media?.kind === 'bridge') expect(state.legs[media.peer]?.status).toBe('up');
    }
  }
}

describe('attended transfer from a handset, interleaved with hang-ups', () => {
  it('never leaves B alone, never puts a leg in two calls, and ends both calls when everyone leaves', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.nat({ max: STEPS.length - 1 }), { maxLength: 10 }), fc.nat(), (cRinging, choices, orderSeed) => {
        const calls = opening(cRinging);
        checkInvariants(calls);
        for (const choice of choices) {
          const done = step(calls, STEPS[choice] as Step);
          checkInvariants(calls);
          if (done) {
            const c1 = calls.get('c1') as CallState;
            expect(c1.phase).toMatchObject({ name: 'connected', agent: CLEG, other: 'B', held: false });
            expect(calls.get('c2')?.phase.name).toBe('ended');
            expect(Object.values(c1.legs).filter((l) => l.workNo === '101' && l.status !== 'gone')).toEqual([]);
            expect(mediaPlan(c1).get('B')).toEqual({ kind: 'bridge', peer: CLEG });
          }
        }
        // Everyone still there hangs up (or, ringing, fails), in some order.
        const legs = ['B', A1, 'H', CLEG];
        for (let i = 0; i < legs.length; i++) {
          const legId = legs[(i + orderSeed) % legs.length] as LegId;
          const state = callOf(calls, legId);
          const leg = state?.legs[legId];
          if (!state || !leg || leg.status === 'gone') continue;
          calls.set(state.callId, run(state, leg.status === 'up' ? { type: 'LegHungUp', legId } : { type: 'LegFailed', legId, reason: 'no-answer' }));
          checkInvariants(calls);
        }
        for (const state of calls.values()) expect(state.phase.name).toBe('ended');
      }),
      { numRuns: 3000 },
    );
  });
});
