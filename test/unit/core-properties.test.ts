/**
 * Property-based tests of the pure core: random sequences of answers, failures, hang-ups by any party, API requests
 * by any agent, timer expiries (current and stale) and duplicated events, with the invariants checked after every
 * step. Events are generated from the current state (each step draws an index into the events that make sense
 * now, plus some that do not), so the sequences reach deep into help sessions instead of dying at the start.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agentsOnCall, decide, initialState } from '../../src/core/decide.js';
import { mediaPlan } from '../../src/core/media-plan.js';
import type { AgentSnapshot, CallEvent, CallState, CoreConfig, Decision, FailureReason, Leg } from '../../src/core/types.js';

// Skill s overflows to t after its maximum wait; t ends the call with 486 after its own.
const CONFIG: CoreConfig = {
  helpAnswerTimeoutSeconds: 20,
  offerAnswerTimeoutSeconds: 15,
  requeueSeconds: 10,
  queues: {
    s: { maxWaitSeconds: 30, treatment: { kind: 'overflow', skill: 't' } },
    t: { maxWaitSeconds: 30, treatment: { kind: 'reject', sipStatus: 486 } },
  },
};
const AGENTS = [
  { workNo: '101', phone: '2001' },
  { workNo: '102', phone: '2002' },
  { workNo: '103', phone: '2003' },
];
const REASONS: FailureReason[] = ['busy', 'rejected', 'no-answer', 'unreachable', 'error'];

/** Agents away from the desk: signed out, or signed in but not ready (not ready, rest, wrap-up). */
interface Away {
  readonly signedOut: ReadonlySet<string>;
  readonly notReady: ReadonlySet<string>;
}
const NOBODY_AWAY: Away = { signedOut: new Set(), notReady: new Set() };

function snapshots(state: CallState, away: Away): AgentSnapshot[] {
  const busy = agentsOnCall(state);
  return AGENTS.map((a) => ({ ...a, signedIn: !away.signedOut.has(a.workNo), busy: busy.has(a.workNo), ready: !away.notReady.has(a.workNo) }));
}

/**
 * Every event worth trying in this state, sensible or not, in groups: a step first draws a group, then an event
 * in it, so that phone events are not drowned by the many API requests.
 */
