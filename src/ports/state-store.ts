/**
 * The state store: what several service instances share. Two adapters keep the same contract
 * (test/contract/state-store.contract.ts runs against both): `MemoryStateStore` (the embedded default: one
 * instance, nothing to install) and `RedisStateStore` (REDIS_URL: several instances, and a restart that keeps
 * sessions).
 *
 * Who owns what (docs/operations.md): a call belongs to the instance that received or placed it; that instance
 * writes a record of it after each decision so that a survivor can end it if the owner dies. Sessions, agents'
 * reservations and the event stream are shared. Every step two instances could race on (two sign-ins of one agent,
 * one phone for two agents, two calls offered to one agent, two survivors cleaning up one dead instance) is one
 * atomic step in the store.
 */

/** A signed-in agent's session, as every instance sees it. */
export interface SessionRecord {
  readonly workNo: string;
  /** The Guid the desktop sends. */
  readonly token: string;
  readonly phone: string;
  /** The instance that signed it in (informational: any instance serves it). */
  readonly instanceId: string;
  /** ms since the epoch. */
  readonly signedInAt: number;
  /** When the desk last polled or held its WebSocket (any instance), ms since the epoch; the heartbeat reads it. */
  readonly lastSeenAt?: number;
  /** The id of the last event a long poll took (where the next poll, on any instance, goes on). */
  readonly cursor?: string;
}

export type SignInOutcome =
  | { readonly ok: true; /** The session a forced sign-in took over, if any. */ readonly replaced: SessionRecord | null }
  | { readonly ok: false; readonly reason: 'agent-signed-in' | 'phone-taken'; /** Who holds it. */ readonly holder: string };

/** One leg of a recorded call: enough to end it from another instance. */
export interface LegRecord {
  readonly legId: string;
  /** drachtio's dialog id (Call-ID + tag), when the leg has a SIP dialog. */
  readonly dialogId?: string;
  /** The FreeSWITCH channel anchoring the leg's media. */
  readonly channelUuid?: string;
  readonly workNo?: string;
  /** The call ids the leg's agent knows (each gets its AgentEvent_Call_Release when the call is ended for it). */
  readonly callIds?: readonly string[];
}

/** What the owner of a call writes after each of its decisions. */
export interface CallRecordSnapshot {
  readonly callId: string;
  readonly instanceId: string;
  /** The drachtio-server process the call's dialogs live on (its connection id), when known. */
  readonly signallingSession?: string;
  readonly phase: string;
  readonly agents: readonly string[];
  readonly legs: readonly LegRecord[];
  readonly updatedAt: number;
  /** The call as its owner's core sees it (CallState, JSON) and when it began: for views on other instances. */
  readonly view?: { readonly state: unknown; readonly startedAt: number };
}

/** An agent event as stored; its id has the shape of a Redis stream entry's id (`<ms>-<seq>`), see compareEventIds. */
export interface StoredEvent<E = unknown> {
  readonly id: string;
  readonly workNo: string;
  readonly event: E;
}

export interface InstanceInfo {
  readonly instanceId: string;
  /** 'serving' takes new calls; 'draining' keeps its calls but takes no new ones. */
  readonly mode: 'serving' | 'draining';
  readonly calls: number;
  /** Where its HTTP API is, for commands forwarded to the owner of a call. */
  readonly httpUrl: string;
}

/** What one instance tells the others (at most once: a replica that may have missed some reloads agentStates()). */
export type ClusterMessage =
  /** An agent's state as the sender now sees it (the directory's replica record), newest version wins. */
  | { readonly kind: 'agent'; readonly from: string; readonly record: AgentStateRecord }
  /** A dead instance's calls were ended: its agents' calls are gone. */
  | { readonly kind: 'instance-gone'; readonly from: string; readonly instanceId: string }
  /**
   * A session ended on the sender (signed out, or taken over by a forced sign-in): every instance forgets the token
   * and closes that session's desk connections it holds (not a newer session of the agent).
   */
  | { readonly kind: 'session-ended'; readonly from: string; readonly workNo: string; readonly token: string; readonly reason: SessionEndReason }
  /** A handset's registration changed on the sender (REGISTER, refresh, removal): every instance can call it now. */
  | { readonly kind: 'registration'; readonly from: string; readonly record: RegistrationRecord };

