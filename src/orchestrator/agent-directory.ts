/**
 * Who the agents are, who is signed in on which phone, who is on a call, and each agent's presence (ready, not ready,
 * rest, wrap-up: the pure presence decider's state, whose timers run here and come back to it as events).
 *
 * Busy-ness is derived from the calls (the orchestrator tells the directory which agents each call holds after every
 * decision), so it can never drift from the calls themselves. Everything here is synchronous: a check followed by a
 * decision in the same tick cannot race with another call of this instance.
 *
 * With several instances each keeps a replica: every change of an agent here is exported (onStateChange ->
 * cluster/directory-sync.ts) and the other instances import it; the calls of other instances that hold an agent
 * count as busy here. What two instances could still race on (offering one agent two calls) is settled by the
 * store's atomic reservation before an agent is rung (see the orchestrator's dial).
 */
import { decidePresence, isAvailable, longestIdleFirst } from '../core/presence/decide.js';
import type { AgentPresence, PresenceConfig, PresenceEvent, PresenceRequest } from '../core/presence/types.js';
import type { AgentEvent, AgentSnapshot, CallId, PresenceNotice, Reply } from '../core/types.js';
import { realTimers, type TimerSource } from './timers.js';

export interface AgentProfile {
  readonly workNo: string;
  readonly phone: string;
  readonly skills: readonly string[];
}

type Listener = () => void;

export interface DirectoryOptions {
  /** Default: agents start ready and have no wrap-up (the service passes its configuration). */
  readonly presence?: PresenceConfig;
  readonly timers?: TimerSource;
  /** Milliseconds since the epoch; tests pass a clock of their own. */
  readonly now?: () => number;
  /**
   * Several instances: how long after an agent's wrap-up or rest should have run out this instance ends it itself,
   * when the instance whose timer it is has not (it died). Default 3000 ms (the service passes the heartbeat's
   * expiry). Earlier would make both instances end it (the agent's desk would be told twice).
   */
  readonly timerBackupMs?: number;
}

/** What a supervisor sees of an agent: signed out, signed in and free, or on a call (ringing or talking). */
export type BoardPresence = 'signed-out' | 'idle' | 'busy';

/** One agent's state as another instance needs it (JSON). */
export interface ReplicaState {
  readonly phone: string | null;
  readonly presence: AgentPresence | null;
  readonly statusSince: number | null;
  readonly board: { readonly presence: BoardPresence; readonly since: number } | null;
}

export class AgentDirectory {
  private readonly profiles = new Map<string, AgentProfile>();
  /** workNo -> phone the agent signed in with. */
  private readonly signedIn = new Map<string, string>();
  /** callId -> agents that call holds (ringing or talking). */
  private readonly agentsByCall = new Map<CallId, ReadonlySet<string>>();
  private readonly listeners = new Set<Listener>();
  private readonly presences = new Map<string, AgentPresence>();
  private readonly presenceTimers = new Map<string, unknown>();
  /** workNo -> the timer armed here for a wrap-up or rest another instance's timer should end (see syncBackup). */
  private readonly backups = new Map<string, { readonly timerId: string; readonly handle: unknown }>();
  private readonly timerBackupMs: number;
  private readonly eventListeners = new Set<(event: AgentEvent) => void>();
  private readonly presenceConfig: PresenceConfig;
  private readonly timers: TimerSource;
  private readonly now: () => number;

  /** workNo -> what the wall shows of the agent and when it last changed (ms since the epoch). */
  private readonly presenceSince = new Map<string, { presence: BoardPresence; since: number }>();
  /** workNo -> when the agent entered its current presence status (ready, not ready, rest, wrap-up), ms. */
  private readonly statusSince = new Map<string, number>();
  /** instanceId -> workNo -> that instance's calls holding the agent (from its exported states). */
  private readonly remoteCalls = new Map<string, Map<string, readonly string[]>>();
  private readonly stateListeners = new Set<(workNo: string) => void>();
  private importing = false;

