/**
 * The presence decider on its own: each rule by example, then fast-check driving random sequences of requests,
 * calls, offers that ring out and timers (current and stale) with the invariants checked after every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decidePresence, isAvailable, longestIdleFirst } from '../../src/core/presence/decide.js';
import type { AgentPresence, PresenceConfig, PresenceDecision, PresenceEvent, PresenceRequest } from '../../src/core/presence/types.js';

const CONFIG: PresenceConfig = { initialStatus: 'ready', wrapUpSeconds: 30 };

/** Runs events from "signed out", returning every decision. */
function run(events: PresenceEvent[], config: PresenceConfig = CONFIG): PresenceDecision[] {
  let state: AgentPresence | null = null;
  return events.map((event) => {
    const decision = decidePresence(state, event, config);
    state = decision.state;
    return decision;
  });
}
const last = (decisions: PresenceDecision[]): PresenceDecision => decisions[decisions.length - 1] as PresenceDecision;
const types = (d: PresenceDecision): string[] => d.events.map((e) => e.eventType);
const signIn = (at = 0): PresenceEvent => ({ type: 'SignedIn', workNo: '101', at });
const ask = (request: PresenceRequest, at = 0): PresenceEvent => ({ type: 'Request', request, at });

describe('presence decider', () => {
  it('a signed-in agent starts as configured; only a ready agent with no call is available', () => {
    const ready = last(run([signIn(5)])).state;
    expect(ready).toMatchObject({ status: 'ready', idleSince: 5 });
    expect(isAvailable(ready)).toBe(true);
    const notReady = last(run([signIn(5)], { initialStatus: 'not-ready', wrapUpSeconds: 0 })).state;
    expect(notReady).toMatchObject({ status: 'not-ready', idleSince: null });
    expect(isAvailable(notReady)).toBe(false);
    expect(isAvailable(undefined)).toBe(false);
  });

  it('saybusy carries its reason; sayfree ends it with the vendor events', () => {
    const busy = last(run([signIn(), ask({ kind: 'saybusy', reason: 201 }, 10)]));
    expect(busy.state).toMatchObject({ status: 'not-ready', reason: 201, idleSince: null });
    expect(busy.events).toEqual([{ workNo: '101', eventType: 'AgentState_SetNotReady_Success', content: { reason: 201 } }]);
    expect(busy.reply).toEqual({ ok: true, result: null });
    const free = last(run([signIn(), ask({ kind: 'saybusy', reason: 0 }), ask({ kind: 'sayfree' }, 40)]));
    expect(free.state).toMatchObject({ status: 'ready', idleSince: 40 });
    expect(types(free)).toEqual(['AgentState_CancelNotReady_Success', 'AgentState_Ready']);
  });

  it('cancelbusy and cancelrest are refused outside their state; sayfree when ready changes nothing', () => {
    expect(last(run([signIn(), ask({ kind: 'cancelbusy' })])).reply).toMatchObject({ ok: false, code: 'AGENT_NOT_BUSY' });
    expect(last(run([signIn(), ask({ kind: 'cancelrest' })])).reply).toMatchObject({ ok: false, code: 'AGENT_NOT_RESTING' });
    const again = last(run([signIn(3), ask({ kind: 'sayfree' }, 9)]));
    expect(again.events).toEqual([]);
    expect(again.state?.idleSince).toBe(3);
    expect(last(run([ask({ kind: 'sayfree' })])).reply).toMatchObject({ ok: false, code: 'AGENT_NOT_SIGNED_IN' });
  });

  it('rest starts a timer; when it runs out the vendor reminder comes, then ready', () => {
    const decisions = run([signIn(), ask({ kind: 'rest', seconds: 600, reason: 3 }, 10)]);
    const rest = last(decisions);
    // The deadline goes with the state (another instance ends the rest if this one dies): the event's time + 600 s.
    expect(rest.state).toMatchObject({ status: 'rest', reason: 3, timer: { purpose: 'rest', dueAt: 10 + 600_000 } });
    expect(rest.commands).toEqual([{ kind: 'startTimer', timerId: '101-p1', seconds: 600 }]);
    expect(rest.events[0]).toMatchObject({ eventType: 'AgentState_SetRest_Success', content: { reason: 3, time: 600 } });
    const over = decidePresence(rest.state, { type: 'TimerFired', timerId: '101-p1', at: 610 }, CONFIG);
    expect(types(over)).toEqual(['AgentState_Rest_Timeout', 'AgentState_Ready']);
    expect(over.state).toMatchObject({ status: 'ready', idleSince: 610, timer: null });
    // A stale timer (here: the same one again) changes nothing.
    expect(decidePresence(over.state, { type: 'TimerFired', timerId: '101-p1', at: 700 }, CONFIG)).toEqual({ state: over.state, commands: [], events: [] });
  });

  it('rest cannot start during a call; cancelrest ends it early and cancels its timer', () => {
    expect(last(run([signIn(), { type: 'CallsChanged', onCall: true, at: 1 }, ask({ kind: 'rest', seconds: 60, reason: 0 })])).reply).toMatchObject({ ok: false, code: 'AGENT_BUSY' });
    const cancelled = last(run([signIn(), ask({ kind: 'rest', seconds: 60, reason: 0 }), ask({ kind: 'cancelrest' }, 20)]));
    expect(cancelled.commands).toEqual([{ kind: 'cancelTimer', timerId: '101-p1' }]);
    expect(types(cancelled)).toEqual(['AgentState_CancelRest_Success', 'AgentState_Ready']);
  });

  it('a customer call ends in wrap-up for the configured time, or until the agent says free', () => {
    const onCall: PresenceEvent = { type: 'CallsChanged', onCall: true, at: 10 };
    const ended: PresenceEvent[] = [{ type: 'CustomerCallEnded', at: 50 }, { type: 'CallsChanged', onCall: false, at: 50 }];
    const decisions = run([signIn(), onCall, ...ended]);
    const wrapUp = decisions[2] as PresenceDecision;
    expect(types(wrapUp)).toEqual(['AgentState_Work']);
    expect(wrapUp.commands).toEqual([{ kind: 'startTimer', timerId: '101-p1', seconds: 30 }]);
    expect(last(decisions).state).toMatchObject({ status: 'wrap-up', onCall: false, idleSince: null, timer: { purpose: 'wrap-up', dueAt: 50 + 30_000 } });
    const done = decidePresence(last(decisions).state, { type: 'TimerFired', timerId: '101-p1', at: 80 }, CONFIG);
    expect(types(done)).toEqual(['AgentState_Ready']);
    expect(done.state).toMatchObject({ status: 'ready', idleSince: 80 });
    const early = decidePresence(last(decisions).state, ask({ kind: 'sayfree' }, 60), CONFIG);
    expect(early.commands).toEqual([{ kind: 'cancelTimer', timerId: '101-p1' }]);
    expect(early.state).toMatchObject({ status: 'ready', idleSince: 60 });
    // No wrap-up configured: ready, idle from the call's end.
    expect(last(run([signIn(), onCall, ...ended], { initialStatus: 'ready', wrapUpSeconds: 0 })).state).toMatchObject({ status: 'ready', idleSince: 50 });
    // An agent who said busy during the call stays not ready, without wrap-up.
    expect(last(run([signIn(), onCall, ask({ kind: 'saybusy', reason: 0 }), ...ended])).state).toMatchObject({ status: 'not-ready', timer: null });
  });

  it('an offer that rings out makes the agent not ready with the vendor reason 2', () => {
    const d = last(run([signIn(), { type: 'OfferUnanswered', at: 9 }]));
    expect(d.state).toMatchObject({ status: 'not-ready', reason: 2 });
    expect(d.events).toEqual([{ workNo: '101', eventType: 'AgentState_SetNotReady_Success', content: { reason: 2 } }]);
  });

  it('sign-out drops the state and cancels its timer; a second sign-in keeps the state', () => {
    const resting = last(run([signIn(), ask({ kind: 'rest', seconds: 60, reason: 0 })])).state;
    expect(decidePresence(resting, signIn(99), CONFIG).state).toBe(resting);
    expect(decidePresence(resting, { type: 'SignedOut', at: 5 }, CONFIG)).toEqual({ state: null, commands: [{ kind: 'cancelTimer', timerId: '101-p1' }], events: [] });
    expect(decidePresence(null, { type: 'CallsChanged', onCall: true, at: 1 }, CONFIG)).toEqual({ state: null, commands: [], events: [] });
  });

  it('longest idle first: available agents by idle time, ties and the unavailable in the order given', () => {
    const idle: Record<string, number | null> = { a: null, b: 30, c: 10, d: 30, e: null };
    const order = longestIdleFirst(['a', 'b', 'c', 'd', 'e'].map((workNo) => ({ workNo })), (w) => idle[w] ?? null);
    expect(order.map((x) => x.workNo)).toEqual(['c', 'b', 'd', 'a', 'e']);
  });
});

