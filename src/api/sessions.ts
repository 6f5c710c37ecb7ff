/**
 * Signed-in agents, as this instance serves their desktops. The sessions themselves (Guid, phone, how far the long
 * poll got, when the desk was last seen) are in the state store, so any instance serves any desk; the agent events
 * are in the store's per-agent streams, with ids, so a desk that reconnects, to any instance, resumes after the
 * last event it saw. What stays here: the long polls waiting on this instance, the WebSockets open on it, and the
 * heartbeat that signs out an agent whose desk stopped polling (checked against the store's last-seen time, which
 * every instance updates).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventContent } from '../core/types.js';
import type { AgentDirectory } from '../orchestrator/agent-directory.js';
import type { CallControl, TimedAgentEvent } from '../orchestrator/call-control.js';
import { compareEventIds, type SessionEndReason, type StateStore, type StoredEvent } from '../ports/state-store.js';
import { WsClose, type WsCloseReason } from './close-codes.js';
import { SessionTokens } from './session-tokens.js';

/**
 * Sent on the agent's stream when the heartbeat would have signed it out but the agent is on a call: it stays
 * signed in (its call goes on), and the desk shows why when it comes back. Content {reason, missedSeconds}.
 */
export const KEPT_SIGNED_IN = 'AgentState_KeptSignedIn';

/** An event as a desk gets it: with its id in the agent's stream (to resume after it). */
export interface DeliveredEvent extends TimedAgentEvent {
  readonly eventId: string;
}

/** The vendor's event envelope (plus the event's id, which desks pass back as `after` to resume). */
export interface EventEnvelope {
  readonly message: string;
  readonly retcode: '0';
  readonly event: { readonly eventType: string; readonly workNo: string; readonly eventGenTime: number; readonly content: EventContent; readonly eventId: string } | null;
}

export function eventEnvelope(event: DeliveredEvent | null): EventEnvelope {
  return {
    message: '',
    retcode: '0',
    event: event && { eventType: event.eventType, workNo: event.workNo, eventGenTime: event.eventGenTime, content: event.content, eventId: event.eventId },
  };
}

/** Where a WebSocket's events go, and how it is closed when the session ends. */
export interface StreamSink {
  readonly send: (event: DeliveredEvent) => void;
  readonly close: (code: number, reason: string) => void;
}

/** How a desk's WebSocket is closed when its session ended for that reason (here or on another instance). */
const CLOSE_FOR: Record<SessionEndReason, WsCloseReason> = { 'signed-out': WsClose.signedOut, 'taken-over': WsClose.takenOver };

interface Subscriber {
  readonly send: (event: DeliveredEvent) => void;
  readonly close: (code: number, reason: string) => void;
  /** The last event sent; live events at or before it are not sent again. */
  lastId: string;
  /** Events that arrived while the replay was read. */
  buffer: StoredEvent[] | null;
}

/** The part of a session this instance holds. */
interface LocalSession {
  readonly workNo: string;
  readonly token: string;
  /** How far the long poll got (the shared value is in the store). */
  cursor: string;
  readonly waiters: Set<() => void>;
  /** Long polls waiting, oldest first; past the cap the oldest is answered at once. */
  readonly polls: Set<{ superseded: boolean; wake: () => void }>;
  readonly sockets: Set<Subscriber>;
  heartbeat: NodeJS.Timeout | null;
  /** The heartbeat ran out while the agent was on a call, and the desk was told (once per absence). */
  keptOnCall: boolean;
}