function possibleEvents(state: CallState, signedOut: Away): CallEvent[][] {
  const phones: CallEvent[] = [];
  const others: CallEvent[] = [];
  const api: CallEvent[] = [];
  const candidates = snapshots(state, signedOut);
  if (state.phase.name === 'new') {
    const events: CallEvent[] = [];
    events.push({ type: 'CustomerArrived', leg: { id: 'B', number: '5550100' }, called: '4001', route: { kind: 'skill', skill: 's' }, candidates });
    events.push({ type: 'CustomerArrived', leg: { id: 'B', number: '5550100' }, called: '4000', route: { kind: 'agent', workNo: '101' }, candidates: candidates.slice(0, 1) });
    events.push({ type: 'AgentDialled', agent: { workNo: '101', phone: '2001' }, target: { kind: 'agent', workNo: '102', phone: '2002' } });
    events.push({ type: 'AgentDialled', agent: { workNo: '101', phone: '2001' }, target: { kind: 'customer', number: '5550100' } });
    events.push({ type: 'AgentPhoneCalled', agent: { workNo: '101', phone: '2001' }, leg: { id: 'H' }, target: { kind: 'agent', workNo: '102', phone: '2002' } });
    events.push({ type: 'AgentPhoneCalled', agent: { workNo: '101', phone: '2001' }, leg: { id: 'H' }, target: { kind: 'customer', number: '5550100' } });
    return [events];
  }
  const events = phones;
  for (const leg of Object.values(state.legs)) {
    events.push({ type: 'LegRinging', legId: leg.id });
    events.push({ type: 'LegAnswered', legId: leg.id });
    events.push({ type: 'LegAnswered', legId: leg.id });
    for (const reason of REASONS) events.push({ type: 'LegFailed', legId: leg.id, reason });
    events.push({ type: 'LegHungUp', legId: leg.id });
    events.push({ type: 'LegHungUp', legId: leg.id, lost: true });
  }
  others.push({ type: 'LegAnswered', legId: 'unknown-leg' });
  if (state.timer) others.push({ type: 'TimerFired', timerId: state.timer.id });
  if (state.timer) others.push({ type: 'TimerFired', timerId: state.timer.id });
  if (state.queueTimer) others.push({ type: 'TimerFired', timerId: state.queueTimer.id });
  others.push({ type: 'TimerFired', timerId: `${state.callId}-t1` });
  others.push({ type: 'AgentsAvailable', candidates });
  const callIds = new Set<string>([state.callId, 'nonsense']);
  for (const leg of Object.values(state.legs)) for (const id of leg.callIds) callIds.add(id);
  const numbers = new Set<string>(['0000']);
  for (const leg of Object.values(state.legs)) {
    numbers.add(leg.number);
    if (leg.workNo) numbers.add(leg.workNo);
  }
  // Requests come from the agents on the call, and from one who is not.
  const requesters = new Set(Object.values(state.legs).filter((l) => l.workNo !== undefined && live(l)).map((l) => l.workNo as string));
  requesters.add('103');
  for (const workNo of requesters) {
    for (const mode of [1, 2] as const) {
      for (const helper of AGENTS) api.push({ type: 'Api', request: { kind: 'innerhelp', workNo, mode, helper: { kind: 'agent', workNo: helper.workNo }, candidates: candidates.filter((c) => c.workNo === helper.workNo), callappdata: '' } });
      api.push({ type: 'Api', request: { kind: 'innerhelp', workNo, mode, helper: { kind: 'skill', skill: 's' }, candidates, callappdata: '' } });
    }
    api.push({ type: 'Api', request: { kind: 'innerhelp', workNo, mode: 1, helper: { kind: 'agent', workNo: '999' }, candidates: [], callappdata: '' } });
    api.push({ type: 'Api', request: { kind: 'innerhelp', workNo, mode: 2, helper: { kind: 'skill', skill: 'nobody' }, candidates: [], callappdata: '' } });
    for (const callid of callIds) {
      api.push({ type: 'Api', request: { kind: 'dropcall', workNo, callid } });
      api.push({ type: 'Api', request: { kind: 'confjoin', workNo, callid } });
      api.push({ type: 'Api', request: { kind: 'gethold', workNo, callid } });
    }
    for (const number of numbers) api.push({ type: 'Api', request: { kind: 'disconnect', workNo, number } });
    api.push({ type: 'Api', request: { kind: 'hold', workNo } });
    api.push({ type: 'Api', request: { kind: 'gethold', workNo, callid: null } });
    api.push({ type: 'Api', request: { kind: 'release', workNo } });
    for (const fromPhone of [true, false]) {
      for (const to of candidates) api.push({ type: 'Api', request: { kind: 'transfer', workNo, to: { kind: 'agent', workNo: to.workNo, snapshot: to }, fromPhone } });
      api.push({ type: 'Api', request: { kind: 'transfer', workNo, to: { kind: 'agent', workNo: '999', snapshot: undefined }, fromPhone } });
      api.push({ type: 'Api', request: { kind: 'transfer', workNo, to: { kind: 'number', number: '5550199' }, fromPhone } });
      api.push({ type: 'Api', request: { kind: 'transfer', workNo, to: { kind: 'number', number: 'not-a-number' }, fromPhone } });
      api.push({ type: 'Api', request: { kind: 'transfer', workNo, to: { kind: 'skill', skill: 's', candidates }, fromPhone } });
      api.push({ type: 'Api', request: { kind: 'transfer', workNo, to: { kind: 'skill', skill: 't', candidates: candidates.slice(2) }, fromPhone } });
      api.push({ type: 'Api', request: { kind: 'transfer', workNo, to: { kind: 'skill', skill: 'nobody', candidates: [] }, fromPhone } });
    }
  }
  return [phones, others, api];
}

