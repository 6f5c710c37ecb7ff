/**
 * The shell around the core: turns phone and API happenings into core events, one call at a time, and carries out
 * the core's commands through the telephony ports. It decides nothing about calls itself; it only knows where
 * things are (which leg belongs to which call, which timers run) and what the agents' availability is.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { decideAttendedTransfer } from '../core/calls/attended.js';
import { agentsOnCall, callIdsOf, decide, initialState } from '../core/decide.js';
import { isDialableNumber } from '../core/numbers.js';
import { replayMedia } from '../core/media-replay.js';
import { refuse } from '../core/refusals.js';
import type { AgentSnapshot, CallEvent, CallId, CallState, Command, CoreConfig, Decision, DialTarget, ErrorCode, LegId, PresenceNotice, Reply, Route } from '../core/types.js';
import type { StateStore } from '../ports/state-store.js';
import { LegMediaError, type IncomingDecision, type SignallingEvents, type TelephonyBackend } from '../ports/telephony.js';
import type { AdmissionControl } from './admission.js';
import type { AgentDirectory } from './agent-directory.js';
import type { CallControl, CallControlRequest, CallSnapshot, TimedAgentEvent } from './call-control.js';
import { DEFAULT_FEATURE_CODES, Keypad, type FeatureCodes, type KeypadAction } from './keypad.js';
import { SerialQueue } from './serial-queue.js';
import { SharedCalls } from './shared-calls.js';
import { realTimers, type TimerSource } from './timers.js';

export interface RouteEntry {
  readonly did: string;
  readonly route: Route;
}

/** What callinner / callout would refuse, as the SIP status a handset gets for it. */
const HANDSET_REFUSALS: Partial<Record<ErrorCode, [number, string]>> = {
  AGENT_NOT_SIGNED_IN: [403, 'Forbidden'],
  AGENT_BUSY: [486, 'Busy Here'],
  CALLED_UNKNOWN: [404, 'Not Found'],
  CALLED_NOT_SIGNED_IN: [480, 'Temporarily Unavailable'],
  CALLED_BUSY: [486, 'Busy Here'],
  CALLED_NOT_READY: [480, 'Temporarily Unavailable'],
  INVALID_NUMBER: [484, 'Address Incomplete'],
};

export interface OrchestratorOptions {
  readonly backend: TelephonyBackend;
  readonly directory: AgentDirectory;
  readonly routes: readonly RouteEntry[];
  readonly core: CoreConfig;
  readonly logger: Logger;
  /** For tests: where timers come from (default: setTimeout). */
  readonly timers?: TimerSource;
  /** Feature codes of the handsets' keypads (default: DEFAULT_FEATURE_CODES). */
  readonly featureCodes?: FeatureCodes;
  /** For tests: the clock the keypad reads (default: Date.now). */
  readonly now?: () => number;
  /**
   * Shared state (several instances): each call's record is kept there after every decision, and an agent is
   * reserved there before its phone is rung. Without it, this instance's directory alone decides (one instance).
   */
  readonly store?: StateStore;
  /** This instance's id in the store's call records (default 'local'). */
  readonly instanceId?: string;
  /** Admission control (issue 21): customer calls and help requests refused before anyone is rung. */
  readonly admission?: AdmissionControl;
}

export type { TimerSource };

interface CallRecord {
  state: CallState;
  readonly startedAt: number;
  readonly queue: SerialQueue;
  readonly log: Logger;
}

export class Orchestrator implements CallControl {
  private readonly calls = new Map<CallId, CallRecord>();
  /** Any call id (the call's own or a help call's) -> the call that holds it. */
  private readonly callIndex = new Map<CallId, CallId>();
  private readonly legIndex = new Map<LegId, CallId>();
  private readonly keypad: Keypad;
  private readonly timers = new Map<string, unknown>();
  private readonly listeners = new Set<(event: TimedAgentEvent) => void>();
  private readonly decidedListeners = new Set<(state: CallState) => void>();
  private readonly timerSource: TimerSource;
  private unsubscribeDirectory: (() => void) | null = null;
  private unsubscribePresence: (() => void) | null = null;
  private callSeq = 0;