export interface SessionOptions {
  readonly directory: AgentDirectory;
  readonly callControl: CallControl;
  readonly store: StateStore;
  readonly instanceId: string;
  readonly pollTimeoutMs: number;
  readonly heartbeatTimeoutMs: number;
  /** Events a WebSocket gets at most on connecting (the store keeps as many per agent). */
  readonly queueLimit: number;
  /** Long polls of one agent waiting at once (default 2). */
  readonly maxWaitingPolls?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export type SignInResult =
  | { readonly ok: true; readonly token: string }
  | { readonly ok: false; readonly reason: 'already-signed-in' | 'phone-in-use' | 'store-unavailable' };

export class AgentSessions {
  private readonly local = new Map<string, LocalSession>();
  /** Which agent a Guid is, kept here (every request asks); sessions ended anywhere are forgotten. */
  private readonly tokens: SessionTokens;
  private readonly unsubscribe: (() => void)[];
  private readonly now: () => number;
  private isClosed = false;
  /** Desks released while the instance goes on serving its calls (a drain), as opposed to closed for good. */
  private draining = false;
  /**
   * Per agent, the last append of its events still under way: an agent's events reach its stream in the order they
   * were made (a script resent after a Redis restart must not overtake the next one), while different agents'
   * appends do not wait on each other.
   */
  private readonly appending = new Map<string, Promise<void>>();

  /** While a desk holds a WebSocket here, the store hears of it (other instances' heartbeats read that). */
  private readonly socketKeepAlive: NodeJS.Timeout;

  constructor(private readonly options: SessionOptions) {
    this.now = options.now ?? Date.now;
    this.tokens = new SessionTokens({ store: options.store, instanceId: options.instanceId, logger: options.logger });
    this.unsubscribe = [
      options.callControl.onAgentEvent((event) => this.append(event)),
      options.store.onEvent((stored) => this.arrived(stored)),
      // A session that ended on any instance: its desks here are closed (not those of a newer session of the agent).
      this.tokens.onEnded((workNo, token, reason) => {
        if (this.local.get(workNo)?.token === token) this.dropLocal(workNo, `session ${reason}`, CLOSE_FOR[reason]);
      }),
      () => this.tokens.close(),
    ];
    this.socketKeepAlive = setInterval(() => {
      for (const session of this.local.values()) if (session.sockets.size > 0) this.touch(session);
    }, Math.max(1000, options.heartbeatTimeoutMs / 3));
    this.socketKeepAlive.unref();
  }

  async signIn(workNo: string, phone: string, force: boolean): Promise<SignInResult> {
    const { store } = this.options;
    const token = randomUUID();
    let cursor: string;
    try {
      await this.appending.get(workNo);
      // The new session's stream starts after what is there now: a desk never gets a predecessor's events.
      cursor = await store.lastEventId(workNo);
      const now = this.now();
      const outcome = await store.signIn({ workNo, token, phone, instanceId: this.options.instanceId, signedInAt: now, lastSeenAt: now, cursor }, force);
      if (!outcome.ok) return { ok: false, reason: outcome.reason === 'phone-taken' ? 'phone-in-use' : 'already-signed-in' };
      this.tokens.remember(token, workNo);
      if (outcome.replaced) {
        this.dropLocal(workNo, 'taken over by forcelogin', WsClose.takenOver);
        // The replaced session's desks on other instances are closed too, and its Guid forgotten everywhere.
        void this.tokens.ended(workNo, outcome.replaced.token, 'taken-over');
      }
    } catch (error) {
      this.options.logger.warn({ workNo, err: (error as Error).message }, 'sign-in refused: state store unreachable');
      return { ok: false, reason: 'store-unavailable' };
    }
    this.options.directory.signIn(workNo, phone);
    const session = this.localFor(workNo, token, cursor);
    this.armHeartbeat(session);
    this.options.logger.info({ workNo, phone, force }, 'agent signed in');
    return { ok: true, token };
  }

  async signOut(workNo: string, why: string, close: WsCloseReason = WsClose.signedOut): Promise<boolean> {
    const { store } = this.options;
    // The session that ends (its Guid is told to every instance); only that one, should a new one come meanwhile.
    const current = await store.sessionOf(workNo);
    const ended = current ? await store.signOut(workNo, current.token) : await store.signOut(workNo);
    this.dropLocal(workNo, why, close);
    const reason: SessionEndReason = close === WsClose.takenOver ? 'taken-over' : 'signed-out';
    if (current && ended) await this.tokens.ended(workNo, current.token, reason);
    if (ended || this.options.directory.isSignedIn(workNo)) this.options.directory.signOut(workNo);
    return ended;
  }