  constructor(profiles: readonly AgentProfile[], options: DirectoryOptions = {}) {
    for (const p of profiles) this.profiles.set(p.workNo, p);
    this.presenceConfig = options.presence ?? { initialStatus: 'ready', wrapUpSeconds: 0 };
    this.timers = options.timers ?? realTimers;
    this.now = options.now ?? Date.now;
    this.timerBackupMs = options.timerBackupMs ?? 3000;
  }

  /** What the wall shows of the agent and since when (null: never seen signed in since the service started). */
  boardPresenceOf(workNo: string): { readonly presence: BoardPresence; readonly since: number | null } {
    const presence = this.currentPresence(workNo);
    const recorded = this.presenceSince.get(workNo);
    return { presence, since: recorded && recorded.presence === presence ? recorded.since : null };
  }

  private currentPresence(workNo: string): BoardPresence {
    if (!this.signedIn.has(workNo)) return 'signed-out';
    return this.isBusy(workNo) ? 'busy' : 'idle';
  }

  /** Notes the time of a change of presence (called after anything that may change it). */
  private touch(workNo: string): void {
    const presence = this.currentPresence(workNo);
    if (this.presenceSince.get(workNo)?.presence !== presence) this.presenceSince.set(workNo, { presence, since: this.now() });
  }

  profile(workNo: string): AgentProfile | undefined {
    return this.profiles.get(workNo);
  }

  allProfiles(): readonly AgentProfile[] {
    return [...this.profiles.values()];
  }

  signIn(workNo: string, phone?: string): void {
    const profile = this.profiles.get(workNo);
    if (!profile) throw new Error(`unknown agent ${workNo}`);
    this.signedIn.set(workNo, phone ?? profile.phone);
    this.presenceEvent(workNo, { type: 'SignedIn', workNo, at: this.now() });
    this.touch(workNo);
    this.stateChanged(workNo);
    this.changed();
  }

  signOut(workNo: string): void {
    if (!this.signedIn.delete(workNo)) return;
    this.presenceEvent(workNo, { type: 'SignedOut', at: this.now() });
    this.touch(workNo);
    this.stateChanged(workNo);
    this.changed();
  }

  /* ------------------------------------------------------------------------------------------ presence */

  /** An agent's saybusy / sayfree / cancelbusy / rest / cancelrest. */
  presenceRequest(workNo: string, request: PresenceRequest): Reply {
    return this.presenceEvent(workNo, { type: 'Request', request, at: this.now() }) ?? { ok: true, result: null };
  }

  presenceOf(workNo: string): AgentPresence | undefined {
    return this.presences.get(workNo);
  }

  /** When the agent entered its current presence status (ms since the epoch); null while signed out. */
  presenceSinceOf(workNo: string): number | null {
    return this.presences.has(workNo) ? (this.statusSince.get(workNo) ?? null) : null;
  }

  /** What a call's decision means for its agents (wrap-up due, an offer rang out); before setCallAgents. */
  applyCallNotices(notices: readonly PresenceNotice[]): void {
    for (const notice of notices) {
      const at = this.now();
      this.presenceEvent(notice.workNo, notice.kind === 'customer-call-ended' ? { type: 'CustomerCallEnded', at } : { type: 'OfferUnanswered', at });
    }
  }

