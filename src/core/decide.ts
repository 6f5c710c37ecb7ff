/**
 * The decider: (state, event) -> new state, commands, agent events and, for API requests, a reply.
 *
 * Pure: no I/O, no clock, no randomness; ids come from a counter in the state. Every rule of internal help and
 * every race (late answers, crossing hang-ups, duplicate events) is decided here. Events about legs that are gone,
 * and timers that are no longer pending, change nothing, which is what makes duplicated and late events harmless.
 */
import { mediaCommands, mediaPlan } from './media-plan.js';
import { isDialableNumber } from './numbers.js';
import { refuse } from './refusals.js';
import type {
  AgentEvent,
  AgentEventType,
  AgentSnapshot,
  ApiRequest,
  BlindTransfer,
  CallEvent,
  CallId,
  CallState,
  Command,
  CoreConfig,
  Decision,
  DialTarget,
  EventContent,
  FailureReason,
  HelpSession,
  Leg,
  LegId,
  LegRole,
  Phase,
  PendingTimer,
  PresenceNotice,
  QueuePolicy,
  Reply,
  Route,
} from './types.js';

/** `feature` of AgentEvent_Talking / _Ringing: what kind of call the agent is on (documented in the README). */
export const CallFeature = { normal: 0, internal: 1, outbound: 2, help: 3 } as const;

/** A target's failure as the SIP status a transfer reports (NOTIFY of a REFER, AgentEvent_SuccTransResult). */
const FAILURE_STATUS: Readonly<Record<FailureReason, number>> = { busy: 486, rejected: 603, 'no-answer': 408, unreachable: 480, error: 500 };

export function initialState(callId: CallId): CallState {
  return { callId, kind: 'customer', called: '', route: null, legs: {}, phase: { name: 'new' }, timer: null, queueTimer: null, waitedTooLong: false, declinedBy: [], seq: 0 };
}

export function decide(state: CallState, event: CallEvent, config: CoreConfig): Decision {
  const draft = new Draft(state, config);
  draft.apply(event);
  return draft.finish();
}

/** Agents that this call holds (ringing or talking): the shell marks them busy. */
export function agentsOnCall(state: CallState): Set<string> {
  const agents = new Set<string>();
  for (const leg of Object.values(state.legs)) if (leg.workNo !== undefined && leg.status !== 'gone') agents.add(leg.workNo);
  return agents;
}

/** Every call id the state knows (the call itself and its help calls): the shell indexes calls by them. */
export function callIdsOf(state: CallState): Set<CallId> {
  const ids = new Set<CallId>([state.callId]);
  for (const leg of Object.values(state.legs)) for (const id of leg.callIds) ids.add(id);
  return ids;
}

class Draft {
  private s: CallState;
  private readonly before: CallState;
  private readonly commands: Command[] = [];
  private readonly timerCommands: Command[] = [];
  private readonly hangups: Command[] = [];
  private readonly events: AgentEvent[] = [];
  private readonly presence: PresenceNotice[] = [];
  private reply: Reply | undefined;

  constructor(
    state: CallState,
    private readonly config: CoreConfig,
  ) {
    this.s = state;
    this.before = state;
  }

  finish(): Decision {
    // Dials first (they only start ringing, and a phone takes longest), then media, so that survivors are
    // reconnected before anyone else is hung up; look-ups last.
    const media = mediaCommands(mediaPlan(this.before), mediaPlan(this.s));
    // A transfer's outcome is reported to the phone before that phone is hung up.
    const dials = this.commands.filter((c) => c.kind === 'dial');
    const reports = this.commands.filter((c) => c.kind === 'reportTransfer');
    const others = this.commands.filter((c) => c.kind !== 'dial' && c.kind !== 'reportTransfer');
    const commands = [...this.timerCommands, ...dials, ...media, ...reports, ...this.hangups, ...others];
    const decision: Decision = { state: this.s, commands, events: this.events, presence: this.presence };
    return this.reply ? { ...decision, reply: this.reply } : decision;
  }

  apply(event: CallEvent): void {
    switch (event.type) {
      case 'CustomerArrived':
        return this.customerArrived(event);
      case 'AgentDialled':
        return this.agentDialled(event);
      case 'AgentPhoneCalled':
        return this.agentPhoneCalled(event);
      case 'AgentsAvailable':
        return this.agentsAvailable(event.candidates);
      case 'LegRinging':
        return this.legRinging(event.legId);
      case 'LegAnswered':
        return this.legAnswered(event.legId);
      case 'LegFailed':
        return this.legFailed(event.legId, event.reason);
      case 'LegHungUp':
        return this.legHungUp(event.legId, event.lost === true);
      case 'TimerFired':
        return this.timerFired(event.timerId);
      case 'Api':
        this.reply = this.api(event.request);
        return;
    }
  }

  /* ============================================================================================ call set-up */

  private customerArrived(event: Extract<CallEvent, { type: 'CustomerArrived' }>): void {
    if (this.s.phase.name !== 'new') return;
    this.s = { ...this.s, kind: 'customer', called: event.called, route: event.route };
    const customer = this.addLeg('customer', event.leg.number, undefined, 'up', event.leg.id);
    this.startQueueTimer();
    const agent = this.pickAgent(event.candidates);
    if (agent) this.offer(customer, agent, 'ringback');
    else this.queue(customer, false);
  }