/** Canned openings that bring a call deep into help at once; random steps go on from there. */
type Step = (state: CallState) => CallEvent;
const ringingLeg = (state: CallState): string => (Object.values(state.legs).find((l) => l.status === 'dialing' || l.status === 'ringing') as Leg).id;
const arrive: Step = (state) => ({
  type: 'CustomerArrived',
  leg: { id: 'B', number: '5550100' },
  called: '4001',
  route: { kind: 'skill', skill: 's' },
  candidates: snapshots(state, NOBODY_AWAY),
});
const answer: Step = (state) => ({ type: 'LegAnswered', legId: ringingLeg(state) });
const help =
  (mode: 1 | 2): Step =>
  (state) => ({
    type: 'Api',
    request: { kind: 'innerhelp', workNo: '101', mode, helper: { kind: 'agent', workNo: '102' }, candidates: snapshots(state, NOBODY_AWAY).filter((c) => c.workNo === '102'), callappdata: 'x' },
  });
const transfer =
  (to: 'agent' | 'number'): Step =>
  (state) => ({
    type: 'Api',
    request: {
      kind: 'transfer',
      workNo: '101',
      to: to === 'agent' ? { kind: 'agent', workNo: '102', snapshot: snapshots(state, NOBODY_AWAY).find((c) => c.workNo === '102') } : { kind: 'number', number: '5550199' },
      fromPhone: true,
    },
  });
const OPENINGS: Record<string, Step[]> = {
  none: [],
  transferring: [arrive, answer, transfer('agent')],
  heldTransferring: [arrive, answer, () => ({ type: 'Api', request: { kind: 'hold', workNo: '101' } }), transfer('agent')],
  transferringOut: [arrive, answer, transfer('number')],
  skillQueued: [
    arrive,
    answer,
    (state) => ({ type: 'Api', request: { kind: 'transfer', workNo: '101', to: { kind: 'skill', skill: 't', candidates: snapshots(state, NOBODY_AWAY) }, fromPhone: true } }),
  ],
  trunked: [arrive, answer, transfer('number'), answer],
  talking: [arrive, answer],
  held: [arrive, answer, () => ({ type: 'Api', request: { kind: 'hold', workNo: '101' } })],
  helpRinging1: [arrive, answer, help(1)],
  helpRinging2: [arrive, answer, help(2)],
  helpTalking: [arrive, answer, help(1), answer],
  conference: [arrive, answer, help(2), answer],
  internal: [() => ({ type: 'AgentDialled', agent: { workNo: '101', phone: '2001' }, target: { kind: 'agent', workNo: '102', phone: '2002' } }), answer],
  outbound: [() => ({ type: 'AgentDialled', agent: { workNo: '101', phone: '2001' }, target: { kind: 'customer', number: '5550100' } }), answer, answer],
  handsetInternal: [() => ({ type: 'AgentPhoneCalled', agent: { workNo: '101', phone: '2001' }, leg: { id: 'H' }, target: { kind: 'agent', workNo: '102', phone: '2002' } }), answer],
  handsetOutbound: [() => ({ type: 'AgentPhoneCalled', agent: { workNo: '101', phone: '2001' }, leg: { id: 'H' }, target: { kind: 'customer', number: '5550100' } }), answer],
};

/** A call brought through an opening, with the releases sent and what its agents' desktops hold open. */
interface Opened {
  readonly state: CallState;
  readonly releases: Set<string>;
  readonly desktops: Map<string, Set<string>>;
}

function open(name: string): Opened {
  let state = initialState('call');
  const releases = new Set<string>();
  const desktops = new Map<string, Set<string>>();
  for (const step of OPENINGS[name] as Step[]) {
    const decision = decide(state, step(state), CONFIG);
    checkInvariants(state, decision, releases, NOBODY_AWAY, desktops);
    state = decision.state;
  }
  return { state, releases, desktops };
}

function pick(groups: CallEvent[][], choice: number): CallEvent {
  const group = groups[choice % groups.length] as CallEvent[];
  return group[Math.floor(choice / groups.length) % group.length] as CallEvent;
}

/** Legs that are (or may become) in contact with others. */
const live = (leg: Leg | undefined): boolean => leg !== undefined && leg.status !== 'gone';

/** Agent events that show the desktop a call id (it then tracks that call until its AgentEvent_Call_Release). */
const SHOWING = new Set<string>(['AgentEvent_Ringing', 'AgentEvent_Customer_Alerting', 'AgentEvent_Talking', 'AgentEvent_Conference']);

