/**
 * Routing: how a call starts and finds its agent. A customer who arrives is offered to the first free agent or
 * queued with music (skill queues may have a maximum wait, then overflow or end); an agent who dials (callinner,
 * callout, or its handset) has its own phone rung first, then the target. What an offer's answer, failure and
 * ringing mean is decided here too; the leg events that lead to them are dispatched in legs.ts.
 */
import type { AgentSnapshot, CallEvent, DialTarget, Leg, LegId, QueuePolicy, Route } from '../types.js';
import { CallFeature, type Draft, type Offering } from './draft.js';

export function customerArrived(d: Draft, event: Extract<CallEvent, { type: 'CustomerArrived' }>): void {
  if (d.s.phase.name !== 'new') return;
  d.update({ kind: 'customer', called: event.called, route: event.route });
  const customer = d.addLeg('customer', event.leg.number, undefined, 'up', event.leg.id);
  startQueueTimer(d);
  const agent = pickAgent(d, event.candidates);
  if (agent) offer(d, customer, agent, 'ringback');
  else queue(d, customer, false);
}

/** callinner / callout from the API: the agent's own phone is rung first. */
export function agentDialled(d: Draft, event: Extract<CallEvent, { type: 'AgentDialled' }>): void {
  if (d.s.phase.name !== 'new') return;
  const origin = originate(d, event, 'dialing', undefined);
  d.dial(origin, event.target.kind === 'agent' ? event.target.workNo : event.target.number);
  d.startTimer('origin-answer', d.config.offerAnswerTimeoutSeconds);
}

/** The agent's handset called out by itself: its leg is already up, the target is rung at once. */
export function agentPhoneCalled(d: Draft, event: Extract<CallEvent, { type: 'AgentPhoneCalled' }>): void {
  if (d.s.phase.name !== 'new') return;
  const origin = originate(d, event, 'up', event.leg.id);
  originAnswered(d, origin, event.target);
}

function originate(d: Draft, event: Extract<CallEvent, { type: 'AgentDialled' | 'AgentPhoneCalled' }>, status: Leg['status'], legId: LegId | undefined): LegId {
  const kind = event.target.kind === 'agent' ? 'internal' : 'outbound';
  // An outbound call's customer belongs to the agent who called: that is where it goes back if help fails.
  const route: Route | null = kind === 'outbound' ? { kind: 'agent', workNo: event.agent.workNo } : null;
  d.update({ kind, route, called: event.target.kind === 'agent' ? event.target.workNo : event.target.number });
  const origin = d.addLeg('agent', event.agent.phone, event.agent.workNo, status, legId);
  d.setPhase({ name: 'originating', origin, target: event.target });
  return origin;
}

/** The agent's own phone answered an agent-initiated call: now ring the target, the agent hearing ringback. */
export function originAnswered(d: Draft, originId: LegId, target: DialTarget): void {
  d.clearTimer();
  const origin = d.leg(originId);
  let targetLeg: LegId;
  if (target.kind === 'agent') {
    targetLeg = d.addLeg('agent', target.phone, target.workNo, 'dialing');
    d.emit(target.workNo, 'AgentEvent_Ringing', {
      callid: d.s.callId,
      caller: origin.workNo as string,
      called: target.workNo,
      feature: CallFeature.internal,
    });
  } else {
    targetLeg = d.addLeg('customer', target.number, undefined, 'dialing');
  }
  d.setPhase({ name: 'offering', waiting: originId, target: targetLeg, waitingHears: 'ringback' });
  d.dial(targetLeg, origin.number);
  d.startTimer('offer-answer', d.config.offerAnswerTimeoutSeconds);
}

/** The agent's own phone did not answer: its call fails. */
export function originFailed(d: Draft, origin: Leg): void {
  d.clearTimer();
  d.emit(origin.workNo as string, 'AgentEvent_Inside_Call_Fail', d.s.callId);
  d.endCall();
}

/** First signed-in, ready, free agent that has not declined this call (the shell lists the longest idle first). */
function pickAgent(d: Draft, candidates: readonly AgentSnapshot[]): AgentSnapshot | undefined {
  return candidates.find((c) => c.signedIn && c.ready && !c.busy && !d.s.declinedBy.includes(c.workNo));
}

function offer(d: Draft, customer: LegId, agent: AgentSnapshot, waitingHears: 'ringback' | 'moh'): void {
  const target = d.addLeg('agent', agent.phone, agent.workNo, 'dialing');
  d.setPhase({ name: 'offering', waiting: customer, target, waitingHears });
  d.dial(target, d.leg(customer).number);
  d.startTimer('offer-answer', d.config.offerAnswerTimeoutSeconds);
  d.emit(agent.workNo, 'AgentEvent_Ringing', {
    callid: d.s.callId,
    caller: d.leg(customer).number,
    called: d.s.called,
    feature: CallFeature.normal,
  });
}

/** The offered target rings: an agent who dialled is told (a customer waiting just hears ringback). */
export function offerRinging(d: Draft, phase: Offering, target: Leg): void {
  const waiting = d.leg(phase.waiting);
  if (waiting.workNo === undefined) return;
  d.emit(waiting.workNo, 'AgentEvent_Customer_Alerting', {
    callid: d.s.callId,
    otherPhone: target.number,
    otherPhoneWorkno: target.workNo ?? '',
    type: d.s.kind === 'internal' ? CallFeature.internal : CallFeature.outbound,
  });
}