  private agentDialled(event: Extract<CallEvent, { type: 'AgentDialled' }>): void {
    if (this.s.phase.name !== 'new') return;
    const kind = event.target.kind === 'agent' ? 'internal' : 'outbound';
    // An outbound call's customer belongs to the agent who called: that is where it goes back if help fails.
    const route: Route | null = kind === 'outbound' ? { kind: 'agent', workNo: event.agent.workNo } : null;
    this.s = { ...this.s, kind, route, called: event.target.kind === 'agent' ? event.target.workNo : event.target.number };
    const origin = this.addLeg('agent', event.agent.phone, event.agent.workNo, 'dialing');
    this.setPhase({ name: 'originating', origin, target: event.target });
    this.dial(origin, event.target.kind === 'agent' ? event.target.workNo : event.target.number);
    this.startTimer('origin-answer', this.config.offerAnswerTimeoutSeconds);
  }

  private agentPhoneCalled(event: Extract<CallEvent, { type: 'AgentPhoneCalled' }>): void {
    if (this.s.phase.name !== 'new') return;
    const kind = event.target.kind === 'agent' ? 'internal' : 'outbound';
    const route: Route | null = kind === 'outbound' ? { kind: 'agent', workNo: event.agent.workNo } : null;
    this.s = { ...this.s, kind, route, called: event.target.kind === 'agent' ? event.target.workNo : event.target.number };
    const origin = this.addLeg('agent', event.agent.phone, event.agent.workNo, 'up', event.leg.id);
    this.setPhase({ name: 'originating', origin, target: event.target });
    this.originAnswered(origin, event.target);
  }

  /** First signed-in, ready, free agent that has not declined this call (the shell lists the longest idle first). */
  private pickAgent(candidates: readonly AgentSnapshot[]): AgentSnapshot | undefined {
    return candidates.find((c) => c.signedIn && c.ready && !c.busy && !this.s.declinedBy.includes(c.workNo));
  }

  /** The route's queue has a maximum wait: it runs from now until an agent answers. */
  private startQueueTimer(): void {
    const policy = this.queuePolicy();
    if (!policy) return;
    const seq = this.s.seq + 1;
    const timer: PendingTimer = { id: `${this.s.callId}-t${seq}`, purpose: 'queue-wait' };
    this.s = { ...this.s, seq, queueTimer: timer, waitedTooLong: false };
    this.timerCommands.push({ kind: 'startTimer', timerId: timer.id, seconds: policy.maxWaitSeconds });
  }

  private clearQueueTimer(): void {
    if (this.s.queueTimer) this.timerCommands.push({ kind: 'cancelTimer', timerId: this.s.queueTimer.id });
    this.s = { ...this.s, queueTimer: null, waitedTooLong: false };
  }

  private queuePolicy(): QueuePolicy | undefined {
    const route = this.s.route;
    return route?.kind === 'skill' ? this.config.queues?.[route.skill] : undefined;
  }

  /** The customer waited the queue's maximum: off to another skill's queue, or ended with the queue's final status. */
  private queueWaitOver(customer: LegId): void {
    const treatment = (this.queuePolicy() as QueuePolicy).treatment;
    this.s = { ...this.s, queueTimer: null, waitedTooLong: false };
    if (treatment.kind === 'overflow') {
      // A new queue: its agents have declined nothing yet, and its own maximum wait starts now.
      this.s = { ...this.s, route: { kind: 'skill', skill: treatment.skill }, declinedBy: [] };
      this.startQueueTimer();
      this.queue(customer, true);
      return;
    }
    this.clearTimer();
    this.updateLeg(customer, { status: 'gone' });
    this.hangups.push({ kind: 'hangup', legId: customer, sipStatus: treatment.sipStatus });
    this.endCall();
  }

  private offer(customer: LegId, agent: AgentSnapshot, waitingHears: 'ringback' | 'moh'): void {
    const target = this.addLeg('agent', agent.phone, agent.workNo, 'dialing');
    this.setPhase({ name: 'offering', waiting: customer, target, waitingHears });
    this.dial(target, this.leg(customer).number);
    this.startTimer('offer-answer', this.config.offerAnswerTimeoutSeconds);
    this.emit(agent.workNo, 'AgentEvent_Ringing', {
      callid: this.s.callId,
      caller: this.leg(customer).number,
      called: this.s.called,
      feature: CallFeature.normal,
    });
  }

  /** The customer waits for an agent with music; the shell is asked for fresh candidates. */
  private queue(customer: LegId, askNow: boolean): void {
    this.setPhase({ name: 'queued', customer });
    this.startTimer('requeue', this.config.requeueSeconds);
    if (askNow) this.findAgent();
  }

  /** Only customer calls (which always have a route) ever queue. */
  private findAgent(): void {
    this.commands.push({ kind: 'findAgent', route: this.s.route as Route, exclude: this.s.declinedBy });
  }

  private agentsAvailable(candidates: readonly AgentSnapshot[]): void {
    const phase = this.s.phase;
    if (phase.name !== 'queued') return;
    const agent = this.pickAgent(candidates);
    if (agent) this.offer(phase.customer, agent, 'moh');
  }

  /* ============================================================================================ leg events */

