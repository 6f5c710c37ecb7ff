/**
 * The state store in this process's memory: the embedded default (`npm start` with no REDIS_URL): one instance
 * (or several in one process, as the component tests run them). Every step is synchronous inside, so each is
 * atomic by construction. Expiry is read from the clock when
 * asked, not by timers, so nothing here keeps the process alive.
 */
import pino, { type Logger } from 'pino';
import { compareEventIds, type AgentStateRecord, type CallRecordSnapshot, type ClusterMessage, type FailureCount, type RegistrationRecord, type InstanceInfo, type SessionRecord, type SignInOutcome, type StateStore, type StoredEvent } from '../ports/state-store.js';

export interface MemoryStoreOptions {
  /** Events kept per agent (oldest dropped first). */
  readonly eventLimit?: number;
  readonly now?: () => number;
  /**
   * When a broadcast reaches the other subscribers (default: the next turn of the event loop, as a message on a
   * network would). Tests of races between instances widen it.
   */
  readonly broadcastDelayMs?: number;
  /** Where a listener's exception is reported (default: a pino logger of its own). */
  readonly logger?: Pick<Logger, 'error'>;
}

export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  private readonly byWorkNo = new Map<string, SessionRecord>();
  private readonly byToken = new Map<string, SessionRecord>();
  private readonly agentCalls = new Map<string, string>();
  private readonly calls = new Map<string, CallRecordSnapshot>();
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly listeners = new Set<(stored: StoredEvent) => void>();
  private readonly instances = new Map<string, { info: InstanceInfo; expiresAt: number }>();
  private readonly broadcastListeners = new Set<(message: ClusterMessage) => void>();
  private readonly agentStateRecords = new Map<string, AgentStateRecord>();
  private readonly cleanupClaims = new Map<string, { by: string; expiresAt: number }>();
  private readonly failures = new Map<string, { count: number; expiresAt: number }>();
  private readonly registrationRecords = new Map<string, RegistrationRecord>();
  private readonly eventLimit: number;
  private readonly broadcastDelayMs: number;
  private readonly now: () => number;
  private readonly logger: Pick<Logger, 'error'>;
  private seq = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.eventLimit = options.eventLimit ?? 1000;
    this.broadcastDelayMs = options.broadcastDelayMs ?? 0;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? pino({ name: 'state-store' });
  }

  async signIn(session: SessionRecord, force: boolean): Promise<SignInOutcome> {
    const current = this.byWorkNo.get(session.workNo);
    if (current && !force) return { ok: false, reason: 'agent-signed-in', holder: current.workNo };
    for (const other of this.byWorkNo.values()) {
      if (other.workNo !== session.workNo && other.phone === session.phone) return { ok: false, reason: 'phone-taken', holder: other.workNo };
    }
    if (current) this.byToken.delete(current.token);
    this.byWorkNo.set(session.workNo, session);
    this.byToken.set(session.token, session);
    return { ok: true, replaced: current ?? null };
  }

  async signOut(workNo: string, token?: string): Promise<boolean> {
    const current = this.byWorkNo.get(workNo);
    if (!current || (token !== undefined && current.token !== token)) return false;
    this.byWorkNo.delete(workNo);
    this.byToken.delete(current.token);
    return true;
  }

  async sessionByToken(token: string): Promise<SessionRecord | null> {
    return this.byToken.get(token) ?? null;
  }

  async sessionOf(workNo: string): Promise<SessionRecord | null> {
    return this.byWorkNo.get(workNo) ?? null;
  }

  async sessions(): Promise<SessionRecord[]> {
    return [...this.byWorkNo.values()];
  }

  async touchSession(workNo: string, token: string, at: number, cursor?: string): Promise<void> {
    const current = this.byWorkNo.get(workNo);
    if (!current || current.token !== token) return;
    const updated: SessionRecord = { ...current, lastSeenAt: at, ...(cursor !== undefined ? { cursor } : {}) };
    this.byWorkNo.set(workNo, updated);
    this.byToken.set(token, updated);
  }

  async reserveAgent(workNo: string, callId: string): Promise<boolean> {
    const holder = this.agentCalls.get(workNo);
    if (holder !== undefined && holder !== callId) return false;
    this.agentCalls.set(workNo, callId);
    return true;
  }

  async releaseAgent(workNo: string, callId: string): Promise<void> {
    if (this.agentCalls.get(workNo) === callId) this.agentCalls.delete(workNo);
  }

  async callOfAgent(workNo: string): Promise<string | null> {
    return this.agentCalls.get(workNo) ?? null;
  }

  async saveCall(record: CallRecordSnapshot): Promise<void> {
    this.calls.set(record.callId, record);
  }

  async deleteCall(callId: string): Promise<void> {
    this.calls.delete(callId);
    for (const [workNo, holder] of this.agentCalls) if (holder === callId) this.agentCalls.delete(workNo);
  }

  async callRecord(callId: string): Promise<CallRecordSnapshot | null> {
    return this.calls.get(callId) ?? null;
  }

  async callsOwnedBy(instanceId: string): Promise<CallRecordSnapshot[]> {
    return [...this.calls.values()].filter((c) => c.instanceId === instanceId);
  }

  async appendEvent(workNo: string, event: unknown): Promise<string> {
    // One sequence for the process: ids order as Redis stream ids do (compareEventIds).
    const stored: StoredEvent = { id: `0-${++this.seq}`, workNo, event };
    let stream = this.streams.get(workNo);
    if (!stream) this.streams.set(workNo, (stream = []));
    stream.push(stored);
    if (stream.length > this.eventLimit) stream.splice(0, stream.length - this.eventLimit);
    for (const listener of [...this.listeners]) {
      try {
        listener(stored);
      } catch (error) {
        this.logger.error({ err: error, workNo, eventId: stored.id }, 'state store: an event listener threw');
      }
    }
    return stored.id;
  }

  async eventsAfter(workNo: string, afterId: string, limit: number): Promise<StoredEvent[]> {
    const stream = this.streams.get(workNo) ?? [];
    return stream.filter((e) => compareEventIds(e.id, afterId) > 0).slice(0, limit);
  }

  async lastEventId(workNo: string): Promise<string> {
    return this.streams.get(workNo)?.at(-1)?.id ?? '0';
  }

  onEvent(listener: (stored: StoredEvent) => void): () => void {
    // Wrapped, so that one function subscribed twice gets each event twice and unsubscribes once per subscription.
    const subscription = (stored: StoredEvent): void => listener(stored);
    this.listeners.add(subscription);
    return () => this.listeners.delete(subscription);
  }

  async saveAgentState(record: AgentStateRecord): Promise<void> {
    const kept = this.agentStateRecords.get(record.workNo);
    if (!kept || kept.version <= record.version) this.agentStateRecords.set(record.workNo, record);
  }

  async agentStates(): Promise<AgentStateRecord[]> {
    return [...this.agentStateRecords.values()];
  }

  /** To every subscriber, the sender's own too (it ignores its own): instances sharing this object in one process. */
  async broadcast(message: ClusterMessage): Promise<void> {
    const deliver = (): void => {
      for (const listener of this.broadcastListeners) listener(message);
    };
    if (this.broadcastDelayMs > 0) setTimeout(deliver, this.broadcastDelayMs);
    else setImmediate(deliver);
  }

  onBroadcast(listener: (message: ClusterMessage) => void): () => void {
    this.broadcastListeners.add(listener);
    return () => this.broadcastListeners.delete(listener);
  }

  async saveRegistration(record: RegistrationRecord): Promise<void> {
    if (record.bindings.length === 0) this.registrationRecords.delete(record.phone);
    else this.registrationRecords.set(record.phone, record);
  }

  async registrations(): Promise<RegistrationRecord[]> {
    const now = this.now();
    for (const [phone, r] of this.registrationRecords) if (r.bindings.every((b) => b.expiresAt <= now)) this.registrationRecords.delete(phone);
    return [...this.registrationRecords.values()];
  }

  async countFailure(key: string, windowMs: number): Promise<FailureCount> {
    const now = this.now();
    const kept = this.failures.get(key);
    const count = (kept && kept.expiresAt > now ? kept.count : 0) + 1;
    this.failures.set(key, { count, expiresAt: now + windowMs });
    // Bounded against counts under many keys (guessing across work numbers or addresses): expired ones go.
    if (this.failures.size > 10_000) for (const [k, f] of this.failures) if (f.expiresAt <= now) this.failures.delete(k);
    return { count, expiresInMs: windowMs };
  }

  async failureCount(key: string): Promise<FailureCount> {
    const kept = this.failures.get(key);
    const left = kept ? kept.expiresAt - this.now() : 0;
    if (!kept || left <= 0) return { count: 0, expiresInMs: 0 };
    return { count: kept.count, expiresInMs: left };
  }

  async clearFailures(key: string): Promise<void> {
    this.failures.delete(key);
  }

  async heartbeat(info: InstanceInfo, ttlMs: number): Promise<void> {
    this.instances.set(info.instanceId, { info, expiresAt: this.now() + ttlMs });
  }

  async liveInstances(): Promise<InstanceInfo[]> {
    const now = this.now();
    return [...this.instances.values()].filter((i) => i.expiresAt > now).map((i) => i.info);
  }

  async deadOwners(): Promise<string[]> {
    const live = new Set((await this.liveInstances()).map((i) => i.instanceId));
    return [...new Set([...this.calls.values()].map((c) => c.instanceId))].filter((id) => !live.has(id));
  }

  async claimCleanup(deadInstanceId: string, byInstanceId: string, ttlMs: number): Promise<boolean> {
    const claim = this.cleanupClaims.get(deadInstanceId);
    if (claim && claim.expiresAt > this.now() && claim.by !== byInstanceId) return false;
    this.cleanupClaims.set(deadInstanceId, { by: byInstanceId, expiresAt: this.now() + ttlMs });
    return true;
  }

  async leave(instanceId: string): Promise<void> {
    this.instances.delete(instanceId);
  }

  /** Nothing to close: subscribers unsubscribe themselves (several instances of a test may share this object). */
  async close(): Promise<void> {}
}