export function offerAnswered(d: Draft, waitingId: LegId, targetId: LegId): void {
  d.clearTimer();
  const waiting = d.leg(waitingId);
  const target = d.leg(targetId);
  if (waiting.role === 'customer') {
    d.clearQueueTimer();
    d.setPhase({ name: 'connected', agent: targetId, other: waitingId, held: false });
    d.emit(target.workNo as string, 'AgentEvent_Talking', d.talking(waiting.number, target.number, d.s.callId, CallFeature.normal));
    return;
  }
  d.setPhase({ name: 'connected', agent: waitingId, other: targetId, held: false });
  const feature = d.s.kind === 'internal' ? CallFeature.internal : CallFeature.outbound;
  const content = d.talking(waiting.workNo as string, target.workNo ?? target.number, d.s.callId, feature);
  d.emit(waiting.workNo as string, 'AgentEvent_Talking', content);
  if (target.workNo !== undefined) d.emit(target.workNo, 'AgentEvent_Talking', content);
}

/**
 * The offered target will not answer. A customer goes back to the queue (or its treatment, if it waited too long),
 * the agent having declined it; an agent's own call fails. `unanswered`: it rang out or could not be reached.
 */
export function offerFailed(d: Draft, phase: Offering, target: Leg, unanswered: boolean): void {
  d.clearTimer();
  const waiting = d.leg(phase.waiting);
  if (waiting.role === 'customer') {
    // A customer call is only ever offered to agents.
    d.update({ declinedBy: [...d.s.declinedBy, target.workNo as string] });
    if (unanswered) d.notice({ kind: 'offer-unanswered', workNo: target.workNo as string });
    if (d.s.waitedTooLong) queueWaitOver(d, phase.waiting);
    else queue(d, phase.waiting, true);
  } else {
    d.emit(waiting.workNo as string, 'AgentEvent_Inside_Call_Fail', d.s.callId);
    d.legGone(phase.waiting, true);
    d.endCall();
  }
}

/* ------------------------------------------------------------------------------------------------ queues */

/**
 * The customer (already up) is handed to a skill queue (a transfer): the call now routes to that skill, whose agents
 * have declined nothing yet (but the agent who transferred it) and whose maximum wait starts now; the first free agent is offered it at once (the
 * customer hearing music), else it waits.
 */
export function enterSkillQueue(d: Draft, customer: LegId, skill: string, candidates: readonly AgentSnapshot[], transferredBy: string): void {
  d.clearQueueTimer();
  // The agent who transferred it is not offered it straight back (it may be of that skill): only after a requeue.
  d.update({ route: { kind: 'skill', skill }, declinedBy: [transferredBy] });
  startQueueTimer(d);
  const agent = pickAgent(d, candidates);
  if (agent) offer(d, customer, agent, 'moh');
  else queue(d, customer, false);
}

/** The customer waits for an agent with music; the shell is asked for fresh candidates. */
export function queue(d: Draft, customer: LegId, askNow: boolean): void {
  d.setPhase({ name: 'queued', customer });
  d.startTimer('requeue', d.config.requeueSeconds);
  if (askNow) findAgent(d);
}

/** Only customer calls (which always have a route) ever queue. */
function findAgent(d: Draft): void {
  d.command({ kind: 'findAgent', route: d.s.route as Route, exclude: d.s.declinedBy });
}

export function agentsAvailable(d: Draft, candidates: readonly AgentSnapshot[]): void {
  const phase = d.s.phase;
  if (phase.name !== 'queued') return;
  const agent = pickAgent(d, candidates);
  if (agent) offer(d, phase.customer, agent, 'moh');
}

/** The requeue timer of a queued customer ran out. */
export function requeue(d: Draft): void {
  // Agents who declined get another chance after a while: better than a customer queued forever.
  d.update({ declinedBy: [] });
  d.startTimer('requeue', d.config.requeueSeconds);
  findAgent(d);
}

function queuePolicy(d: Draft): QueuePolicy | undefined {
  const route = d.s.route;
  return route?.kind === 'skill' ? d.config.queues?.[route.skill] : undefined;
}

/** The route's queue has a maximum wait: it runs from now until an agent answers. */
function startQueueTimer(d: Draft): void {
  const policy = queuePolicy(d);
  if (policy) d.startQueueTimer(policy.maxWaitSeconds);
}

/** The queue timer runs only while the customer waits for an agent (queued, or an agent ringing). */
export function queueTimerFired(d: Draft): void {
  const phase = d.s.phase;
  if (phase.name === 'queued') return queueWaitOver(d, phase.customer);
  // An agent is ringing: give it its chance; if it does not answer, the treatment applies then.
  d.update({ queueTimer: null, waitedTooLong: true });
}

/** The customer waited the queue's maximum: off to another skill's queue, or ended with the queue's final status. */
function queueWaitOver(d: Draft, customer: LegId): void {
  const treatment = (queuePolicy(d) as QueuePolicy).treatment;
  d.update({ queueTimer: null, waitedTooLong: false });
  if (treatment.kind === 'overflow') {
    // A new queue: its agents have declined nothing yet, and its own maximum wait starts now.
    d.update({ route: { kind: 'skill', skill: treatment.skill }, declinedBy: [] });
    startQueueTimer(d);
    queue(d, customer, true);
    return;
  }
  d.clearTimer();
  d.updateLeg(customer, { status: 'gone' });
  d.hangup(customer, treatment.sipStatus);
  d.endCall();
}