  private legRinging(legId: LegId): void {
    const leg = this.s.legs[legId];
    if (!leg || leg.status !== 'dialing') return;
    this.updateLeg(legId, { status: 'ringing' });
    const phase = this.s.phase;
    if (phase.name === 'offering' && phase.target === legId) {
      const waiting = this.leg(phase.waiting);
      if (waiting.workNo !== undefined) {
        this.emit(waiting.workNo, 'AgentEvent_Customer_Alerting', {
          callid: this.s.callId,
          otherPhone: leg.number,
          otherPhoneWorkno: leg.workNo ?? '',
          type: this.s.kind === 'internal' ? CallFeature.internal : CallFeature.outbound,
        });
      }
    } else if (phase.name === 'transferring' && phase.transfer.target === legId) {
      this.reportTransfer(phase.transfer, 180);
    } else if (phase.name === 'help' && phase.help.helper === legId && !phase.help.ownerGone) {
      const owner = this.leg(phase.help.owner);
      this.emit(owner.workNo as string, 'AgentEvent_Customer_Alerting', {
        callid: phase.help.helpCallId,
        otherPhone: leg.number,
        otherPhoneWorkno: leg.workNo as string,
        type: CallFeature.help,
      });
    }
  }

  private legAnswered(legId: LegId): void {
    const leg = this.s.legs[legId];
    if (!leg) return;
    if (leg.status === 'gone') {
      // A late answer (the 200 crossed our CANCEL, or the help was already over): that phone must not stay up.
      this.hangups.push({ kind: 'hangup', legId });
      return;
    }
    if (leg.status === 'up') return;
    this.updateLeg(legId, { status: 'up', answered: true });
    const phase = this.s.phase;
    if (phase.name === 'originating' && phase.origin === legId) return this.originAnswered(legId, phase.target);
    if (phase.name === 'offering' && phase.target === legId) return this.offerAnswered(phase.waiting, legId);
    if (phase.name === 'help' && phase.help.helper === legId) return this.helperAnswered(phase.help);
    if (phase.name === 'transferring' && phase.transfer.target === legId) return this.transferAnswered(phase.transfer);
  }

  /** The agent's own phone answered an agent-initiated call: now ring the target, the agent hearing ringback. */
  private originAnswered(originId: LegId, target: DialTarget): void {
    this.clearTimer();
    const origin = this.leg(originId);
    let targetLeg: LegId;
    if (target.kind === 'agent') {
      targetLeg = this.addLeg('agent', target.phone, target.workNo, 'dialing');
      this.emit(target.workNo, 'AgentEvent_Ringing', {
        callid: this.s.callId,
        caller: origin.workNo as string,
        called: target.workNo,
        feature: CallFeature.internal,
      });
    } else {
      targetLeg = this.addLeg('customer', target.number, undefined, 'dialing');
    }
    this.setPhase({ name: 'offering', waiting: originId, target: targetLeg, waitingHears: 'ringback' });
    this.dial(targetLeg, origin.number);
    this.startTimer('offer-answer', this.config.offerAnswerTimeoutSeconds);
  }

  private offerAnswered(waitingId: LegId, targetId: LegId): void {
    this.clearTimer();
    const waiting = this.leg(waitingId);
    const target = this.leg(targetId);
    if (waiting.role === 'customer') {
      this.clearQueueTimer();
      this.setPhase({ name: 'connected', agent: targetId, other: waitingId, held: false });
      this.emit(target.workNo as string, 'AgentEvent_Talking', this.talking(waiting.number, target.number, this.s.callId, CallFeature.normal));
      return;
    }
    this.setPhase({ name: 'connected', agent: waitingId, other: targetId, held: false });
    const feature = this.s.kind === 'internal' ? CallFeature.internal : CallFeature.outbound;
    const content = this.talking(waiting.workNo as string, target.workNo ?? target.number, this.s.callId, feature);
    this.emit(waiting.workNo as string, 'AgentEvent_Talking', content);
    if (target.workNo !== undefined) this.emit(target.workNo, 'AgentEvent_Talking', content);
  }

  private legFailed(legId: LegId, reason: FailureReason): void {
    const leg = this.s.legs[legId];
    if (!leg || leg.status === 'gone' || leg.status === 'up') return;
    // A phone that rang out or cannot be reached is an agent not at the desk; a rejection is a choice.
    this.ringingLegEnded(legId, false, reason === 'no-answer' || reason === 'unreachable', reason);
  }

  private legHungUp(legId: LegId, lost: boolean): void {
    const leg = this.s.legs[legId];
    if (!leg || leg.status === 'gone') return;
    if (leg.status !== 'up') {
      // A phone that was never answered cannot send BYE; a lost channel while ringing is a failed attempt.
      this.ringingLegEnded(legId, true);
      return;
    }
    this.partyLeft(legId, lost);
  }