/** One contact a handset registered (what the registrar keeps, see telephony/registrations.ts). */
export interface SharedBinding {
  readonly contact: string;
  readonly via?: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
  readonly callId: string;
  readonly cseq: number;
}

/** A handset's registered contacts, as the instance that took its last REGISTER left them. */
export interface RegistrationRecord {
  readonly phone: string;
  readonly bindings: readonly SharedBinding[];
}

/** Why a session ended, as the desks are told (the WebSocket's close code and reason follow from it). */
export type SessionEndReason = 'signed-out' | 'taken-over';

/** A shared failure count (e.g. wrong passwords of one account or one source), as countFailure left it. */
export interface FailureCount {
  readonly count: number;
  /** ms until the count is forgotten (0 with no count). */
  readonly expiresInMs: number;
}

/** One agent's shared state, as the directory exports it (opaque to the store). */
export interface AgentStateRecord {
  readonly workNo: string;
  /** Orders the records of one agent: the newest wins (ms since the epoch * 1000 + a counter). */
  readonly version: number;
  /** The instance that wrote it. */
  readonly instanceId: string;
  /** The calls of the writing instance that hold the agent. */
  readonly callsHere: readonly string[];
  readonly state: unknown;
}

/** Orders two event ids (`<ms>-<seq>`); '0', and anything that is not such an id, comes before every event. */
export function compareEventIds(a: string, b: string): number {
  const [am, as] = idParts(a);
  const [bm, bs] = idParts(b);
  return am !== bm ? am - bm : as - bs;
}

function idParts(id: string): [number, number] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(id);
  return match ? [Number(match[1]), Number(match[2] ?? 0)] : [0, 0];
}