/** The agent's leg on this call that is not over (an agent is on a call at most once at a time). */
const liveLegOf = (state: CallState, workNo: string): Leg | undefined => Object.values(state.legs).find((l) => l.workNo === workNo && live(l));

/**
 * A desktop that tracks calls by id, per agent leg (leg ids are never reused): a call id is opened by an event that
 * shows it (Ringing, Customer_Alerting, Talking, Conference) and closed by its AgentEvent_Call_Release. After every
 * step, each id still open must be one the agent is still on: its leg live, the call not ended, and the id one the
 * leg still knows (help over, transfer to C, customer gone: the id is left, so it must have been released).
 */
function trackDesktops(before: CallState, decision: Decision, desktops: Map<string, Set<string>>): void {
  const state = decision.state;
  for (const e of decision.events) {
    if (e.eventType === 'AgentEvent_Call_Release') {
      const leg = liveLegOf(before, e.workNo) as Leg;
      desktops.get(leg.id)?.delete(String(e.content));
      continue;
    }
    if (!SHOWING.has(e.eventType) || typeof e.content !== 'object' || e.content === null) continue;
    const leg = liveLegOf(state, e.workNo) ?? liveLegOf(before, e.workNo);
    expect(leg, `${e.eventType} to ${e.workNo}, who has no live leg`).toBeDefined();
    const key = (leg as Leg).id;
    desktops.set(key, new Set([...(desktops.get(key) ?? []), String(e.content.callid)]));
  }
  for (const [legId, open] of desktops) {
    const leg = state.legs[legId] as Leg;
    const on = leg.status !== 'gone' && state.phase.name !== 'ended';
    for (const callid of open) expect(on && leg.callIds.includes(callid), `stale call id: ${leg.workNo} (${legId}) was shown ${callid} and never released`).toBe(true);
  }
}