  private timerFired(timerId: string): void {
    if (this.s.queueTimer?.id === timerId) return this.queueTimerFired();
    const timer = this.s.timer;
    if (!timer || timer.id !== timerId) return;
    this.s = { ...this.s, timer: null };
    // A timer runs only while someone is waited for, and is cancelled whenever the phase moves on.
    const phase = this.s.phase;
    switch (phase.name) {
      case 'queued':
        // Agents who declined get another chance after a while: better than a customer queued forever.
        this.s = { ...this.s, declinedBy: [] };
        this.startTimer('requeue', this.config.requeueSeconds);
        this.findAgent();
        return;
      case 'offering':
        this.ringingLegEnded(phase.target, true, true);
        return;
      case 'originating':
        this.ringingLegEnded(phase.origin, true);
        return;
      case 'help':
        this.ringingLegEnded(phase.help.helper, true);
        return;
      case 'transferring':
        this.ringingLegEnded(phase.transfer.target, true, true);
        return;
      /* c8 ignore next 2 -- no timer runs in the other phases (a property test checks it) */
      default:
        return;
    }
  }

  /** The queue timer runs only while the customer waits for an agent (queued, or an agent ringing). */
  private queueTimerFired(): void {
    const phase = this.s.phase;
    if (phase.name === 'queued') return this.queueWaitOver(phase.customer);
    // An agent is ringing: give it its chance; if it does not answer, the treatment applies then.
    this.s = { ...this.s, queueTimer: null, waitedTooLong: true };
  }

  /**
   * A leg we were ringing will not answer: it failed, timed out, or we cancel it (`hangup`). `unanswered`: it rang
   * out or could not be reached (an agent offered a customer call then goes not ready).
   */
  private ringingLegEnded(legId: LegId, hangup: boolean, unanswered = false, reason: FailureReason = unanswered ? 'no-answer' : 'error'): void {
    const leg = this.leg(legId);
    const phase = this.s.phase;
    this.legGone(legId, hangup);
    if (phase.name === 'originating' && phase.origin === legId) {
      this.clearTimer();
      this.emit(leg.workNo as string, 'AgentEvent_Inside_Call_Fail', this.s.callId);
      this.endCall();
    } else if (phase.name === 'offering' && phase.target === legId) {
      this.clearTimer();
      const waiting = this.leg(phase.waiting);
      if (waiting.role === 'customer') {
        // A customer call is only ever offered to agents.
        this.s = { ...this.s, declinedBy: [...this.s.declinedBy, leg.workNo as string] };
        if (unanswered) this.presence.push({ kind: 'offer-unanswered', workNo: leg.workNo as string });
        if (this.s.waitedTooLong) this.queueWaitOver(phase.waiting);
        else this.queue(phase.waiting, true);
      } else {
        this.emit(waiting.workNo as string, 'AgentEvent_Inside_Call_Fail', this.s.callId);
        this.legGone(phase.waiting, true);
        this.endCall();
      }
    } else if (phase.name === 'help') {
      // The only leg that rings during help is the helper's.
      this.helpFailed(phase.help);
    } else if (phase.name === 'transferring') {
      // The only leg that rings during a transfer is its target (the transferor is up, or gone).
      if (unanswered && leg.workNo !== undefined) this.presence.push({ kind: 'offer-unanswered', workNo: leg.workNo });
      this.transferFailed(phase.transfer, leg, FAILURE_STATUS[reason]);
    }
  }

  /** An answered party left (BYE, lost channel, or released through the API). */
  private partyLeft(legId: LegId, hangup: boolean): void {
    const leaver = this.leg(legId);
    const phase = this.s.phase;
    this.legGone(legId, hangup);
    switch (phase.name) {
      case 'offering': {
        // The waiting party gave up: stop ringing the target.
        this.clearTimer();
        this.legGone(phase.target, true);
        this.endCall();
        return;
      }
      case 'queued':
        this.clearTimer();
        this.endCall();
        return;
      case 'connected': {
        const other = phase.agent === legId ? phase.other : phase.agent;
        this.notifyLeft(other, leaver, this.sharedCallId(other));
        this.legGone(other, true);
        this.endCall();
        return;
      }
      case 'help':
        this.helpPartyLeft(phase.help, legId);
        return;
      case 'transferring':
        this.transferPartyLeft(phase.transfer, legId);
        return;
      case 'trunked':
        this.legGone(legId === phase.customer ? phase.outside : phase.customer, true);
        this.endCall();
        return;
      /* c8 ignore next 2 -- in the other phases no leg is up */
      default:
        return;
    }
  }

  /* ============================================================================================ help */

  private helperAnswered(help: HelpSession): void {
    this.clearTimer();
    const owner = this.s.legs[help.owner] as Leg;
    const helper = this.leg(help.helper);
    const customer = this.leg(help.customer);
    if (help.ownerGone) {
      // A hung up while C rang: the customer is handed to C (a transfer). C's desktop was shown the help call
      // ringing: it learns that A left it, and that it is over, before it is told of the customer call.
      this.handOver(help.helper, owner, help.helpCallId);
      this.setPhase({ name: 'connected', agent: help.helper, other: help.customer, held: false });
      this.emit(helper.workNo as string, 'AgentEvent_Talking', this.talking(customer.number, helper.number, this.s.callId, CallFeature.normal));
      return;
    }
    if (help.mode === 1) {
      this.setPhase({ name: 'help', help: { ...help, stage: 'talking' } });
      const content = this.talking(owner.workNo as string, helper.workNo as string, help.helpCallId, CallFeature.help);
      this.emit(owner.workNo as string, 'AgentEvent_Talking', content);
      this.emit(helper.workNo as string, 'AgentEvent_Talking', content);
    } else {
      this.conference(help);
    }
  }