export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`state store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StoreUnavailableError';
  }
}

export interface StateStore {
  readonly kind: 'memory' | 'redis';

  /* ---------------------------------------------------------------------------------- sessions */
  /**
   * Signs the agent in on the phone, atomically. Refused, checked in this order:
   * - 'agent-signed-in' when the agent has a session and `force` is false (even on the same phone); holder: the
   *   agent's own workNo;
   * - 'phone-taken' when another agent's session holds the phone, `force` or not (force only ever replaces the
   *   agent's own session); holder: that other agent's workNo.
   * A forced sign-in over a session returns it as `replaced`: its token no longer finds a session, and its phone,
   * if not the new one, is free for others.
   */
  signIn(session: SessionRecord, force: boolean): Promise<SignInOutcome>;
  /**
   * Ends the agent's session (its token no longer finds it, its phone is free); with `token`, only if that session
   * is still the current one (a stale token, e.g. of a session a forced sign-in replaced, ends nothing). True if one
   * ended.
   */
  signOut(workNo: string, token?: string): Promise<boolean>;
  sessionByToken(token: string): Promise<SessionRecord | null>;
  sessionOf(workNo: string): Promise<SessionRecord | null>;
  sessions(): Promise<SessionRecord[]>;
  /** Notes the desk's activity and, with `cursor`, how far its long poll got; nothing if the token is stale. */
  touchSession(workNo: string, token: string, at: number, cursor?: string): Promise<void>;

  /* ---------------------------------------------------------------------------------- agents on calls */
  /**
   * Reserves the agent for the call, atomically: true if the agent held no call, or already held this one. The
   * call's owner reserves before it rings an agent, so two instances never offer one agent two calls.
   */
  reserveAgent(workNo: string, callId: string): Promise<boolean>;
  /** Frees the agent of the call (nothing if another call holds it, or none). */
  releaseAgent(workNo: string, callId: string): Promise<void>;
  /** The call holding the agent, if any. */
  callOfAgent(workNo: string): Promise<string | null>;

  /* ---------------------------------------------------------------------------------- call records */
  /** Writes the call's record over any earlier one; it is then owned by `record.instanceId` only. */
  saveCall(record: CallRecordSnapshot): Promise<void>;
  /** Forgets the call and frees every agent it held (reserved for it, whether its record lists them or not). */
  deleteCall(callId: string): Promise<void>;
  callRecord(callId: string): Promise<CallRecordSnapshot | null>;
  /** In no particular order. */
  callsOwnedBy(instanceId: string): Promise<CallRecordSnapshot[]>;

  /* ---------------------------------------------------------------------------------- events */
  /**
   * Appends to the agent's stream (capped at the store's limit, exactly: oldest dropped); returns the new id. `event`
   * must survive JSON (the Redis adapter stores it as JSON; readers get the parsed copy).
   */
  appendEvent(workNo: string, event: unknown): Promise<string>;
  /**
   * Up to `limit` events of the agent after `afterId`, oldest first. '0' (or an id this store could not have made)
   * means from the oldest kept; an id older than the oldest kept gives everything kept.
   */
  eventsAfter(workNo: string, afterId: string, limit: number): Promise<StoredEvent[]>;
  /** The id of the agent's newest event ('0' when none): where a new session's stream starts. */
  lastEventId(workNo: string): Promise<string>;
  /**
   * Every event appended by any instance, this one included, as it comes: those appended after the store connected
   * and delivered while the listener is subscribed (no replay of older ones; at most once per subscriber), each
   * agent's in append order. Delivery may come before appendEvent resolves (memory: during the call) or after it
   * (Redis: from a reader loop). A listener that throws stops neither the others nor later deliveries. Returns
   * unsubscribe.
   */
  onEvent(listener: (stored: StoredEvent) => void): () => void;

  /* ---------------------------------------------------------------------------------- the directory's replicas */
  /** Keeps the agent's newest state (a record older than the kept one is ignored). */
  saveAgentState(record: AgentStateRecord): Promise<void>;
  agentStates(): Promise<AgentStateRecord[]>;
  /** To every instance but the sender's own subscription (Redis pub/sub; in memory: nobody else). */
  broadcast(message: ClusterMessage): Promise<void>;
  onBroadcast(listener: (message: ClusterMessage) => void): () => void;

  /* ---------------------------------------------------------------------------------- handsets' registrations */
  /**
   * Keeps the handset's contacts in place of the earlier ones (no binding: removed), until the last of them
   * expires (its expiresAt).
   */
  saveRegistration(record: RegistrationRecord): Promise<void>;
  /** Every handset's contacts kept (those whose bindings have all expired are gone), in no particular order. */
  registrations(): Promise<RegistrationRecord[]>;

  /* ---------------------------------------------------------------------------------- failure counts */
  /**
   * Counts one more failure under `key` (e.g. an account's or a source address's wrong passwords), atomically
   * across instances, and returns the new count; the count is forgotten `windowMs` after its last failure (each
   * failure starts the window over).
   */
  countFailure(key: string, windowMs: number): Promise<FailureCount>;
  /** The count under `key` now ({count: 0, expiresInMs: 0} when none or forgotten). */
  failureCount(key: string): Promise<FailureCount>;
  /** Forgets the count under `key` (a success). */
  clearFailures(key: string): Promise<void>;

  /* ---------------------------------------------------------------------------------- instances */
  /** Says "I am alive" until ttlMs from now, with what others need to know of this instance. */
  heartbeat(info: InstanceInfo, ttlMs: number): Promise<void>;
  /** Instances whose heartbeat has not expired. */
  liveInstances(): Promise<InstanceInfo[]>;
  /** Instances that own call records but have no live heartbeat: dead, their calls to be ended. */
  deadOwners(): Promise<string[]>;
  /**
   * Takes the right to clean up after a dead instance, atomically: only one survivor gets true, for ttlMs; the same
   * claimant asking again gets true too (and the claim's ttlMs starts over); once the claim expires, anyone may take it.
   */
  claimCleanup(deadInstanceId: string, byInstanceId: string, ttlMs: number): Promise<boolean>;
  /** Removes the instance's heartbeat (an orderly exit). */
  leave(instanceId: string): Promise<void>;

  /** Told when the store is reachable again after an outage (what was broadcast meanwhile was lost). */
  onReconnect?(listener: () => void): () => void;

  /**
   * False while the store cannot be reached (Redis down); calls in progress go on meanwhile. While it is false, every
   * method rejects with StoreUnavailableError at once instead of waiting for the store to come back (and one that
   * gets no answer in time rejects with it too: its effect is then unknown).
   */
  readonly available: boolean;
  close(): Promise<void>;
}