/* ------------------------------------------------------------------------------------------------ properties */

const REQUESTS: PresenceRequest[] = [
  { kind: 'saybusy', reason: 0 },
  { kind: 'saybusy', reason: 230 },
  { kind: 'sayfree' },
  { kind: 'cancelbusy' },
  { kind: 'rest', seconds: 60, reason: 1 },
  { kind: 'cancelrest' },
];

/** Every event worth trying now; `n` picks one, time moving on by `dt`. */
function nextEvent(state: AgentPresence | null, n: number, at: number): PresenceEvent {
  const events: PresenceEvent[] = [signIn(at), { type: 'SignedOut', at }, { type: 'CallsChanged', onCall: true, at }, { type: 'CallsChanged', onCall: false, at }];
  events.push({ type: 'CustomerCallEnded', at }, { type: 'OfferUnanswered', at }, { type: 'TimerFired', timerId: '101-p1', at });
  if (state?.timer) events.push({ type: 'TimerFired', timerId: state.timer.id, at }, { type: 'TimerFired', timerId: state.timer.id, at });
  for (const request of REQUESTS) events.push(ask(request, at));
  return events[n % events.length] as PresenceEvent;
}

describe('presence properties', () => {
  it('over random sequences: timers match states, idle time is honest, replies only to requests', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat({ max: 100 })), { minLength: 1, maxLength: 80 }), fc.constantFrom(0, 30), fc.constantFrom<'ready' | 'not-ready'>('ready', 'not-ready'), (steps, wrapUpSeconds, initialStatus) => {
        const config: PresenceConfig = { initialStatus, wrapUpSeconds };
        let state: AgentPresence | null = null;
        let at = 0;
        const running = new Set<string>();
        for (const [n, dt] of steps) {
          at += dt;
          const event = nextEvent(state, n, at);
          const decision = decidePresence(state, event, config);
          const next = decision.state;
          // Only requests get replies; every request gets one.
          expect(decision.reply !== undefined).toBe(event.type === 'Request');
          // The shell's timers mirror the state: one runs exactly while rest or wrap-up is timed.
          for (const c of decision.commands) {
            if (c.kind === 'startTimer') running.add(c.timerId);
            else {
              expect(running.has(c.timerId), `cancel of ${c.timerId} that does not run`).toBe(true);
              running.delete(c.timerId);
            }
          }
          if (event.type === 'TimerFired') running.delete(event.timerId);
          expect([...running]).toEqual(next?.timer ? [next.timer.id] : []);
          if (next) {
            expect(next.timer !== null).toBe(next.status === 'rest' || next.status === 'wrap-up');
            if (next.timer) expect(next.timer.purpose).toBe(next.status);
            // Idle time runs exactly while the agent is available, and never starts in the future.
            expect(next.idleSince !== null).toBe(isAvailable(next));
            if (next.idleSince !== null) expect(next.idleSince).toBeLessThanOrEqual(at);
            // Wrap-up only ever follows a customer call, and only when configured.
            if (next.status === 'wrap-up' && state?.status !== 'wrap-up') {
              expect(event.type).toBe('CustomerCallEnded');
              expect(wrapUpSeconds).toBeGreaterThan(0);
            }
          }
          // Every event names this agent; a change of state is always told.
          for (const e of decision.events) expect(e.workNo).toBe('101');
          if (state && next && state.status !== next.status) expect(decision.events.length).toBeGreaterThan(0);
          // Replaying a timer or a call change at once changes nothing.
          if (event.type === 'TimerFired' || event.type === 'CallsChanged' || event.type === 'SignedIn') {
            expect(decidePresence(next, event, config).state).toEqual(next);
          }
          state = next;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
