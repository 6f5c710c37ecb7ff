/**
 * The call decider's bookkeeping, shared by every rule module: a draft of the call's state that the rules change step
 * by step, and the outputs they collect (commands, agent events, presence notices). It decides nothing itself: it
 * adds, updates and ends legs, starts and cancels timers, and, at the end, puts the outputs in the order the shell
 * must carry them out, with the media commands derived from the phase before and after (media-plan.ts).
 */
import { mediaCommands, mediaPlan } from '../media-plan.js';
import type {
  AgentEvent,
  AgentEventType,
  CallId,
  CallState,
  Command,
  CoreConfig,
  Decision,
  EventContent,
  Leg,
  LegId,
  LegRole,
  PendingTimer,
  Phase,
  PresenceNotice,
  Reply,
} from '../types.js';

/** `feature` of AgentEvent_Talking / _Ringing: what kind of call the agent is on (documented in the README). */
export const CallFeature = { normal: 0, internal: 1, outbound: 2, help: 3 } as const;

/** The phases a rule is often handed, by name. */
export type Connected = Extract<Phase, { name: 'connected' }>;
export type Offering = Extract<Phase, { name: 'offering' }>;

export class Draft {
  private state: CallState;
  private readonly before: CallState;
  private readonly commands: Command[] = [];
  private readonly timerCommands: Command[] = [];
  private readonly hangups: Command[] = [];
  private readonly events: AgentEvent[] = [];
  private readonly notices: PresenceNotice[] = [];

  constructor(
    state: CallState,
    readonly config: CoreConfig,
  ) {
    this.state = state;
    this.before = state;
  }

  /** The call as the rules have left it so far. */
  get s(): CallState {
    return this.state;
  }

  finish(reply: Reply | undefined): Decision {
    // Dials first (they only start ringing, and a phone takes longest), then media, so that survivors are
    // reconnected before anyone else is hung up; look-ups last.
    const media = mediaCommands(mediaPlan(this.before), mediaPlan(this.state));
    // A transfer's outcome is reported to the phone before that phone is hung up.
    const dials = this.commands.filter((c) => c.kind === 'dial');
    const reports = this.commands.filter((c) => c.kind === 'reportTransfer');
    const others = this.commands.filter((c) => c.kind !== 'dial' && c.kind !== 'reportTransfer');
    const commands = [...this.timerCommands, ...dials, ...media, ...reports, ...this.hangups, ...others];
    const decision: Decision = { state: this.state, commands, events: this.events, presence: this.notices };
    return reply ? { ...decision, reply } : decision;
  }

  /** Changes the call's own fields (not its legs or phase: see updateLeg and setPhase). */
  update(patch: Partial<Omit<CallState, 'callId' | 'legs' | 'phase' | 'seq'>>): void {
    this.state = { ...this.state, ...patch };
  }

  setPhase(phase: Phase): void {
    this.state = { ...this.state, phase };
  }

  /** The next number of the call's counter, for deterministic ids (legs, help calls, timers). */
  nextSeq(): number {
    const seq = this.state.seq + 1;
    this.state = { ...this.state, seq };
    return seq;
  }

  /* ------------------------------------------------------------------------------------------------ legs */

  addLeg(role: LegRole, number: string, workNo: string | undefined, status: Leg['status'], id?: LegId, callIds?: CallId[]): LegId {
    const seq = this.nextSeq();
    const legId = id ?? `${this.state.callId}-L${seq}`;
    const leg: Leg = {
      id: legId,
      role,
      number,
      ...(workNo !== undefined ? { workNo } : {}),
      status,
      answered: status === 'up',
      callIds: callIds ?? [this.state.callId],
    };
    this.state = { ...this.state, legs: { ...this.state.legs, [legId]: leg } };
    return legId;
  }

  leg(id: LegId): Leg {
    return this.state.legs[id] as Leg;
  }

  updateLeg(id: LegId, patch: Partial<Omit<Leg, 'id'>>): void {
    this.state = { ...this.state, legs: { ...this.state.legs, [id]: { ...this.leg(id), ...patch } } };
  }