  /** Every AgentState_* event, as the presence decider makes it. */
  onAgentEvent(listener: (event: AgentEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Runs one presence decision: its timers here, its events out, and queued calls told when an agent became free. */
  private presenceEvent(workNo: string, event: PresenceEvent): Reply | undefined {
    const before = this.presences.get(workNo) ?? null;
    const decision = decidePresence(before, event, this.presenceConfig);
    if (decision.state) this.presences.set(workNo, decision.state);
    else this.presences.delete(workNo);
    if (!decision.state) this.statusSince.delete(workNo);
    else if (decision.state.status !== before?.status) this.statusSince.set(workNo, event.at);
    for (const command of decision.commands) {
      if (command.kind === 'cancelTimer') {
        const handle = this.presenceTimers.get(command.timerId);
        if (handle !== undefined) this.timers.clear(handle);
        this.presenceTimers.delete(command.timerId);
        continue;
      }
      const handle = this.timers.set(() => {
        this.presenceTimers.delete(command.timerId);
        this.presenceEvent(workNo, { type: 'TimerFired', timerId: command.timerId, at: this.now() });
      }, command.seconds * 1000);
      this.presenceTimers.set(command.timerId, handle);
    }
    this.syncBackup(workNo);
    for (const e of decision.events) for (const listener of this.eventListeners) listener(e);
    this.stateChanged(workNo);
    if (!isAvailable(before) && isAvailable(decision.state) && event.type !== 'CallsChanged' && event.type !== 'SignedIn') this.changed();
    return decision.reply;
  }

  signedInCount(): number {
    return this.signedIn.size;
  }

  isSignedIn(workNo: string): boolean {
    return this.signedIn.has(workNo);
  }

  /** The phone the agent signed in with, else the one configured. */
  phoneOf(workNo: string): string | undefined {
    return this.signedIn.get(workNo) ?? this.profiles.get(workNo)?.phone;
  }

  /** The signed-in agent using this phone, if any. */
  agentOnPhone(phone: string): string | undefined {
    for (const [workNo, p] of this.signedIn) if (p === phone) return workNo;
    return undefined;
  }

  callsOf(workNo: string): CallId[] {
    const calls: CallId[] = [];
    for (const [callId, agents] of this.agentsByCall) if (agents.has(workNo)) calls.push(callId);
    return calls;
  }

  /** On a call of this instance, or of another (from its exported state). */
  isBusy(workNo: string): boolean {
    return this.callsOf(workNo).length > 0 || this.remoteOwnerOf(workNo) !== null;
  }

  /* ------------------------------------------------------------------------------------------ replicas */

  /** Told after every change of an agent made here (not of one imported from another instance). */
  onStateChange(listener: (workNo: string) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  exportState(workNo: string): ReplicaState {
    return {
      phone: this.signedIn.get(workNo) ?? null,
      presence: this.presences.get(workNo) ?? null,
      statusSince: this.statusSince.get(workNo) ?? null,
      board: this.presenceSince.get(workNo) ?? null,
    };
  }

  /**
   * Another instance's view of the agent: that instance's calls holding the agent, and its state of the agent
   * (null: older than what is known here, only the calls count).
   */
  importState(fromInstance: string, workNo: string, state: ReplicaState | null, callsThere: readonly string[]): void {
    if (!this.profiles.has(workNo)) return;
    const wasAvailable = this.availableNow(workNo);
    this.importing = true;
    try {
      if (state) {
        if (state.phone === null) this.signedIn.delete(workNo);
        else this.signedIn.set(workNo, state.phone);
        if (state.presence === null) this.presences.delete(workNo);
        else this.presences.set(workNo, state.presence);
        if (state.statusSince === null) this.statusSince.delete(workNo);
        else this.statusSince.set(workNo, state.statusSince);
        if (state.board) this.presenceSince.set(workNo, state.board);
      }
      this.syncBackup(workNo);
      let calls = this.remoteCalls.get(fromInstance);
      if (!calls) this.remoteCalls.set(fromInstance, (calls = new Map()));
      if (callsThere.length === 0) calls.delete(workNo);
      else calls.set(workNo, callsThere);
    } finally {
      this.importing = false;
    }
    if (this.availableNow(workNo) && !wasAvailable) this.changed();
  }

  /** Signed in, on no call of any instance, and ready: a call may be offered to the agent. */
  private availableNow(workNo: string): boolean {
    return this.signedIn.has(workNo) && !this.isBusy(workNo) && isAvailable(this.presences.get(workNo) ?? null);
  }

  /**
   * An agent in wrap-up or rest whose timer runs on another instance (the state came from there): a timer here
   * ends it timerBackupMs after its deadline, if it is still that timer then. The instance that armed it ends it at
   * the deadline and its new state arrives here long before; if that instance died, this one (a survivor, or the
   * same instance restarted, which reloads its states) ends it instead. Stale timer events change nothing (the
   * presence decider's rule), so a late or doubled one is harmless.
   */
  private syncBackup(workNo: string): void {
    const timer = this.presences.get(workNo)?.timer ?? null;
    const wanted = timer && !this.presenceTimers.has(timer.id) && typeof timer.dueAt === 'number' ? timer : null;
    const kept = this.backups.get(workNo);
    if (kept && kept.timerId === wanted?.id) return;
    if (kept) {
      this.timers.clear(kept.handle);
      this.backups.delete(workNo);
    }
    if (!wanted) return;
    const handle = this.timers.set(
      () => {
        this.backups.delete(workNo);
        if (this.presences.get(workNo)?.timer?.id !== wanted.id) return;
        this.presenceEvent(workNo, { type: 'TimerFired', timerId: wanted.id, at: this.now() });
      },
      Math.max(0, wanted.dueAt - this.now()) + this.timerBackupMs,
    );
    this.backups.set(workNo, { timerId: wanted.id, handle });
  }

  /** The other instance whose call holds the agent, as its last exported state says (null: none known). */
  remoteOwnerOf(workNo: string): string | null {
    for (const [instanceId, calls] of this.remoteCalls) if ((calls.get(workNo)?.length ?? 0) > 0) return instanceId;
    return null;
  }

  /** A dead instance's calls were ended: none of them holds an agent any more. */
  forgetInstance(instanceId: string): void {
    if (this.remoteCalls.delete(instanceId)) this.changed();
  }

  /**
   * A survivor ended the agent's calls of a dead instance: the agent's presence hears it is off the call, as it
   * would have from that instance (and the new state goes to every instance).
   */
  callsEndedElsewhere(workNo: string): void {
    if (!this.signedIn.has(workNo) || this.isBusy(workNo) || !this.presences.get(workNo)?.onCall) return;
    this.presenceEvent(workNo, { type: 'CallsChanged', onCall: false, at: this.now() });
    this.touch(workNo);
  }

  private stateChanged(workNo: string): void {
    if (this.importing) return;
    for (const listener of this.stateListeners) listener(workNo);
  }

  /** The agents a call of this instance holds now. */
  agentsOfCall(callId: CallId): ReadonlySet<string> {
    return this.agentsByCall.get(callId) ?? new Set();
  }

  /** Called by the orchestrator after each decision: the agents a call now holds. */
  setCallAgents(callId: CallId, agents: ReadonlySet<string>): void {
    const before = this.agentsByCall.get(callId);
    const touched = new Set([...(before ?? []), ...agents]);
    const wasBusy = new Map([...touched].map((a) => [a, this.isBusy(a)]));
    if (agents.size === 0) this.agentsByCall.delete(callId);
    else this.agentsByCall.set(callId, agents);
    const at = this.now();
    for (const [workNo, busy] of wasBusy) {
      const onCall = this.isBusy(workNo);
      if (onCall !== busy) this.presenceEvent(workNo, { type: 'CallsChanged', onCall, at });
    }
    for (const workNo of new Set([...(before ?? []), ...agents])) {
      this.touch(workNo);
      this.stateChanged(workNo);
    }
    const freed = before ? [...before].some((a) => !agents.has(a)) : false;
    if (freed) this.changed();
  }

  snapshot(workNo: string): AgentSnapshot | undefined {
    const profile = this.profiles.get(workNo);
    if (!profile) return undefined;
    return {
      workNo,
      phone: this.phoneOf(workNo) ?? profile.phone,
      signedIn: this.signedIn.has(workNo),
      busy: this.isBusy(workNo),
      ready: this.presences.get(workNo)?.status === 'ready',
    };
  }

  /** Agents with the skill in the order they get the next call: the longest idle first (fair routing). */
  withSkill(skill: string): AgentSnapshot[] {
    const result: AgentSnapshot[] = [];
    for (const p of this.profiles.values()) {
      if (p.skills.includes(skill)) result.push(this.snapshot(p.workNo) as AgentSnapshot);
    }
    return longestIdleFirst(result, (workNo) => this.presences.get(workNo)?.idleSince ?? null);
  }

  /** Told when an agent may have become available (signed in, or left a call). */
  onAvailabilityChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
