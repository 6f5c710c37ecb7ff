/**
 * Driving the call decider by hand for the calls-*.test.ts files: one call, fed events one at a time, with the last
 * decision kept, and openings that bring it to the usual places (an agent talking with a customer, help asked).
 * Ids are the decider's own, deterministic: the call is `c`, the customer's leg `B`, the first agent's leg `c-L2`.
 */
import { expect } from 'vitest';
import { decide, initialState } from '../../src/core/decide.js';
import type { AgentEventType, AgentSnapshot, ApiRequest, CallEvent, CallState, Command, CoreConfig, Decision, LegId, Route } from '../../src/core/types.js';

/** Skill s overflows to t after 30 s; t ends the call with 486 after its own 30 s. */
export const CONFIG: CoreConfig = {
  helpAnswerTimeoutSeconds: 20,
  offerAnswerTimeoutSeconds: 15,
  requeueSeconds: 10,
  queues: {
    s: { maxWaitSeconds: 30, treatment: { kind: 'overflow', skill: 't' } },
    t: { maxWaitSeconds: 30, treatment: { kind: 'reject', sipStatus: 486 } },
  },
};

export const CUSTOMER = '5550100';

/** Agent 101 has phone 2001, 102 has 2002, …: signed in, ready and free unless told otherwise. */
export function agent(workNo: string, over: Partial<AgentSnapshot> = {}): AgentSnapshot {
  return { workNo, phone: String(Number(workNo) + 1900), signedIn: true, busy: false, ready: true, ...over };
}

export function arrive(candidates: readonly AgentSnapshot[], route: Route = { kind: 'agent', workNo: '101' }): CallEvent {
  return { type: 'CustomerArrived', leg: { id: 'B', number: CUSTOMER }, called: '4000', route, candidates };
}

export const api = (request: ApiRequest): CallEvent => ({ type: 'Api', request });

export class Call {
  state: CallState;
  last!: Decision;

  constructor(events: readonly CallEvent[] = []) {
    this.state = initialState('c');
    for (const event of events) this.on(event);
  }

  on(event: CallEvent): Decision {
    this.last = decide(this.state, event, CONFIG);
    this.state = this.last.state;
    return this.last;
  }

  /** The live leg of this agent (or of the customer, for `B`). */
  legOf(workNo: string): LegId {
    if (workNo === 'B') return 'B';
    const leg = Object.values(this.state.legs).find((l) => l.workNo === workNo && l.status !== 'gone');
    if (!leg) throw new Error(`no live leg for ${workNo}`);
    return leg.id;
  }

  answer(workNo: string): Decision {
    return this.on({ type: 'LegAnswered', legId: this.legOf(workNo) });
  }

  ring(workNo: string): Decision {
    return this.on({ type: 'LegRinging', legId: this.legOf(workNo) });
  }

  hangUp(workNo: string, lost = false): Decision {
    return this.on({ type: 'LegHungUp', legId: this.legOf(workNo), ...(lost ? { lost } : {}) });
  }

  /** The pending timer (or the queue timer) runs out. */
  timeout(which: 'timer' | 'queueTimer' = 'timer'): Decision {
    const timer = this.state[which];
    if (!timer) throw new Error(`no ${which}`);
    return this.on({ type: 'TimerFired', timerId: timer.id });
  }
}

/** Customer B talks with agent 101 (leg c-L2). */
export function talking(): Call {
  const call = new Call([arrive([agent('101')])]);
  call.answer('101');
  return call;
}

/** B talks with 101, who asked 102 for help (mode 1: two-party, 2: three-party); 102 rings. */
export function helpAsked(mode: 1 | 2): Call {
  const call = talking();
  call.on(api({ kind: 'innerhelp', workNo: '101', mode, helper: { kind: 'agent', workNo: '102' }, candidates: [agent('102')], callappdata: 'x' }));
  return call;
}

/** Each agent event as [workNo, event type]. */
export const events = (d: Decision): [string, AgentEventType][] => d.events.map((e) => [e.workNo, e.eventType]);

/** The event of that type (the first), to look at its content. */
export function eventOf(d: Decision, workNo: string, type: AgentEventType): unknown {
  return d.events.find((e) => e.workNo === workNo && e.eventType === type)?.content;
}

/** Each request, made to a call where A talks with B, is refused with its code and leaves the state as it was. */
export function expectRefusedFromTalking(cases: readonly (readonly [ApiRequest, string])[]): void {
  for (const [request, code] of cases) {
    const call = talking();
    const before = call.state;
    const d = call.on(api(request));
    expect(d.reply, code).toMatchObject({ ok: false, code });
    expect(d.state).toBe(before);
  }
}

export const kinds = (d: Decision): Command['kind'][] => d.commands.map((c) => c.kind);