  private conference(help: HelpSession): void {
    const owner = this.leg(help.owner);
    const helper = this.leg(help.helper);
    this.setPhase({ name: 'help', help: { ...help, mode: 2, stage: 'conference' } });
    this.emit(owner.workNo as string, 'AgentEvent_Conference', { callid: this.s.callId, partner: helper.workNo as string });
    this.emit(helper.workNo as string, 'AgentEvent_Conference', { callid: help.helpCallId, partner: owner.workNo as string });
  }

  private helpFailed(help: HelpSession): void {
    this.clearTimer();
    if (help.ownerGone) {
      // Nobody is left with the customer: back to the queue (music), never to nowhere.
      this.queue(help.customer, true);
      return;
    }
    const owner = this.leg(help.owner);
    this.emit(owner.workNo as string, 'AgentEvent_Consult_Fail', help.helpCallId);
    this.backToCustomer(help);
  }

  /** The help is over and A has B again: A's desktop gets the help call id released, then the customer call. */
  private backToCustomer(help: HelpSession): void {
    const owner = this.leg(help.owner);
    const customer = this.leg(help.customer);
    this.leaveCallId(help.owner, help.helpCallId);
    this.setPhase({ name: 'connected', agent: help.owner, other: help.customer, held: false });
    this.emit(owner.workNo as string, 'AgentEvent_Talking', this.talking(customer.number, owner.number, this.s.callId, CallFeature.normal));
  }

  private helpPartyLeft(help: HelpSession, legId: LegId): void {
    const leaver = this.leg(legId);
    if (legId === help.owner) {
      if (help.stage === 'ringing') {
        this.setPhase({ name: 'help', help: { ...help, ownerGone: true } });
        return;
      }
      // A leaves a running help: B and C talk (two-party: the transfer of the seed).
      const helper = this.leg(help.helper);
      const customer = this.leg(help.customer);
      this.handOver(help.helper, leaver, help.helpCallId);
      this.setPhase({ name: 'connected', agent: help.helper, other: help.customer, held: false });
      this.emit(helper.workNo as string, 'AgentEvent_Talking', this.talking(customer.number, helper.number, this.s.callId, CallFeature.normal));
      return;
    }
    if (legId === help.helper) {
      // C leaves (only up in talking/conference; a ringing C is handled as a failed attempt).
      this.notifyLeft(help.owner, leaver, help.helpCallId);
      this.backToCustomer(help);
      return;
    }
    // The customer left.
    if (help.stage === 'ringing') {
      // No one to help any more: stop ringing C, and A's call with the customer is over.
      this.clearTimer();
      this.legGone(help.helper, true);
      if (!help.ownerGone) {
        this.notifyLeft(help.owner, leaver, this.s.callId);
        this.legGone(help.owner, true);
      }
      this.endCall();
      return;
    }
    // A and C were talking (or conferencing): they stay connected as an internal call, known by the help call id.
    const owner = this.leg(help.owner);
    this.notifyLeft(help.owner, leaver, this.s.callId);
    this.leaveCallId(owner.id, this.s.callId);
    this.s = { ...this.s, kind: 'internal' };
    this.setPhase({ name: 'connected', agent: help.owner, other: help.helper, held: false });
  }

  /* ============================================================================================ blind transfer */

  private startTransfer(request: Extract<ApiRequest, { kind: 'transfer' }>, phase: Extract<Phase, { name: 'connected' }>): Reply {
    const to = request.to;
    if (to.kind === 'agent') {
      const called = to.snapshot;
      if (!called || called.workNo === request.workNo) return refuse('CALLED_UNKNOWN');
      if (!called.signedIn) return refuse('CALLED_NOT_SIGNED_IN');
      if (called.busy) return refuse('CALLED_BUSY');
      if (!called.ready) return refuse('CALLED_NOT_READY');
    } else if (!isDialableNumber(to.number)) {
      return refuse('INVALID_NUMBER');
    }
    const owner = this.leg(phase.agent);
    const customer = this.leg(phase.other);
    // The target gets the customer call itself (its id), as an offered customer call.
    const target =
      to.kind === 'agent' ? this.addLeg('agent', (to.snapshot as AgentSnapshot).phone, to.workNo, 'dialing') : this.addLeg('customer', to.number, undefined, 'dialing');
    const transfer: BlindTransfer = { transferor: phase.agent, customer: phase.other, target, transferorGone: false, wasHeld: phase.held };
    this.setPhase({ name: 'transferring', transfer });
    this.dial(target, customer.number);
    this.startTimer('transfer-answer', this.config.offerAnswerTimeoutSeconds);
    const targetLeg = this.leg(target);
    if (request.fromPhone) {
      this.emit(owner.workNo as string, 'AgentEvent_linkagePhoneTransferOut', { callid: this.s.callId, addrOut: targetLeg.workNo ?? targetLeg.number, addrSelf: owner.number });
    }
    if (targetLeg.workNo !== undefined) {
      this.emit(targetLeg.workNo, 'AgentEvent_Ringing', { callid: this.s.callId, caller: customer.number, called: this.s.called, feature: CallFeature.normal });
    }
    return { ok: true, result: this.s.callId };
  }