/** `desktops`: per agent leg, the call ids its desktop holds open (see trackDesktops). */
function checkInvariants(before: CallState, decision: Decision, releases: Set<string>, away: Away, desktops: Map<string, Set<string>>): void {
  const state = decision.state;
  const legs = Object.values(state.legs);
  const plan = mediaPlan(state);

  // Every up leg hears something chosen on purpose, and only up legs are in the plan.
  for (const leg of legs) expect(plan.has(leg.id), `up leg ${leg.id} has media`).toBe(leg.status === 'up' && state.phase.name !== 'ended');

  // A customer still on the line talks to an agent or hears hold music / ringback: never silence.
  for (const leg of legs.filter((l) => l.role === 'customer' && l.status === 'up')) {
    const media = plan.get(leg.id);
    expect(media?.kind, `customer media in phase ${state.phase.name}`).toMatch(/^(bridge|room|moh|ringback)$/);
  }

  // Every connected pair is a legal pair: both up, mutual, never two customers.
  for (const [legId, media] of plan) {
    if (media.kind === 'bridge') {
      const peer = state.legs[media.peer];
      expect(peer?.status).toBe('up');
      expect(plan.get(media.peer)).toEqual({ kind: 'bridge', peer: legId });
      // Two customers talk only after a blind transfer to an outside number, with no agent left on the call.
      if (state.legs[legId]?.role === 'customer' && peer?.role === 'customer') expect(state.phase.name).toBe('trunked');
    }
    if (media.kind === 'room') {
      const members = [...plan.values()].filter((m) => m.kind === 'room' && m.room === media.room);
      expect(members.length).toBeGreaterThanOrEqual(2);
    }
  }

  // Every agent leg that ended got its release events, each of its call ids exactly once over its life (the same
  // agent may be offered the same call again later, on a new leg, and is then released again).
  for (const e of decision.events.filter((x) => x.eventType === 'AgentEvent_Call_Release')) {
    const leg = Object.values(before.legs).find((l) => l.workNo === e.workNo && live(l));
    expect(leg, `release of ${e.workNo} who had no live leg`).toBeDefined();
    const key = `${(leg as Leg).id}/${String(e.content)}`;
    expect(releases.has(key), `duplicate release ${key}`).toBe(false);
    releases.add(key);
  }
  for (const leg of Object.values(before.legs)) {
    if (leg.workNo === undefined || leg.status === 'gone' || state.legs[leg.id]?.status !== 'gone') continue;
    for (const callid of leg.callIds) expect(releases.has(`${leg.id}/${callid}`), `release of ${leg.workNo} for ${callid}`).toBe(true);
  }

  // No stale call ids: a desktop holds open (shown, not released since) only call ids its agent is still on; an
  // agent that left a call id, or whose leg or call ended, got that id's AgentEvent_Call_Release.
  trackDesktops(before, decision, desktops);

  // An agent is in a call at most once.
  const agentsLive = legs.filter((l) => l.workNo !== undefined && live(l)).map((l) => l.workNo);
  expect(new Set(agentsLive).size).toBe(agentsLive.length);

  // Once every party has gone, the call is over with nothing pending; an ended call has no live party.
  const allGone = legs.length > 0 && legs.every((l) => l.status === 'gone');
  if (allGone) {
    expect(state.phase.name).toBe('ended');
    expect(state.timer).toBeNull();
  }
  if (state.phase.name === 'ended') expect(allGone).toBe(true);

  // A timer runs exactly while someone is being waited for.
  const waiting = ['originating', 'offering', 'queued', 'transferring'].includes(state.phase.name) || (state.phase.name === 'help' && state.phase.help.stage === 'ringing');
  expect(state.timer !== null).toBe(waiting);

  // A queue's maximum wait runs only while its customer waits for a first agent, and only on a skill route.
  if (state.queueTimer !== null) {
    expect(['queued', 'offering']).toContain(state.phase.name);
    expect(state.route?.kind).toBe('skill');
  }
  if (state.waitedTooLong) expect(state.phase.name).toBe('offering');

  // Nobody who is not ready (or signed out) is ever offered a customer call (feature 0) or a help request (3);
  // internal calls are the caller's choice, checked by the shell.
  const offers = decision.events.filter((x) => x.eventType === 'AgentEvent_Ringing' && typeof x.content === 'object' && x.content !== null && x.content.feature !== 1);
  for (const e of offers) {
    const agent = away.signedOut.has(e.workNo) || away.notReady.has(e.workNo);
    expect(agent, `${e.workNo} rung while away`).toBe(false);
  }

  // A customer ended by the queue's treatment hears its final status; nobody else is ended with one.
  for (const c of decision.commands) {
    if (c.kind === 'hangup' && c.sipStatus !== undefined) {
      expect(before.legs[c.legId]?.role).toBe('customer');
      expect(c.sipStatus).toBe(486);
      expect(state.phase.name).toBe('ended');
    }
  }

  // Presence notices name agents of this call only.
  for (const n of decision.presence) expect(Object.values(before.legs).some((l) => l.workNo === n.workNo)).toBe(true);

  // The phase only names legs in a state that fits it.
  const phase = state.phase;
  const status = (id: string): string | undefined => state.legs[id]?.status;
  if (phase.name === 'connected') {
    expect(status(phase.agent)).toBe('up');
    expect(status(phase.other)).toBe('up');
  }
  if (phase.name === 'offering') {
    expect(status(phase.waiting)).toBe('up');
    expect(['dialing', 'ringing']).toContain(status(phase.target));
  }
  if (phase.name === 'help') {
    const h = phase.help;
    expect(status(h.customer)).toBe('up');
    expect(status(h.owner)).toBe(h.ownerGone ? 'gone' : 'up');
    expect(h.stage === 'ringing' ? ['dialing', 'ringing'] : ['up']).toContain(status(h.helper));
  }
  if (phase.name === 'transferring') {
    const t = phase.transfer;
    expect(status(t.customer)).toBe('up');
    expect(status(t.transferor)).toBe(t.transferorGone ? 'gone' : 'up');
    expect(['dialing', 'ringing']).toContain(status(t.target));
  }
  if (phase.name === 'trunked') {
    expect(status(phase.customer)).toBe('up');
    expect(status(phase.outside)).toBe('up');
    expect(legs.filter((l) => l.workNo !== undefined && l.status !== 'gone')).toEqual([]);
  }

  // A transfer is reported only to the phone of the agent who asked for it, while that phone is still there, and
  // a final report (>= 200) is the last one the phone gets.
  for (const c of decision.commands) {
    if (c.kind !== 'reportTransfer') continue;
    // A transfer done at once (to a skill queue) is reported from the call as it was: the agent who asked.
    const asker = before.phase.name === 'transferring' ? before.phase.transfer : before.phase.name === 'connected' ? { transferor: before.phase.agent, transferorGone: false } : undefined;
    expect(asker?.transferor, 'reportTransfer outside a transfer').toBe(c.legId);
    expect(asker?.transferorGone).toBe(false);
    expect(decision.commands.filter((x) => x.kind === 'reportTransfer' && x.sipStatus >= 200).length).toBeLessThanOrEqual(1);
  }
}

