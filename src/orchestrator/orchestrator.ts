/**
 * The shell around the core: turns phone and API happenings into core events, one call at a time, and carries out
 * the core's commands through the telephony ports. It decides nothing about calls itself; it only knows where
 * things are (which leg belongs to which call, which timers run) and what the agents' availability is.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { agentsOnCall, callIdsOf, decide, initialState } from '../core/decide.js';
import { refuse } from '../core/refusals.js';
import type { AgentSnapshot, CallEvent, CallId, CallState, Command, CoreConfig, LegId, Reply, Route } from '../core/types.js';
import { LegMediaError, type IncomingDecision, type SignallingEvents, type TelephonyBackend } from '../ports/telephony.js';
import type { AgentDirectory } from './agent-directory.js';
import type { CallControl, CallControlRequest, CallSnapshot, TimedAgentEvent } from './call-control.js';
import { SerialQueue } from './serial-queue.js';

export interface RouteEntry {
  readonly did: string;
  readonly route: Route;
}

export interface OrchestratorOptions {
  readonly backend: TelephonyBackend;
  readonly directory: AgentDirectory;
  readonly routes: readonly RouteEntry[];
  readonly core: CoreConfig;
  readonly logger: Logger;
  /** For tests: where timers come from (default: setTimeout). */
  readonly timers?: TimerSource;
}

export interface TimerSource {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: TimerSource = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

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
  private readonly timers = new Map<string, unknown>();
  private readonly listeners = new Set<(event: TimedAgentEvent) => void>();
  private readonly timerSource: TimerSource;
  private unsubscribeDirectory: (() => void) | null = null;
  private callSeq = 0;

  constructor(private readonly options: OrchestratorOptions) {
    this.timerSource = options.timers ?? realTimers;
  }

  async start(): Promise<void> {
    this.unsubscribeDirectory = this.options.directory.onAvailabilityChange(() => this.offerQueuedCalls());
    await this.options.backend.start(this.signallingEvents);
  }

  async stop(): Promise<void> {
    this.unsubscribeDirectory?.();
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

  /* ------------------------------------------------------------------------------------------ API */

  request(request: CallControlRequest): Promise<Reply> {
    const callId = this.callForRequest(request);
    const record = callId ? this.calls.get(callId) : undefined;
    if (!record) return Promise.resolve(refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NO_SUCH_CALL'));
    return this.enqueue(record, () => ({ type: 'Api', request: this.completeRequest(request) }));
  }

  async callInner(workNo: string, calledWorkNo: string): Promise<Reply> {
    const refusal = this.checkCaller(workNo);
    if (refusal) return refusal;
    const directory = this.options.directory;
    const called = directory.snapshot(calledWorkNo);
    if (!called || calledWorkNo === workNo) return refuse('CALLED_UNKNOWN');
    if (!called.signedIn) return refuse('CALLED_NOT_SIGNED_IN');
    if (called.busy) return refuse('CALLED_BUSY');
    return this.startAgentCall(workNo, { kind: 'agent', workNo: called.workNo, phone: called.phone });
  }

  async callOut(workNo: string, number: string): Promise<Reply> {
    const refusal = this.checkCaller(workNo);
    if (refusal) return refusal;
    if (!/^\+?[0-9*#]{1,32}$/.test(number)) return refuse('INVALID_NUMBER');
    return this.startAgentCall(workNo, { kind: 'customer', number });
  }

  private checkCaller(workNo: string): Reply | null {
    const directory = this.options.directory;
    if (!directory.isSignedIn(workNo)) return refuse('AGENT_NOT_SIGNED_IN');
    if (directory.isBusy(workNo)) return refuse('AGENT_BUSY');
    return null;
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
      if (this.pendingIncoming.delete(legId)) return;
      this.legEvent(legId, { type: 'LegFailed', legId, reason });
    },
    hungUp: (legId, lost) => {
      if (this.pendingIncoming.delete(legId)) return;
      this.legEvent(legId, { type: 'LegHungUp', legId, lost });
    },
    incoming: async (call): Promise<IncomingDecision> => {
      const entry = this.options.routes.find((r) => r.did === call.to);
      if (!entry) {
        this.options.logger.info({ from: call.from, to: call.to }, 'incoming call to a number with no route: refused');
        return { accept: false, status: 404, reason: 'Not Found' };
      }
      this.pendingIncoming.set(call.legId, { from: call.from, to: call.to, route: entry.route });
      return { accept: true };
    },
    incomingAnswered: (legId) => {
      const pending = this.pendingIncoming.get(legId);
      if (!pending) return;
      this.pendingIncoming.delete(legId);
      const record = this.createCall();
      this.legIndex.set(legId, record.state.callId);
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

  private readonly pendingIncoming = new Map<LegId, { from: string; to: string; route: Route }>();

  /** Feeds a leg's event to its call; false when no call knows the leg. */
  private legEvent(legId: LegId, event: CallEvent): boolean {
    const callId = this.legIndex.get(legId);
    const record = callId ? this.calls.get(callId) : undefined;
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
        record.state = decision.state;
        if (decision.reply) reply = decision.reply;
        this.afterDecision(record);
        // Issued, not awaited: no command waits on another, and the call's next event (a hang-up crossing this
        // one) is decided at once. A command that fails later comes back as that leg lost, and the core decides
        // what it means for the others (those are the events that then tell the desktops).
        for (const command of decision.commands) void this.execute(record, command);
        const now = Date.now();
        for (const e of decision.events) {
          record.log.info({ workNo: e.workNo, eventType: e.eventType }, 'agent event');
          for (const listener of this.listeners) listener({ ...e, eventGenTime: now });
        }
        if (record.state.phase.name === 'ended') this.forget(record);
      })
      .then(() => reply);
  }

  /** Bookkeeping that must happen in the same tick as the decision, so no other call sees stale availability. */
  private afterDecision(record: CallRecord): void {
    const state = record.state;
    for (const legId of Object.keys(state.legs)) this.legIndex.set(legId, state.callId);
    for (const id of callIdsOf(state)) this.callIndex.set(id, state.callId);
    this.options.directory.setCallAgents(state.callId, agentsOnCall(state));
  }

  private forget(record: CallRecord): void {
    const state = record.state;
    record.log.info('call ended');
    this.calls.delete(state.callId);
    for (const id of callIdsOf(state)) this.callIndex.delete(id);
    for (const legId of Object.keys(state.legs)) this.legIndex.delete(legId);
  }

  private async execute(record: CallRecord, command: Command): Promise<void> {
    const { signalling, media } = this.options.backend;
    try {
      switch (command.kind) {
        case 'dial':
          record.log.info({ legId: command.legId, number: command.number }, 'dialling');
          signalling.dial(command);
          return;
        case 'hangup':
          await signalling.hangup(command.legId);
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