  private transferAnswered(transfer: BlindTransfer): void {
    this.clearTimer();
    // The transfer worked: the transferring agent is told, and its phone is hung up (if it has not done so).
    this.transferOutcome(transfer, 200);
    this.legGone(transfer.transferor, true);
    const target = this.leg(transfer.target);
    const customer = this.leg(transfer.customer);
    if (target.workNo === undefined) {
      this.setPhase({ name: 'trunked', customer: transfer.customer, outside: transfer.target });
      return;
    }
    this.setPhase({ name: 'connected', agent: transfer.target, other: transfer.customer, held: false });
    this.emit(target.workNo, 'AgentEvent_Talking', this.talking(customer.number, target.number, this.s.callId, CallFeature.normal));
  }

  /** The target will not answer: the agent still on the line gets the customer back; otherwise the queue does. */
  private transferFailed(transfer: BlindTransfer, target: Leg, sipStatus: number): void {
    this.clearTimer();
    if (transfer.transferorGone) {
      if (target.workNo !== undefined) this.s = { ...this.s, declinedBy: [...this.s.declinedBy, target.workNo] };
      this.queue(transfer.customer, true);
      return;
    }
    const owner = this.leg(transfer.transferor);
    const customer = this.leg(transfer.customer);
    this.transferOutcome(transfer, sipStatus);
    this.setPhase({ name: 'connected', agent: transfer.transferor, other: transfer.customer, held: transfer.wasHeld });
    if (transfer.wasHeld) this.emit(owner.workNo as string, 'AgentEvent_Hold', this.s.callId);
    else this.emit(owner.workNo as string, 'AgentEvent_Talking', this.talking(customer.number, owner.number, this.s.callId, CallFeature.normal));
  }

  private transferPartyLeft(transfer: BlindTransfer, legId: LegId): void {
    if (legId === transfer.transferor) {
      // The phone hung up after its REFER was accepted, as phones do: the transfer goes on without it.
      this.setPhase({ name: 'transferring', transfer: { ...transfer, transferorGone: true } });
      return;
    }
    // The customer gave up: the target stops ringing, and the agent's call is over.
    const customer = this.leg(legId);
    this.clearTimer();
    this.legGone(transfer.target, true);
    if (!transfer.transferorGone) {
      this.reportTransfer(transfer, 487);
      this.notifyLeft(transfer.transferor, customer, this.s.callId);
    }
    this.endCall();
  }

  /** How the transfer ended, told to the transferring agent still on the line: its phone (NOTIFY) and its desktop. */
  private transferOutcome(transfer: BlindTransfer, sipStatus: number): void {
    if (transfer.transferorGone) return;
    this.reportTransfer(transfer, sipStatus);
    this.emit(this.leg(transfer.transferor).workNo as string, 'AgentEvent_SuccTransResult', { callId: this.s.callId, result: sipStatus === 200 ? 0 : sipStatus });
  }

  private reportTransfer(transfer: BlindTransfer, sipStatus: number): void {
    if (transfer.transferorGone) return;
    this.commands.push({ kind: 'reportTransfer', legId: transfer.transferor, sipStatus });
  }

  /* ============================================================================================ API */

  private api(request: ApiRequest): Reply {
    const phase = this.s.phase;
    const party = this.partyOf(request.workNo);
    if (!party) return refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NO_SUCH_CALL');
    if (request.kind === 'release') {
      this.releaseParty(party.id);
      return { ok: true, result: null };
    }
    if (phase.name === 'connected') return this.apiConnected(request, phase, party);
    if (phase.name === 'help') return this.apiHelp(request, phase.help, party);
    if (request.kind === 'transfer') return refuse('TRANSFER_NOT_ALLOWED');
    return refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NOT_ALLOWED_NOW');
  }

  private releaseParty(legId: LegId): void {
    const leg = this.leg(legId);
    if (leg.status === 'up') this.partyLeft(legId, true);
    else this.ringingLegEnded(legId, true, false, 'rejected');
  }

  private apiConnected(request: Exclude<ApiRequest, { kind: 'release' }>, phase: Extract<Phase, { name: 'connected' }>, party: Leg): Reply {
    const isAgentSide = party.id === phase.agent;
    const other = this.leg(isAgentSide ? phase.other : phase.agent);
    switch (request.kind) {
      case 'innerhelp': {
        if (!isAgentSide || other.role !== 'customer') return refuse('NO_CUSTOMER_CALL');
        return this.startHelp(request, phase);
      }
      case 'hold':
        if (!isAgentSide) return refuse('NOT_ALLOWED_NOW');
        if (phase.held) return refuse('ALREADY_HELD');
        this.setPhase({ ...phase, held: true });
        this.emit(party.workNo as string, 'AgentEvent_Hold', this.s.callId);
        return { ok: true, result: null };
      case 'gethold': {
        if (!isAgentSide) return refuse('NOT_ALLOWED_NOW');
        if (!phase.held) return refuse('NOT_HELD');
        if (request.callid !== null && !party.callIds.includes(request.callid)) return refuse('NO_SUCH_CALL');
        this.setPhase({ ...phase, held: false });
        this.emit(party.workNo as string, 'AgentEvent_Talking', this.talking(other.number, party.number, this.sharedCallId(party.id), CallFeature.normal));
        return { ok: true, result: null };
      }
      case 'dropcall':
        if (!party.callIds.includes(request.callid)) return refuse('NO_SUCH_CALL');
        this.partyLeft(other.id, true);
        return { ok: true, result: null };
      case 'disconnect':
        if (!this.matchesNumber(other, request.number)) return refuse('NOT_A_PARTY');
        this.partyLeft(other.id, true);
        return { ok: true, result: null };
      case 'confjoin':
        return refuse('NO_HELP_IN_PROGRESS');
      case 'transfer':
        if (!isAgentSide || other.role !== 'customer') return refuse('TRANSFER_NOT_ALLOWED');
        return this.startTransfer(request, phase);
    }
  }