  /** A leg is over: its agent gets one AgentEvent_Call_Release per call id it knew; `hangup` also ends the phone. */
  legGone(id: LegId, hangup: boolean): void {
    const leg = this.leg(id);
    if (leg.status === 'gone') return;
    this.updateLeg(id, { status: 'gone' });
    if (hangup) this.hangup(id);
    if (leg.workNo !== undefined) for (const callid of leg.callIds) this.emit(leg.workNo, 'AgentEvent_Call_Release', callid);
    if (leg.workNo !== undefined && leg.answered && this.hadCustomer()) this.notice({ kind: 'customer-call-ended', workNo: leg.workNo });
  }

  /** A customer took part in this call (inbound, or an outbound call the customer answered). */
  private hadCustomer(): boolean {
    return Object.values(this.state.legs).some((l) => l.role === 'customer' && l.answered);
  }

  /** Every party has gone: nothing may be left pending. */
  endCall(): void {
    for (const leg of Object.values(this.state.legs)) this.legGone(leg.id, true);
    this.clearTimer();
    this.clearQueueTimer();
    this.setPhase({ name: 'ended' });
  }

  /** The call id the agent on `legId` knows its current connection by. */
  sharedCallId(legId: LegId): CallId {
    const ids = this.leg(legId).callIds;
    // A live leg always knows at least one call id; the newest is the connection it is on.
    return ids[ids.length - 1] as CallId;
  }

  /* ------------------------------------------------------------------------------------------------ commands */

  dial(legId: LegId, callerNumber: string): void {
    const leg = this.leg(legId);
    this.commands.push({
      kind: 'dial',
      legId,
      number: leg.number,
      ...(leg.workNo !== undefined ? { workNo: leg.workNo } : {}),
      callerNumber,
      callId: this.state.callId,
    });
  }

  /** `sipStatus`: the final status a customer is hung up with (a queue's treatment). */
  hangup(legId: LegId, sipStatus?: number): void {
    this.hangups.push(sipStatus === undefined ? { kind: 'hangup', legId } : { kind: 'hangup', legId, sipStatus });
  }

  /** Any other command (look-ups, transfer reports); finish() orders them. */
  command(command: Extract<Command, { kind: 'findAgent' | 'reportTransfer' }>): void {
    this.commands.push(command);
  }

  /* ------------------------------------------------------------------------------------------------ timers */

  /** The call's one pending timer (someone is being waited for); starting one cancels the previous. */
  startTimer(purpose: PendingTimer['purpose'], seconds: number): void {
    this.clearTimer();
    const seq = this.nextSeq();
    const timer: PendingTimer = { id: `${this.state.callId}-t${seq}`, purpose };
    this.state = { ...this.state, timer };
    this.timerCommands.push({ kind: 'startTimer', timerId: timer.id, seconds });
  }

  clearTimer(): void {
    if (!this.state.timer) return;
    this.timerCommands.push({ kind: 'cancelTimer', timerId: this.state.timer.id });
    this.state = { ...this.state, timer: null };
  }

  /** The customer's maximum wait in a skill queue, beside the pending timer. */
  startQueueTimer(seconds: number): void {
    const seq = this.nextSeq();
    const timer: PendingTimer = { id: `${this.state.callId}-t${seq}`, purpose: 'queue-wait' };
    this.state = { ...this.state, queueTimer: timer, waitedTooLong: false };
    this.timerCommands.push({ kind: 'startTimer', timerId: timer.id, seconds });
  }

  clearQueueTimer(): void {
    if (this.state.queueTimer) this.timerCommands.push({ kind: 'cancelTimer', timerId: this.state.queueTimer.id });
    this.state = { ...this.state, queueTimer: null, waitedTooLong: false };
  }

  /* ------------------------------------------------------------------------------------------------ agent events */

  emit(workNo: string, eventType: AgentEventType, content: EventContent): void {
    this.events.push({ workNo, eventType, content });
  }

  notice(notice: PresenceNotice): void {
    this.notices.push(notice);
  }

  /** The content of AgentEvent_Talking. */
  talking(caller: string, called: string, callid: CallId, feature: number): EventContent {
    return { caller, called, callid, feature, type: this.state.kind, mediaAbility: 0 };
  }

  /** The agent on `agentLeg` (if it is still there) is told that `leaver` left `callid`. */
  notifyLeft(agentLeg: LegId, leaver: Leg, callid: CallId): void {
    const agent = this.state.legs[agentLeg];
    if (agent?.workNo === undefined || agent.status === 'gone') return;
    this.emit(agent.workNo, 'AgentEvent_Customer_Release', { callid, number: leaver.workNo ?? leaver.number });
  }
}
