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
  | { readonly kind: 'instance-gone'; readonly from: string; readonly instanceId: string };

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

/** Orders two event ids (`<ms>-<seq>`); '0' comes before every event. */
export function compareEventIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
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
   * Signs the agent in on the phone, atomically: refused when the agent has a session (unless `force`, which
   * replaces it) or when another agent's session holds the phone.
   */
  signIn(session: SessionRecord, force: boolean): Promise<SignInOutcome>;
  /** Ends the agent's session; with `token`, only if that session is still the current one. True if one ended. */
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
  /** Frees the agent of the call (nothing if another call holds it). */
  releaseAgent(workNo: string, callId: string): Promise<void>;
  /** The call holding the agent, if any. */
  callOfAgent(workNo: string): Promise<string | null>;

  /* ---------------------------------------------------------------------------------- call records */
  saveCall(record: CallRecordSnapshot): Promise<void>;
  /** Forgets the call and frees the agents it held. */
  deleteCall(callId: string): Promise<void>;
  callRecord(callId: string): Promise<CallRecordSnapshot | null>;
  callsOwnedBy(instanceId: string): Promise<CallRecordSnapshot[]>;

  /* ---------------------------------------------------------------------------------- events */
  /** Appends to the agent's stream (capped at the store's limit, oldest dropped); returns the new id. */
  appendEvent(workNo: string, event: unknown): Promise<string>;
  /** Up to `limit` events of the agent after `afterId` ('0': from the oldest kept), oldest first. */
  eventsAfter(workNo: string, afterId: string, limit: number): Promise<StoredEvent[]>;
  /** The id of the agent's newest event ('0' when none): where a new session's stream starts. */
  lastEventId(workNo: string): Promise<string>;
  /** Every event appended by any instance, as it comes (at most once per subscriber). Returns unsubscribe. */
  onEvent(listener: (stored: StoredEvent) => void): () => void;

  /* ---------------------------------------------------------------------------------- the directory's replicas */
  /** Keeps the agent's newest state (a record older than the kept one is ignored). */
  saveAgentState(record: AgentStateRecord): Promise<void>;
  agentStates(): Promise<AgentStateRecord[]>;
  /** To every instance but the sender's own subscription (Redis pub/sub; in memory: nobody else). */
  broadcast(message: ClusterMessage): Promise<void>;
  onBroadcast(listener: (message: ClusterMessage) => void): () => void;

  /* ---------------------------------------------------------------------------------- instances */
  /** Says "I am alive" until ttlMs from now, with what others need to know of this instance. */
  heartbeat(info: InstanceInfo, ttlMs: number): Promise<void>;
  /** Instances whose heartbeat has not expired. */
  liveInstances(): Promise<InstanceInfo[]>;
  /** Instances that own call records but have no live heartbeat: dead, their calls to be ended. */
  deadOwners(): Promise<string[]>;
  /** Takes the right to clean up after a dead instance, atomically: only one survivor gets true (for ttlMs). */
  claimCleanup(deadInstanceId: string, byInstanceId: string, ttlMs: number): Promise<boolean>;
  /** Removes the instance's heartbeat (an orderly exit). */
  leave(instanceId: string): Promise<void>;

  /** False while the store cannot be reached (Redis down); calls in progress go on meanwhile. */
  readonly available: boolean;
  close(): Promise<void>;
}