  /** The agent the token belongs to, if the token is current (any instance may have made it). */
  async agentOf(token: string | undefined): Promise<string | undefined> {
    if (token === undefined) return undefined;
    return this.tokens.workNoOf(token);
  }

  async isSignedIn(workNo: string): Promise<boolean> {
    return (await this.options.store.sessionOf(workNo)) !== null;
  }

  /**
   * Long poll: the next event after the session's position (or after `after`, the id of the last event the desk
   * saw), at once if there is one, else the next one within the poll timeout, else null. `before` is where the
   * poll was, for the caller to give the event back if it cannot be delivered (see rewind).
   */
  async poll(workNo: string, token: string, after?: string): Promise<{ event: DeliveredEvent; before: string } | null> {
    if (this.draining) {
      // A desk that ignores our `Connection: close` and polls here again is slowed to the poll's own pace, not
      // answered at once in a loop: its events are served by the other instances.
      await new Promise((resolve) => setTimeout(resolve, this.options.pollTimeoutMs).unref());
      return null;
    }
    const session = await this.sessionFor(workNo, token);
    if (!session) return null;
    if (after !== undefined) session.cursor = after;
    session.keptOnCall = false;
    this.armHeartbeat(session);
    const deadline = this.now() + this.options.pollTimeoutMs;
    const slot = { superseded: false, wake: () => undefined as void };
    session.polls.add(slot);
    if (session.polls.size > (this.options.maxWaitingPolls ?? 2)) {
      // Too many polls of this agent wait: the oldest is answered now (event null), the newest desk's stays.
      const [oldest] = session.polls;
      if (oldest) {
        session.polls.delete(oldest);
        oldest.superseded = true;
        oldest.wake();
      }
    }
    try {
      for (;;) {
        if (slot.superseded) return null;
        const woken = this.wake(session);
        slot.wake = woken.fire;
        const [next] = await this.options.store.eventsAfter(workNo, session.cursor, 1);
        if (next) {
          woken.cancel();
          const before = session.cursor;
          session.cursor = next.id;
          this.touch(session);
          return { event: delivered(next), before };
        }
        const left = deadline - this.now();
        if (slot.superseded || left <= 0 || this.isClosed || this.local.get(workNo) !== session || !(await woken.within(left)) || slot.superseded) {
          woken.cancel();
          return null;
        }
      }
    } finally {
      session.polls.delete(slot);
      this.armHeartbeat(session);
    }
  }

  /** Long polls of the agent waiting on this instance. */
  waitingPolls(workNo: string): number {
    return this.local.get(workNo)?.polls.size ?? 0;
  }

  /** An event a poll took but could not deliver (the desk went away): the next poll gets it again. */
  rewind(workNo: string, before: string): void {
    const session = this.local.get(workNo);
    if (!session) return;
    session.cursor = before;
    this.touch(session);
  }

  /**
   * A WebSocket desktop: the events after `after` (default: where its long poll got) at once, then every event as
   * it happens. While one is open, polling is not needed.
   */
  async subscribe(workNo: string, token: string, sink: StreamSink, after?: string): Promise<() => void> {
    const session = await this.sessionFor(workNo, token);
    if (!session) {
      sink.close(WsClose.expired.code, WsClose.expired.reason);
      return () => undefined;
    }
    session.keptOnCall = false;
    const subscriber: Subscriber = { send: sink.send, close: sink.close, lastId: after ?? session.cursor, buffer: [] };
    session.sockets.add(subscriber);
    this.disarmHeartbeat(session);
    const replay = await this.options.store.eventsAfter(workNo, subscriber.lastId, this.options.queueLimit).catch(() => []);
    const buffered = subscriber.buffer ?? [];
    subscriber.buffer = null;
    for (const stored of [...replay, ...buffered]) this.sendTo(subscriber, stored);
    this.advance(session, subscriber.lastId);
    return () => {
      session.sockets.delete(subscriber);
      if (session.sockets.size === 0 && this.local.get(workNo) === session) this.armHeartbeat(session);
    };
  }