describe('core properties', () => {
  it('holds every invariant, and replaying any event changes nothing, over random sequences', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 1_000_000 }), { minLength: 1, maxLength: 60 }),
        fc.subarray(['101', '102', '103']),
        fc.subarray(['101', '102', '103']),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        fc.constantFrom(...Object.keys(OPENINGS)),
        (choices, signedOutList, notReadyList, duplicate, opening) => {
          const signedOut: Away = { signedOut: new Set(signedOutList), notReady: new Set(notReadyList) };
          const opened = open(opening);
          let state = opened.state;
          const { releases, desktops } = opened;
          choices.forEach((choice, step) => {
            const event = pick(possibleEvents(state, signedOut), choice);
            const decision = decide(state, event, CONFIG);
            if (process.env.CORE_TRACE) console.log(JSON.stringify(event), '=>', decision.state.phase.name, JSON.stringify(decision.events.map((e) => [e.workNo, e.eventType, e.content])));
            if (event.type === 'Api') expect(decision.reply).toBeDefined();
            else expect(decision.reply).toBeUndefined();
            checkInvariants(state, decision, releases, signedOut, desktops);
            // Replaying the same event at once changes nothing.
            const replay = decide(decision.state, event, CONFIG);
            expect(replay.state).toEqual(decision.state);
            expect(replay.events.filter((e) => e.eventType === 'AgentEvent_Call_Release' || SHOWING.has(e.eventType))).toEqual([]);
            // Sometimes the duplicate is really delivered: it must be harmless to go on from there.
            state = duplicate[step] ? replay.state : decision.state;
          });
        },
      ),
      { numRuns: 4000 },
    );
    // A cap, not a timed assertion: a loaded machine (several test runs at once) takes longer than the default.
  }, 120_000);

  it('ends every call cleanly when all its parties hang up, in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 }), { minLength: 1, maxLength: 40 }), fc.nat(), fc.constantFrom(...Object.keys(OPENINGS)), (choices, orderSeed, opening) => {
        const opened = open(opening);
        let state = opened.state;
        const { releases, desktops } = opened;
        for (const choice of choices) {
          const decision = decide(state, pick(possibleEvents(state, NOBODY_AWAY), choice), CONFIG);
          checkInvariants(state, decision, releases, NOBODY_AWAY, desktops);
          state = decision.state;
        }
        // Now everyone still there hangs up (up legs) or fails (ringing legs), in a random order.
        const remaining = Object.values(state.legs).filter(live);
        const order = remaining.map((l, i) => remaining[(i + orderSeed) % remaining.length] as Leg);
        for (const leg of order) {
          const current = state.legs[leg.id];
          if (!current || current.status === 'gone') continue;
          const event: CallEvent = current.status === 'up' ? { type: 'LegHungUp', legId: leg.id } : { type: 'LegFailed', legId: leg.id, reason: 'no-answer' };
          const decision = decide(state, event, CONFIG);
          checkInvariants(state, decision, releases, NOBODY_AWAY, desktops);
          state = decision.state;
        }
        // A customer whose agents left may be waiting in the queue, or rung to a new agent: that is not "over".
        const stillLive = Object.values(state.legs).filter(live);
        if (stillLive.length === 0 && Object.keys(state.legs).length > 0) expect(state.phase.name).toBe('ended');
        else for (const leg of stillLive) expect(leg.role === 'customer' || ['dialing', 'ringing'].includes(leg.status)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  }, 120_000);
});