  private startHelp(request: Extract<ApiRequest, { kind: 'innerhelp' }>, phase: Extract<Phase, { name: 'connected' }>): Reply {
    const candidates = request.candidates.filter((c) => c.workNo !== request.workNo);
    let helper: AgentSnapshot | undefined;
    const asked = request.helper;
    if (asked.kind === 'agent') {
      if (asked.workNo === request.workNo) return refuse('HELPER_IS_SELF');
      const only = candidates.find((c) => c.workNo === asked.workNo);
      if (!only) return refuse('HELPER_UNKNOWN');
      if (!only.signedIn) return refuse('HELPER_NOT_SIGNED_IN');
      if (only.busy) return refuse('HELPER_BUSY');
      if (!only.ready) return refuse('HELPER_NOT_READY');
      helper = only;
    } else {
      if (request.candidates.length === 0) return refuse('HELPER_UNKNOWN');
      // The same choice as a skill queue's: the shell lists the longest idle first; never the requester.
      helper = candidates.find((c) => c.signedIn && c.ready && !c.busy);
      if (!helper) return refuse('NO_FREE_HELPER');
    }
    const owner = this.leg(phase.agent);
    const helpCallId = `${this.s.callId}-h${this.s.seq + 1}`;
    this.s = { ...this.s, seq: this.s.seq + 1 };
    const helperLeg = this.addLeg('agent', helper.phone, helper.workNo, 'dialing', undefined, [helpCallId]);
    this.updateLeg(owner.id, { callIds: [...owner.callIds, helpCallId] });
    const help: HelpSession = {
      helpCallId,
      mode: request.mode,
      stage: 'ringing',
      owner: owner.id,
      customer: phase.other,
      helper: helperLeg,
      ownerGone: false,
      callappdata: request.callappdata,
    };
    this.setPhase({ name: 'help', help });
    this.dial(helperLeg, owner.workNo as string);
    this.startTimer('help-answer', this.config.helpAnswerTimeoutSeconds);
    if (request.mode === 1) this.emit(owner.workNo as string, 'AgentEvent_Hold', this.s.callId);
    this.emit(helper.workNo, 'AgentEvent_Ringing', {
      callid: helpCallId,
      caller: owner.workNo as string,
      called: helper.workNo,
      feature: CallFeature.help,
      mode: request.mode,
      callappdata: request.callappdata,
    });
    return { ok: true, result: helpCallId };
  }

  private apiHelp(request: Exclude<ApiRequest, { kind: 'release' }>, help: HelpSession, party: Leg): Reply {
    if (party.id !== help.owner) return refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NOT_ALLOWED_NOW');
    switch (request.kind) {
      case 'innerhelp':
        return refuse('HELP_IN_PROGRESS');
      case 'transfer':
        return refuse('TRANSFER_NOT_ALLOWED');
      case 'hold':
      case 'gethold':
        return refuse('NOT_ALLOWED_NOW');
      case 'dropcall':
        if (request.callid === help.helpCallId) {
          this.dropHelper(help);
          return { ok: true, result: null };
        }
        return refuse(request.callid === this.s.callId ? 'CANNOT_RELEASE_HELD_CUSTOMER' : 'NO_SUCH_CALL');
      case 'disconnect': {
        const helper = this.leg(help.helper);
        const customer = this.leg(help.customer);
        if (this.matchesNumber(helper, request.number)) {
          this.dropHelper(help);
          return { ok: true, result: null };
        }
        if (this.matchesNumber(customer, request.number)) {
          if (help.stage !== 'conference') return refuse('CANNOT_RELEASE_HELD_CUSTOMER');
          this.partyLeft(help.customer, true);
          return { ok: true, result: null };
        }
        return refuse('NOT_A_PARTY');
      }
      case 'confjoin':
        if (request.callid !== this.s.callId && request.callid !== help.helpCallId) return refuse('NO_SUCH_CALL');
        if (help.stage !== 'talking') return refuse('NOT_ALLOWED_NOW');
        this.conference(help);
        return { ok: true, result: null };
    }
  }

  /** A takes C out of the help (dropcall / disconnect): ringing C is cancelled, talking C is hung up. */
  private dropHelper(help: HelpSession): void {
    const helper = this.leg(help.helper);
    if (helper.status === 'up') {
      this.partyLeft(help.helper, true);
      return;
    }
    this.clearTimer();
    this.legGone(help.helper, true);
    this.backToCustomer(help);
  }

  /* ============================================================================================ helpers */

  private partyOf(workNo: string): Leg | undefined {
    return Object.values(this.s.legs).find((l) => l.workNo === workNo && l.status !== 'gone');
  }