  /** Agents signed in (every instance's, as the replicated directory knows them). */
  signedInCount(): number {
    return this.options.directory.signedInCount();
  }

  /** True once close() ran: the service is stopping. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * This instance stops serving desks: waiting polls are answered (null) at once. The sessions stay in the store:
   * with a shared store the desks go on at another instance, signed in.
   */
  close(): void {
    this.releaseDesks();
    this.draining = false;
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * This instance serves no desk any more (it drains): waiting polls are answered (null) at once, and the desks go
   * on at another instance. The events of the calls it still holds go on reaching the store, so they see them.
   */
  releaseDesks(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.draining = true;
    clearInterval(this.socketKeepAlive);
    for (const workNo of [...this.local.keys()]) this.dropLocal(workNo, 'service stopping');
  }

  /* ------------------------------------------------------------------------------------------ inside */

  private append(event: TimedAgentEvent): void {
    const { store, logger } = this.options;
    const { workNo } = event;
    const previous = this.appending.get(workNo) ?? Promise.resolve();
    const done: Promise<void> = previous.then(() =>
      store.appendEvent(workNo, event).then(
        () => undefined,
        (error: unknown) => logger.warn({ workNo, eventType: event.eventType, err: (error as Error).message }, 'event not stored: the desk will not get it'),
      ),
    );
    this.appending.set(workNo, done);
    // The last append of the agent forgets itself once done: the map holds only agents with appends under way.
    void done.then(() => {
      if (this.appending.get(workNo) === done) this.appending.delete(workNo);
    });
  }

  private arrived(stored: StoredEvent): void {
    const session = this.local.get(stored.workNo);
    if (!session) return;
    for (const subscriber of session.sockets) {
      if (subscriber.buffer) subscriber.buffer.push(stored);
      else this.sendTo(subscriber, stored);
    }
    if (session.sockets.size > 0) this.advance(session, stored.id);
    for (const waiter of session.waiters) waiter();
  }

  private sendTo(subscriber: Subscriber, stored: StoredEvent): void {
    if (compareEventIds(stored.id, subscriber.lastId) <= 0) return;
    subscriber.lastId = stored.id;
    subscriber.send(delivered(stored));
  }

  /** A WebSocket took events: a later long poll (here or elsewhere) goes on after them. */
  private advance(session: LocalSession, id: string): void {
    if (compareEventIds(id, session.cursor) <= 0) return;
    session.cursor = id;
    this.touch(session);
  }

  /** Resolves true when an event for the session arrives (or it is dropped), false after `ms`. */
  private wake(session: LocalSession): { within(ms: number): Promise<boolean>; cancel(): void; fire(): void } {
    let fire: (woken: boolean) => void = () => undefined;
    let fired = false;
    const promise = new Promise<boolean>((resolve) => (fire = resolve));
    const waiter = (): void => {
      fired = true;
      session.waiters.delete(waiter);
      fire(true);
    };
    session.waiters.add(waiter);
    return {
      within: (ms) => {
        if (fired) return promise;
        const timer = setTimeout(() => {
          session.waiters.delete(waiter);
          fire(false);
        }, ms);
        return promise.finally(() => clearTimeout(timer));
      },
      cancel: () => session.waiters.delete(waiter),
      fire: waiter,
    };
  }

  /** The local part of a session whose token the store knows (made at sign-in on any instance). */
  private async sessionFor(workNo: string, token: string): Promise<LocalSession | null> {
    const existing = this.local.get(workNo);
    if (existing?.token === token) return existing;
    const record = await this.options.store.sessionByToken(token);
    if (!record || record.workNo !== workNo || this.isClosed) return null;
    const again = this.local.get(workNo);
    if (again?.token === token) return again;
    if (again) this.dropLocal(workNo, 'a newer session of the agent', WsClose.takenOver);
    return this.localFor(workNo, token, record.cursor ?? (await this.options.store.lastEventId(workNo)));
  }

  private localFor(workNo: string, token: string, cursor: string): LocalSession {
    this.dropLocal(workNo, 'a newer session of the agent', WsClose.takenOver);
    const session: LocalSession = { workNo, token, cursor, waiters: new Set(), polls: new Set(), sockets: new Set(), heartbeat: null, keptOnCall: false };
    this.local.set(workNo, session);
    return session;
  }

  /** Ends the session here; its WebSockets are closed with `close` (none when the service stops: app.ts sends 1012). */
  private dropLocal(workNo: string, why: string, close?: WsCloseReason): void {
    const session = this.local.get(workNo);
    if (!session) return;
    this.disarmHeartbeat(session);
    this.local.delete(workNo);
    for (const waiter of [...session.waiters]) waiter();
    if (close) for (const subscriber of [...session.sockets]) subscriber.close(close.code, close.reason);
    this.options.logger.info({ workNo, why }, 'agent session ended here');
  }

  private touch(session: LocalSession): void {
    void this.options.store.touchSession(session.workNo, session.token, this.now(), session.cursor).catch(() => undefined);
  }

  private armHeartbeat(session: LocalSession): void {
    this.disarmHeartbeat(session);
    // A session dropped meanwhile (sign-out, takeover) never signs out the agent's next one.
    if (session.sockets.size > 0 || this.isClosed || this.local.get(session.workNo) !== session) return;
    session.heartbeat = setTimeout(() => void this.heartbeatDue(session), this.options.heartbeatTimeoutMs);
    session.heartbeat.unref();
  }

  /** No poll here for the heartbeat time: signed out, unless the desk went on at another instance meanwhile. */
  private async heartbeatDue(session: LocalSession): Promise<void> {
    session.heartbeat = null;
    if (this.local.get(session.workNo) !== session) return;
    if (session.waiters.size > 0) return this.armHeartbeat(session);
    const record = await this.options.store.sessionOf(session.workNo).catch(() => undefined);
    if (record === undefined) return this.armHeartbeat(session); // store unreachable: decide later
    if (!record || record.token !== session.token) return this.dropLocal(session.workNo, 'session ended elsewhere', WsClose.expired);
    const seenAgoMs = this.now() - (record.lastSeenAt ?? record.signedInAt);
    if (seenAgoMs < this.options.heartbeatTimeoutMs) {
      session.heartbeat = setTimeout(() => void this.heartbeatDue(session), this.options.heartbeatTimeoutMs - seenAgoMs);
      session.heartbeat.unref();
      return;
    }
    if (this.options.directory.isBusy(session.workNo)) {
      // Never signed out under a call (the call would go on with no session): kept, and the desk told why.
      if (!session.keptOnCall) {
        session.keptOnCall = true;
        this.options.logger.warn({ workNo: session.workNo, missedSeconds: Math.round(seenAgoMs / 1000) }, 'no event poll within the heartbeat time, but the agent is on a call: kept signed in');
        this.append({ workNo: session.workNo, eventType: KEPT_SIGNED_IN, eventGenTime: this.now(), content: { reason: 'on a call', missedSeconds: Math.round(seenAgoMs / 1000) } });
      }
      session.heartbeat = setTimeout(() => void this.heartbeatDue(session), this.options.heartbeatTimeoutMs);
      session.heartbeat.unref();
      return;
    }
    await this.signOut(session.workNo, 'no event poll within the heartbeat time', WsClose.expired);
  }

  private disarmHeartbeat(session: LocalSession): void {
    if (session.heartbeat) clearTimeout(session.heartbeat);
    session.heartbeat = null;
  }
}

function delivered(stored: StoredEvent): DeliveredEvent {
  return { ...(stored.event as TimedAgentEvent), eventId: stored.id };
}
