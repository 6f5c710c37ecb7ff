/**
 * The presence decider: (agent presence, event) -> new presence, timer commands, AgentState_* events and, for an
 * agent's request, a reply. Pure: no clock (time comes in the events), no I/O; timer ids come from a counter.
 * Stale timers and repeated requests change nothing, so late or doubled events are harmless.
 */
import { refuse } from '../refusals.js';
import type { AgentEvent, AgentEventType, EventContent, Reply } from '../types.js';
import {
  NO_ANSWER_REASON,
  type AgentPresence,
  type PresenceCommand,
  type PresenceConfig,
  type PresenceDecision,
  type PresenceEvent,
  type PresenceRequest,
  type PresenceStatus,
  type PresenceTimer,
} from './types.js';

export function decidePresence(state: AgentPresence | null, event: PresenceEvent, config: PresenceConfig): PresenceDecision {
  if (event.type === 'SignedIn') {
    // A second sign-in (forcelogin) keeps the state the agent is in.
    if (state) return { state, commands: [], events: [] };
    const ready = config.initialStatus === 'ready';
    const fresh: AgentPresence = { workNo: event.workNo, status: config.initialStatus, reason: 0, onCall: false, idleSince: ready ? event.at : null, timer: null, seq: 0 };
    return { state: fresh, commands: [], events: [] };
  }
  if (!state) return event.type === 'Request' ? { state, commands: [], events: [], reply: refuse('AGENT_NOT_SIGNED_IN') } : { state, commands: [], events: [] };
  const draft = new Draft(state, config, event.at);
  if (event.type === 'SignedOut') {
    draft.clearTimer();
    return { state: null, commands: draft.commands, events: [] };
  }
  const reply = draft.apply(event);
  return { ...draft.finish(), ...(reply ? { reply } : {}) };
}

/** Whether the agent may be offered a customer call or a help request now. */
export function isAvailable(presence: AgentPresence | undefined | null): boolean {
  return presence?.status === 'ready' && !presence.onCall;
}

class Draft {
  readonly commands: PresenceCommand[] = [];
  private readonly events: AgentEvent[] = [];

  constructor(
    private s: AgentPresence,
    private readonly config: PresenceConfig,
    private readonly at: number,
  ) {}

  finish(): { state: AgentPresence; commands: readonly PresenceCommand[]; events: readonly AgentEvent[] } {
    return { state: this.s, commands: this.commands, events: this.events };
  }

  apply(event: Exclude<PresenceEvent, { type: 'SignedIn' | 'SignedOut' }>): Reply | undefined {
    switch (event.type) {
      case 'CallsChanged':
        this.s = { ...this.s, onCall: event.onCall };
        this.refreshIdle();
        return undefined;
      case 'CustomerCallEnded':
        // Only an agent who takes calls gets wrap-up; one who said busy or rests stays so.
        if (this.s.status === 'ready' && this.config.wrapUpSeconds > 0) {
          this.enter('wrap-up', 0);
          this.startTimer('wrap-up', this.config.wrapUpSeconds);
          this.emit('AgentState_Work', null);
        }
        return undefined;
      case 'OfferUnanswered':
        this.sayBusy(NO_ANSWER_REASON);
        return undefined;
      case 'TimerFired':
        this.timerFired(event.timerId);
        return undefined;
      case 'Request':
        return this.request(event.request);
    }
  }

  private request(request: PresenceRequest): Reply {
    switch (request.kind) {
      case 'saybusy':
        this.sayBusy(request.reason);
        return ok();
      case 'sayfree':
        this.becomeReady();
        return ok();
      case 'cancelbusy':
        if (this.s.status !== 'not-ready') return refuse('AGENT_NOT_BUSY');
        this.becomeReady();
        return ok();
      case 'rest':
        // Rest is time off the phone: it cannot start in the middle of a call.
        if (this.s.onCall) return refuse('AGENT_BUSY');
        this.clearTimer();
        this.enter('rest', request.reason);
        this.startTimer('rest', request.seconds);
        this.emit('AgentState_SetRest_Success', { reason: request.reason, time: request.seconds });
        return ok();
      case 'cancelrest':
        if (this.s.status !== 'rest') return refuse('AGENT_NOT_RESTING');
        this.becomeReady();
        return ok();
    }
  }

  private sayBusy(reason: number): void {
    this.clearTimer();
    this.enter('not-ready', reason);
    this.emit('AgentState_SetNotReady_Success', { reason });
  }

  /** sayfree / cancelbusy / cancelrest / a timer ran out: the agent takes calls again. */
  private becomeReady(): void {
    const was = this.s.status;
    if (was === 'ready') return;
    this.clearTimer();
    if (was === 'not-ready') this.emit('AgentState_CancelNotReady_Success', null);
    if (was === 'rest') this.emit('AgentState_CancelRest_Success', null);
    this.enter('ready', 0);
    this.emit('AgentState_Ready', null);
  }

  private timerFired(timerId: string): void {
    const timer = this.s.timer;
    if (!timer || timer.id !== timerId) return;
    this.s = { ...this.s, timer: null };
    // The vendor's reminder first, so a desktop written for it sees the rest end as it expects; then ready (our
    // choice: the vendor leaves the agent resting until it cancels).
    if (timer.purpose === 'rest') this.emit('AgentState_Rest_Timeout', null);
    this.enter('ready', 0);
    this.emit('AgentState_Ready', null);
  }

  private enter(status: PresenceStatus, reason: number): void {
    this.s = { ...this.s, status, reason };
    this.refreshIdle();
  }

  /** Idle time counts from the moment the agent became ready with no call; anything else stops it. */
  private refreshIdle(): void {
    const available = this.s.status === 'ready' && !this.s.onCall;
    if (!available) this.s = { ...this.s, idleSince: null };
    else if (this.s.idleSince === null) this.s = { ...this.s, idleSince: this.at };
  }

  private startTimer(purpose: PresenceTimer['purpose'], seconds: number): void {
    const seq = this.s.seq + 1;
    const timer: PresenceTimer = { id: `${this.s.workNo}-p${seq}`, purpose, dueAt: this.at + seconds * 1000 };
    this.s = { ...this.s, seq, timer };
    this.commands.push({ kind: 'startTimer', timerId: timer.id, seconds });
  }

  clearTimer(): void {
    if (!this.s.timer) return;
    this.commands.push({ kind: 'cancelTimer', timerId: this.s.timer.id });
    this.s = { ...this.s, timer: null };
  }

  private emit(eventType: AgentEventType, content: EventContent): void {
    this.events.push({ workNo: this.s.workNo, eventType, content });
  }
}

function ok(): Reply {
  return { ok: true, result: null };
}

/**
 * Fair routing: the agents in the order they should be offered the next call. Available agents first, the one idle
 * longest leading; ties and unavailable agents keep the order given (the configuration's).
 */
export function longestIdleFirst<T extends { readonly workNo: string }>(agents: readonly T[], idleSince: (workNo: string) => number | null): T[] {
  const ranked = agents.map((agent, index) => ({ agent, index, since: idleSince(agent.workNo) }));
  ranked.sort((a, b) => {
    if (a.since !== null && b.since !== null && a.since !== b.since) return a.since - b.since;
    if ((a.since === null) !== (b.since === null)) return a.since === null ? 1 : -1;
    return a.index - b.index;
  });
  return ranked.map((r) => r.agent);
}