  private readonly shared: SharedCalls;

  constructor(private readonly options: OrchestratorOptions) {
    this.shared = new SharedCalls(options.store, options.instanceId ?? 'local', options.backend.signalling);
    this.timerSource = options.timers ?? realTimers;
    this.keypad = new Keypad(options.featureCodes ?? DEFAULT_FEATURE_CODES);
  }

  async start(): Promise<void> {
    this.unsubscribeDirectory = this.options.directory.onAvailabilityChange(() => this.offerQueuedCalls());
    // Presence events (AgentState_*) reach the desktops the same way as call events.
    this.unsubscribePresence = this.options.directory.onAgentEvent((event) => {
      this.options.logger.info({ workNo: event.workNo, eventType: event.eventType }, 'agent event');
      this.tell({ ...event, eventGenTime: Date.now() });
    });
    await this.options.backend.start(this.signallingEvents);
  }

  async stop(): Promise<void> {
    this.unsubscribeDirectory?.();
    this.unsubscribePresence?.();
    for (const handle of this.timers.values()) this.timerSource.clear(handle);
    this.timers.clear();
    await Promise.all([...this.calls.values()].map((c) => c.queue.drain()));
    await this.options.backend.stop();
  }

  /** Resolves once every call's queue has run what was queued so far (tests use it to wait for quiet). */
  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const busy = [...this.calls.values()].filter((c) => !c.queue.idle);
      if (busy.length === 0) return;
      await Promise.all(busy.map((c) => c.queue.drain()));
    }
  }

  /** A copy of every call's state (for the simulator's views and for tests). */
  callStates(): CallState[] {
    return [...this.calls.values()].map((c) => c.state);
  }

  activeCallCount(): number {
    return this.calls.size;
  }

  callSnapshots(): CallSnapshot[] {
    return [...this.calls.values()].filter((c) => c.state.phase.name !== 'new').map((c) => ({ state: c.state, startedAt: c.startedAt }));
  }

  onAgentEvent(listener: (event: TimedAgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Told each call's state after each of its decisions (the supervision shell follows the call's parties). */
  onCallDecided(listener: (state: CallState) => void): () => void {
    this.decidedListeners.add(listener);
    return () => this.decidedListeners.delete(listener);
  }

  /** A call's state now, by any of its call ids. */
  callState(callId: CallId): CallState | undefined {
    return this.calls.get(this.callIndex.get(callId) ?? callId)?.state;
  }

  /** An event for the agents' desks from beside the calls (a supervisor joined a call). */
  tellAgents(event: TimedAgentEvent): void {
    this.tell(event);
  }

  /* ------------------------------------------------------------------------------------------ API */

  request(request: CallControlRequest): Promise<Reply> {
    const callId = this.callForRequest(request);
    const record = callId ? this.calls.get(callId) : undefined;
    if (!record) return Promise.resolve(refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NO_SUCH_CALL'));
    // Checked before anything is decided: refused, B simply stays with A.
    if (request.kind === 'innerhelp' && this.options.admission && !this.options.admission.admitHelp(record.state.callId).admitted) {
      record.log.warn({ workNo: request.workNo }, 'help refused: the media servers have no room');
      return Promise.resolve(refuse('NO_MEDIA_ROOM'));
    }
    return this.enqueue(record, () => ({ type: 'Api', request: this.completeRequest(request) }));
  }

  async callInner(workNo: string, calledWorkNo: string): Promise<Reply> {
    const checked = this.checkCall(workNo, { calledWorkNo });
    return 'refusal' in checked ? refuse(checked.refusal) : this.startAgentCall(workNo, checked.target);
  }

  async callOut(workNo: string, number: string): Promise<Reply> {
    const checked = this.checkCall(workNo, { number });
    return 'refusal' in checked ? refuse(checked.refusal) : this.startAgentCall(workNo, checked.target);
  }

  /** callinner's and callout's checks (and a handset's, answered as SIP statuses): the caller, then the target. */
  private checkCall(workNo: string, to: { calledWorkNo: string } | { number: string }, consulting = false): { refusal: ErrorCode } | { target: DialTarget } {
    const directory = this.options.directory;
    if (!directory.isSignedIn(workNo)) return { refusal: 'AGENT_NOT_SIGNED_IN' };
    if (!consulting && (directory.isBusy(workNo) || this.claimed.has(workNo))) return { refusal: 'AGENT_BUSY' };
    if ('number' in to) return isDialableNumber(to.number) ? { target: { kind: 'customer', number: to.number } } : { refusal: 'INVALID_NUMBER' };
    const called = directory.snapshot(to.calledWorkNo);
    if (!called || to.calledWorkNo === workNo) return { refusal: 'CALLED_UNKNOWN' };
    if (!called.signedIn) return { refusal: 'CALLED_NOT_SIGNED_IN' };
    if (called.busy || this.claimed.has(called.workNo)) return { refusal: 'CALLED_BUSY' };
    return { target: { kind: 'agent', workNo: called.workNo, phone: called.phone } };
  }

  private async startAgentCall(workNo: string, target: Extract<CallEvent, { type: 'AgentDialled' }>['target']): Promise<Reply> {
    const phone = this.options.directory.phoneOf(workNo) as string;
    const record = this.createCall();
    await this.enqueue(record, () => ({ type: 'AgentDialled', agent: { workNo, phone }, target }));
    return { ok: true, result: record.state.callId };
  }

  private callForRequest(request: CallControlRequest): CallId | undefined {
    if (request.kind === 'dropcall' || request.kind === 'confjoin') {
      const callId = this.callIndex.get(request.callid);
      if (callId) return callId;
    }
    return this.options.directory.callsOf(request.workNo)[0];
  }

  /** Adds what the core needs and only the shell knows: agent snapshots, taken at the moment of deciding. */
  private completeRequest(request: CallControlRequest): Extract<CallEvent, { type: 'Api' }>['request'] {
    if (request.kind === 'transfer') {
      const to = request.to;
      if (to.kind === 'agent') return { ...request, to: { ...to, snapshot: this.options.directory.snapshot(to.workNo) } };
      if (to.kind === 'skill') return { ...request, to: { ...to, candidates: this.options.directory.withSkill(to.skill) } };
      return { ...request, to };
    }
    if (request.kind !== 'innerhelp') return request;
    return { ...request, candidates: this.candidatesFor(request.helper.kind === 'agent' ? request.helper : { kind: 'skill', skill: request.helper.skill }) };
  }

  private candidatesFor(route: Route): AgentSnapshot[] {
    const directory = this.options.directory;
    if (route.kind === 'agent') {
      const snapshot = directory.snapshot(route.workNo);
      return snapshot ? [snapshot] : [];
    }
    return directory.withSkill(route.skill);
  }

  /* ------------------------------------------------------------------------------------------ telephony events */

  private readonly signallingEvents: SignallingEvents = {
    ringing: (legId) => this.legEvent(legId, { type: 'LegRinging', legId }),
    answered: (legId) => {
      if (!this.legEvent(legId, { type: 'LegAnswered', legId })) {
        // A phone answered a call we no longer know: it must not stay up.
        this.options.logger.warn({ legId }, 'answer for an unknown leg: hanging it up');
        this.options.backend.signalling.hangup(legId).catch((error: unknown) => this.options.logger.error({ legId, err: error }, 'hangup failed'));
      }
    },
    failed: (legId, reason) => {
      // An incoming call cancelled before it was answered is forgotten here.
      this.options.admission?.release(legId);
      if (this.forgetPending(legId)) return;
      this.legEvent(legId, { type: 'LegFailed', legId, reason });
    },
    hungUp: (legId, lost) => {
      if (this.forgetPending(legId)) {
        this.options.admission?.release(legId);
        return;
      }
      this.legEvent(legId, { type: 'LegHungUp', legId, lost });
    },
    phoneHeld: (legId, held) => {
      // The handset's hold button is the hold API for its agent's customer call; wherever the API would refuse
      // (during help, in a room, an internal call), the other parties are not disturbed: it is only logged.
      const { record, workNo } = this.callOfLeg(legId);
      if (!record || workNo === undefined) return;
      const request: CallControlRequest = held ? { kind: 'hold', workNo } : { kind: 'gethold', workNo, callid: null };
      void this.enqueue(record, () => ({ type: 'Api', request })).then((reply) => {
        if (!reply.ok) record.log.info({ workNo, held, refused: reply.code }, 'handset hold button: nothing to do now');
      });
    },
    dtmf: (legId, digit) => {
      const { record, workNo } = this.callOfLeg(legId);
      // Only an agent's keys are feature codes; a customer's go nowhere (they never reach the other parties).
      if (!record || workNo === undefined) return;
      const action = this.keypad.press(legId, digit, (this.options.now ?? Date.now)());
      if (action) void this.keypadAction(record, legId, workNo, action);
    },
    transferRequested: async (legId, to, replaces): Promise<IncomingDecision> => {
      if (replaces !== undefined) return this.attendedTransfer(legId, replaces);
      const { record, workNo } = this.callOfLeg(legId);
      if (!record || workNo === undefined) return { accept: false, status: 403, reason: 'Forbidden' };
      const reply = await this.enqueue(record, () => ({ type: 'Api', request: this.completeRequest({ kind: 'transfer', workNo, to: this.transferTarget(to), fromPhone: true }) }));
      if (reply.ok) {
        record.log.info({ workNo, to, legId }, 'handset transfer accepted');
        return { accept: true };
      }
      const [status, reason] = HANDSET_REFUSALS[reply.code] ?? [403, 'Forbidden'];
      record.log.info({ workNo, to, legId, refused: reply.code, status }, 'handset transfer refused');
      return { accept: false, status, reason };
    },
    incoming: async (call): Promise<IncomingDecision> => {
      if (call.caller !== undefined) return this.handsetCall(call.legId, call.caller, call.to);
      const entry = this.options.routes.find((r) => r.did === call.to);
      if (!entry) {
        // Not a DID: only a handset that proves who it is may call other numbers.
        this.options.logger.info({ from: call.from, to: call.to }, 'incoming call to a number that is not a DID: credentials asked');
        return { accept: false, status: 401, reason: 'Unauthorized' };
      }
      const admission = this.options.admission;
      const verdict = admission?.admitCustomer(call.legId);
      if (admission && verdict && !verdict.admitted) {
        this.options.logger.warn({ from: call.from, to: call.to, why: verdict.why }, 'customer call refused: the media servers have no room');
        return { accept: false, status: 503, reason: 'Service Unavailable', retryAfterSeconds: admission.retryAfterSeconds };
      }
      this.pendingIncoming.set(call.legId, { kind: 'customer', from: call.from, to: call.to, route: entry.route });
      return { accept: true };
    },
    mediaMoved: (legIds) => this.mediaMoved(legIds),
    incomingAnswered: (legId) => {
      const pending = this.pendingIncoming.get(legId);
      if (!pending) return;
      this.pendingIncoming.delete(legId);
      const record = this.createCall();
      this.legIndex.set(legId, record.state.callId);
      this.options.admission?.rekey(legId, record.state.callId);
      if (pending.kind === 'handset') {
        record.log.info({ workNo: pending.agent.workNo, to: pending.to, legId }, 'handset call');
        void this.enqueue(record, () => {
          // From this decision on the call itself holds its agents (the directory): the claim is no longer needed.
          this.releaseClaims(legId);
          return { type: 'AgentPhoneCalled', agent: pending.agent, leg: { id: legId }, target: pending.target };
        });
        return;
      }
      record.log.info({ from: pending.from, to: pending.to, legId }, 'customer call arrived');
      void this.enqueue(record, () => ({
        type: 'CustomerArrived',
        leg: { id: legId, number: pending.from },
        called: pending.to,
        route: pending.route,
        candidates: this.candidatesFor(pending.route),
      }));
    },
  };

  /**
   * Legs moved to another media server hear nothing: each call sets their media again from its current phase, in
   * its queue (so after any decision already queued). Nothing is decided and nobody is told: the call goes on.
   */
  private mediaMoved(legIds: readonly LegId[]): void {
    const byCall = new Map<CallRecord, Set<LegId>>();
    for (const legId of legIds) {
      const { record } = this.callOfLeg(legId);
      if (record) byCall.set(record, (byCall.get(record) ?? new Set()).add(legId));
    }
    for (const [record, legs] of byCall) {
      void record.queue.push(async () => {
        if (!this.calls.has(record.state.callId)) return;
        const commands = replayMedia(record.state, legs);
        record.log.info({ legs: [...legs], commands: commands.map((c) => c.kind) }, 'media server changed: media set again');
        for (const command of commands) void this.execute(record, command);
      });
    }
  }

  /** The call a leg belongs to, and a call's legs (the media-server pool keeps a call's legs together). */
  callOfLegId(legId: LegId): CallId | undefined {
    return this.legIndex.get(legId);
  }

  legsOfCall(callId: CallId): LegId[] {
    const record = this.calls.get(this.callIndex.get(callId) ?? callId);
    return record ? Object.keys(record.state.legs) : [];
  }

  /** What a feature code asks for, as the API would ask it; a refusal is heard as the error tone. */
  private async keypadAction(record: CallRecord, legId: LegId, workNo: string, action: KeypadAction): Promise<void> {
    let reply: Reply;
    const phase = record.state.phase;
    switch (action.kind) {
      case 'help': {
        const directory = this.options.directory;
        const isSkill = !directory.profile(action.target) && directory.allProfiles().some((p) => p.skills.includes(action.target));
        const helper = isSkill ? { kind: 'skill' as const, skill: action.target } : { kind: 'agent' as const, workNo: action.target };
        reply = await this.request({ kind: 'innerhelp', workNo, mode: action.mode, helper, callappdata: '' });
        break;
      }
      case 'drop-helper':
        reply = phase.name === 'help' ? await this.request({ kind: 'dropcall', workNo, callid: phase.help.helpCallId }) : refuse('NO_HELP_IN_PROGRESS');
        break;
      case 'conference':
        reply = phase.name === 'help' ? await this.request({ kind: 'confjoin', workNo, callid: record.state.callId }) : refuse('NO_HELP_IN_PROGRESS');
        break;
      case 'unknown':
        reply = refuse('NOT_ALLOWED_NOW');
        break;
    }
    if (reply.ok) {
      record.log.info({ workNo, action: action.kind }, 'keypad request done');
      return;
    }
    record.log.info({ workNo, action: action.kind, refused: reply.code }, 'keypad request refused: error tone');
    await this.options.backend.media.playErrorTone(legId).catch((error: unknown) => record.log.warn({ legId, err: (error as Error).message }, 'error tone not played'));
  }

  private readonly pendingIncoming = new Map<
    LegId,
    | { readonly kind: 'customer'; readonly from: string; readonly to: string; readonly route: Route }
    | { readonly kind: 'handset'; readonly to: string; readonly agent: { workNo: string; phone: string }; readonly target: DialTarget }
  >();

  /**
   * A handset dials: another agent (by work number, or by the phone that agent is signed in on) is an internal
   * call, anything else an outbound call through the gateway; the checks of callinner / callout, answered as SIP
   * statuses because the phone has no API to read a retcode from.
   */
  private handsetCall(legId: LegId, phone: string, to: string): IncomingDecision {
    const directory = this.options.directory;
    const workNo = directory.agentOnPhone(phone);
    const refused = (status: number, reason: string): IncomingDecision => {
      this.options.logger.info({ phone, workNo, to, status }, `handset call refused: ${reason}`);
      return { accept: false, status, reason };
    };
    if (workNo === undefined) return refused(403, 'Forbidden');
    const calledWorkNo = this.agentNumbered(to);
    const checked = this.checkCall(workNo, calledWorkNo !== undefined ? { calledWorkNo } : { number: to }, this.onHoldOnly(workNo));
    if ('refusal' in checked) {
      const [status, reason] = HANDSET_REFUSALS[checked.refusal] ?? [403, 'Forbidden'];
      return refused(status, reason);
    }
    this.pendingIncoming.set(legId, { kind: 'handset', to, agent: { workNo, phone }, target: checked.target });
    // Until its call exists (the INVITE is answered and anchored, which takes a while), the caller and the called
    // agent are claimed by this INVITE: a second INVITE meanwhile finds them busy (486), never both rung.
    this.claimed.set(workNo, legId);
    if (checked.target.kind === 'agent') this.claimed.set(checked.target.workNo, legId);
    return { accept: true };
  }

  /** Agents claimed by a handset's INVITE not yet answered (workNo -> its leg). */
  private readonly claimed = new Map<string, LegId>();

  private releaseClaims(legId: LegId): void {
    for (const [workNo, claimer] of this.claimed) if (claimer === legId) this.claimed.delete(workNo);
  }

  /** An incoming call that ended before it was answered: forgotten, with its claims. False: not such a call. */
  private forgetPending(legId: LegId): boolean {
    this.releaseClaims(legId);
    return this.pendingIncoming.delete(legId);
  }

  /**
   * The agent is on calls of this instance, and on each holds its party (a consultation on a second line may start:
   * the phone's attended transfer, or going back to the held call).
   */
  private onHoldOnly(workNo: string): boolean {
    const calls = this.options.directory.callsOf(workNo);
    if (calls.length === 0) return false;
    return calls.every((callId) => {
      const phase = this.calls.get(callId)?.state.phase;
      return phase?.name === 'connected' && phase.held && this.calls.get(callId)?.state.legs[phase.agent]?.workNo === workNo;
    });
  }

  /** The agent a handset's number means (dialled or transferred to): by work number, or the phone it is signed in on. */
  private agentNumbered(to: string): string | undefined {
    return this.options.directory.profile(to) ? to : this.options.directory.agentOnPhone(to);
  }

  /** A transfer's target as a handset names it: an agent, else a skill queue of that name, else an outside number. */
  private transferTarget(to: string): Extract<CallControlRequest, { kind: 'transfer' }>['to'] {
    const workNo = this.agentNumbered(to);
    if (workNo !== undefined) return { kind: 'agent', workNo };
    if (this.options.directory.allProfiles().some((p) => p.skills.includes(to))) return { kind: 'skill', skill: to };
    return { kind: 'number', number: to };
  }

  /** The call that holds a leg, and the agent whose leg it is (undefined for a customer's). */
  private callOfLeg(legId: LegId): { record: CallRecord | undefined; workNo: string | undefined } {
    const callId = this.legIndex.get(legId);
    const record = callId ? this.calls.get(callId) : undefined;
    return { record, workNo: record?.state.legs[legId]?.workNo };
  }

  /** Feeds a leg's event to its call; false when no call knows the leg. */
  private legEvent(legId: LegId, event: CallEvent): boolean {
    const { record } = this.callOfLeg(legId);
    if (!record) return false;
    void this.enqueue(record, () => event);
    return true;
  }

  /** Any agent may have become free: calls waiting for one get fresh snapshots, oldest call first. */
  private offerQueuedCalls(): void {
    for (const record of this.calls.values()) {
      if (record.state.phase.name !== 'queued' || !record.state.route) continue;
      const route = record.state.route;
      void this.enqueue(record, () => (record.state.phase.name === 'queued' ? { type: 'AgentsAvailable', candidates: this.candidatesFor(route) } : null));
    }
  }

  /* ------------------------------------------------------------------------------------------ the loop */

  private createCall(): CallRecord {
    const callId = `${Date.now().toString(36)}-${(++this.callSeq).toString(36)}-${randomUUID().slice(0, 8)}`;
    const record: CallRecord = {
      state: initialState(callId),
      startedAt: Date.now(),
      queue: new SerialQueue((error) => this.options.logger.error({ callId, err: error }, 'call task failed')),
      log: this.options.logger.child({ callId }),
    };
    this.calls.set(callId, record);
    this.callIndex.set(callId, callId);
    return record;
  }

  /**
   * Queues one step for the call: the event is built when its turn comes (so snapshots are fresh), decided, its
   * commands issued, and its agent events told, before the next event of that call is looked at.
   */
  private enqueue(record: CallRecord, makeEvent: () => CallEvent | null): Promise<Reply> {
    let reply: Reply = refuse('NO_SUCH_CALL');
    return record.queue
      .push(async () => {
        const event = makeEvent();
        if (!event || !this.calls.has(record.state.callId)) return;
        const decision = decide(record.state, event, this.options.core);
        if (decision.reply) reply = decision.reply;
        this.apply(record, decision);
      })
      .then(() => reply);
  }

  /** A decision taken for the call: its state kept, its bookkeeping done, its commands issued, its events told. */
  private apply(record: CallRecord, decision: Decision): void {
    record.state = decision.state;
    this.afterDecision(record, decision.presence);
    // Issued, not awaited: no command waits on another, and the call's next event (a hang-up crossing this
    // one) is decided at once. A command that fails later comes back as that leg lost, and the core decides
    // what it means for the others (those are the events that then tell the desktops).
    for (const command of decision.commands) void this.execute(record, command);
    const now = Date.now();
    for (const e of decision.events) {
      record.log.info({ workNo: e.workNo, eventType: e.eventType }, 'agent event');
      this.tell({ ...e, eventGenTime: now });
    }
    for (const listener of this.decidedListeners) listener(record.state);
    if (record.state.phase.name === 'ended') this.forget(record);
  }

  /**
   * A handset's attended transfer (REFER on `referLeg` with Replaces naming `replacedLeg`, null: no dialog of ours).
   * Both calls' queues are held (in call id order, so two such transfers cannot wait on each other) while the core
   * decides over both as they stand; the call given up is applied first, so the moved party is indexed under the
   * kept call. Refused: the REFER's final status, and both calls go on as they were.
   */
  private async attendedTransfer(referLeg: LegId, replacedLeg: LegId | null): Promise<IncomingDecision> {
    const refer = this.callOfLeg(referLeg);
    if (!refer.record || refer.workNo === undefined) return { accept: false, status: 403, reason: 'Forbidden' };
    const log = refer.record.log.child({ referLeg, replacedLeg });
    if (replacedLeg === null) {
      log.info('attended transfer refused: its Replaces names no dialog of ours');
      return { accept: false, status: 481, reason: 'Call/Transaction Does Not Exist' };
    }
    const replaced = this.callOfLeg(replacedLeg);
    if (!replaced.record) {
      log.info('attended transfer refused: the replaced call is over');
      return { accept: false, status: 481, reason: 'Call/Transaction Does Not Exist' };
    }
    if (replaced.workNo !== refer.workNo) {
      log.info({ owner: replaced.workNo }, "attended transfer refused: its Replaces names another party's dialog");
      return { accept: false, status: 403, reason: 'Forbidden' };
    }
    const records = [refer.record, replaced.record].sort((a, b) => (a.state.callId < b.state.callId ? -1 : 1)) as [CallRecord, CallRecord];
    const workNo = refer.workNo;
    let outcome: Reply = refuse('NO_SUCH_CALL');
    await records[0].queue.push(() =>
      records[1].queue.push(() => {
        const referRecord = refer.record as CallRecord;
        const replacedRecord = replaced.record as CallRecord;
        if (!this.calls.has(referRecord.state.callId) || !this.calls.has(replacedRecord.state.callId)) return;
        const decided = decideAttendedTransfer(referRecord.state, replacedRecord.state, { workNo, referLeg, replacedLeg }, this.options.core);
        if (!decided.ok) {
          outcome = decided;
          return;
        }
        const keptRecord = decided.kept.state.callId === referRecord.state.callId ? referRecord : replacedRecord;
        const givenRecord = keptRecord === referRecord ? replacedRecord : referRecord;
        this.apply(givenRecord, decided.givenUp);
        this.apply(keptRecord, decided.kept);
        outcome = decided.kept.reply ?? outcome;
      }),
    );
    if (outcome.ok) {
      log.info({ workNo }, 'attended transfer carried out');
      return { accept: true };
    }
    const [status, reason] = outcome.code === 'NO_SUCH_CALL' ? [481, 'Call/Transaction Does Not Exist'] : [403, 'Forbidden'];
    log.info({ workNo, refused: outcome.code, status }, 'attended transfer refused');
    return { accept: false, status, reason };
  }

  private tell(event: TimedAgentEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Bookkeeping that must happen in the same tick as the decision, so no other call sees stale availability. */
  private afterDecision(record: CallRecord, presence: readonly PresenceNotice[]): void {
    const state = record.state;
    for (const legId of Object.keys(state.legs)) this.legIndex.set(legId, state.callId);
    for (const id of callIdsOf(state)) this.callIndex.set(id, state.callId);
    // Wrap-up (or not ready) first, so an agent leaving this call is never seen free by a queued call meanwhile.
    this.options.directory.applyCallNotices(presence);
    const before = this.options.directory.agentsOfCall(state.callId);
    this.options.directory.setCallAgents(state.callId, agentsOnCall(state));
    this.shared.decided(state, record.startedAt, before, record.log);
  }

  private forget(record: CallRecord): void {
    const state = record.state;
    record.log.info('call ended');
    this.options.admission?.release(state.callId);
    this.calls.delete(state.callId);
    for (const id of callIdsOf(state)) this.callIndex.delete(id);
    // A leg that moved to another call (an attended transfer) is indexed there now.
    for (const legId of Object.keys(state.legs)) if (this.legIndex.get(legId) === state.callId) this.legIndex.delete(legId);
  }

  private async execute(record: CallRecord, command: Command): Promise<void> {
    const { signalling, media } = this.options.backend;
    try {
      switch (command.kind) {
        case 'dial':
          if (command.workNo !== undefined && !(await this.shared.reserve(record.state.callId, command.workNo, record.log))) {
            // Another instance's call got the agent first: to this call, the agent's phone is busy.
            record.log.info({ legId: command.legId, workNo: command.workNo }, 'agent taken by a call of another instance: offer fails as busy');
            void this.enqueue(record, () => ({ type: 'LegFailed', legId: command.legId, reason: 'busy' }));
            return;
          }
          record.log.info({ legId: command.legId, number: command.number }, 'dialling');
          signalling.dial(command);
          return;
        case 'hangup':
          if (command.sipStatus !== undefined) record.log.info({ legId: command.legId, sipStatus: command.sipStatus }, 'queue wait over: customer released');
          await signalling.hangup(command.legId, command.sipStatus);
          return;
        case 'bridge':
          await media.bridge(command.a, command.b);
          return;
        case 'playHoldMusic':
          await media.playHoldMusic(command.legId);
          return;
        case 'playRingback':
          await media.playRingback(command.legId);
          return;
        case 'joinRoom':
          await media.joinRoom(command.room, command.legId);
          return;
        case 'park':
          await media.park(command.legId);
          return;
        case 'startTimer': {
          const handle = this.timerSource.set(() => {
            this.timers.delete(command.timerId);
            void this.enqueue(record, () => ({ type: 'TimerFired', timerId: command.timerId }));
          }, command.seconds * 1000);
          this.timers.set(command.timerId, handle);
          return;
        }
        case 'cancelTimer': {
          const handle = this.timers.get(command.timerId);
          if (handle !== undefined) this.timerSource.clear(handle);
          this.timers.delete(command.timerId);
          return;
        }
        case 'reportTransfer':
          signalling.reportTransfer(command.legId, command.sipStatus);
          return;
        case 'findAgent': {
          const route = command.route;
          void this.enqueue(record, () => ({ type: 'AgentsAvailable', candidates: this.candidatesFor(route) }));
          return;
        }
      }
    } catch (error) {
      if (error instanceof LegMediaError) {
        // The leg's channel is gone or unusable: the core decides what that means for the others.
        record.log.warn({ legId: error.legId, command: command.kind, err: error.message }, 'media operation failed: leg lost');
        void this.enqueue(record, () => ({ type: 'LegHungUp', legId: error.legId, lost: true }));
        return;
      }
      record.log.error({ command: command.kind, err: error }, 'command failed');
    }
  }
}