  private matchesNumber(leg: Leg, number: string): boolean {
    return leg.number === number || (leg.workNo !== undefined && leg.workNo === number);
  }

  /** The call id the agent on `legId` knows its current connection by. */
  private sharedCallId(legId: LegId): CallId {
    const ids = this.leg(legId).callIds;
    // A live leg always knows at least one call id; the newest is the connection it is on.
    return ids[ids.length - 1] as CallId;
  }

  private talking(caller: string, called: string, callid: CallId, feature: number): EventContent {
    return { caller, called, callid, feature, type: this.s.kind, mediaAbility: 0 };
  }

  private notifyLeft(agentLeg: LegId, leaver: Leg, callid: CallId): void {
    const agent = this.s.legs[agentLeg];
    if (agent?.workNo === undefined || agent.status === 'gone') return;
    this.emit(agent.workNo, 'AgentEvent_Customer_Release', { callid, number: leaver.workNo ?? leaver.number });
  }

  /**
   * The agent on `legId` is no longer on `callid` but stays on the call (help over, transfer, customer gone): its
   * desktop gets that call id's one AgentEvent_Call_Release now, so no call id is ever left open on a desktop.
   * Only for agent legs (A or C), with an id the leg knows (A both ids of a help, C the help call id).
   */
  private leaveCallId(legId: LegId, callid: CallId): void {
    const leg = this.leg(legId);
    this.updateLeg(legId, { callIds: leg.callIds.filter((id) => id !== callid) });
    this.emit(leg.workNo as string, 'AgentEvent_Call_Release', callid);
  }

  /** A left the help (before or after C answered): B is handed to C, who leaves the help call for the customer call. */
  private handOver(helperId: LegId, owner: Leg, helpCallId: CallId): void {
    this.notifyLeft(helperId, owner, helpCallId);
    this.updateLeg(helperId, { callIds: [...this.leg(helperId).callIds, this.s.callId] });
    this.leaveCallId(helperId, helpCallId);
  }

  private addLeg(role: LegRole, number: string, workNo: string | undefined, status: Leg['status'], id?: LegId, callIds?: CallId[]): LegId {
    const seq = this.s.seq + 1;
    const legId = id ?? `${this.s.callId}-L${seq}`;
    const leg: Leg = {
      id: legId,
      role,
      number,
      ...(workNo !== undefined ? { workNo } : {}),
      status,
      answered: status === 'up',
      callIds: callIds ?? [this.s.callId],
    };
    this.s = { ...this.s, seq, legs: { ...this.s.legs, [legId]: leg } };
    return legId;
  }

  private leg(id: LegId): Leg {
    return this.s.legs[id] as Leg;
  }

  private updateLeg(id: LegId, patch: Partial<Omit<Leg, 'id'>>): void {
    this.s = { ...this.s, legs: { ...this.s.legs, [id]: { ...this.leg(id), ...patch } } };
  }

  /** A leg is over: its agent gets one AgentEvent_Call_Release per call id it knew; `hangup` also ends the phone. */
  private legGone(id: LegId, hangup: boolean): void {
    const leg = this.leg(id);
    if (leg.status === 'gone') return;
    this.updateLeg(id, { status: 'gone' });
    if (hangup) this.hangups.push({ kind: 'hangup', legId: id });
    if (leg.workNo !== undefined) for (const callid of leg.callIds) this.emit(leg.workNo, 'AgentEvent_Call_Release', callid);
    if (leg.workNo !== undefined && leg.answered && this.hadCustomer()) this.presence.push({ kind: 'customer-call-ended', workNo: leg.workNo });
  }

  /** A customer took part in this call (inbound, or an outbound call the customer answered). */
  private hadCustomer(): boolean {
    return Object.values(this.s.legs).some((l) => l.role === 'customer' && l.answered);
  }

  private setPhase(phase: Phase): void {
    this.s = { ...this.s, phase };
  }

  /** Every party has gone: nothing may be left pending. */
  private endCall(): void {
    for (const leg of Object.values(this.s.legs)) this.legGone(leg.id, true);
    this.clearTimer();
    this.clearQueueTimer();
    this.setPhase({ name: 'ended' });
  }

  private dial(legId: LegId, callerNumber: string): void {
    const leg = this.leg(legId);
    this.commands.push({
      kind: 'dial',
      legId,
      number: leg.number,
      ...(leg.workNo !== undefined ? { workNo: leg.workNo } : {}),
      callerNumber,
      callId: this.s.callId,
    });
  }

  private startTimer(purpose: PendingTimer['purpose'], seconds: number): void {
    this.clearTimer();
    const seq = this.s.seq + 1;
    const timer: PendingTimer = { id: `${this.s.callId}-t${seq}`, purpose };
    this.s = { ...this.s, seq, timer };
    this.timerCommands.push({ kind: 'startTimer', timerId: timer.id, seconds });
  }

  private clearTimer(): void {
    if (!this.s.timer) return;
    this.timerCommands.push({ kind: 'cancelTimer', timerId: this.s.timer.id });
    this.s = { ...this.s, timer: null };
  }

  private emit(workNo: string, eventType: AgentEventType, content: EventContent): void {
    this.events.push({ workNo, eventType, content });
  }
}
