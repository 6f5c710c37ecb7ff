/**
 * Signed-in agents: their session token (the Guid), their event queue for the long poll, their WebSocket
 * subscribers, and the heartbeat that signs out an agent whose desktop stopped polling.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventContent } from '../core/types.js';
import type { AgentDirectory } from '../orchestrator/agent-directory.js';
import type { CallControl, TimedAgentEvent } from '../orchestrator/call-control.js';

/** The vendor's event envelope. */
export interface EventEnvelope {
  readonly message: string;
  readonly retcode: '0';
  readonly event: { readonly eventType: string; readonly workNo: string; readonly eventGenTime: number; readonly content: EventContent } | null;
}

export function eventEnvelope(event: TimedAgentEvent | null): EventEnvelope {
  return {
    message: '',
    retcode: '0',
    event: event && { eventType: event.eventType, workNo: event.workNo, eventGenTime: event.eventGenTime, content: event.content },
  };
}

interface Session {
  readonly workNo: string;
  readonly token: string;
  readonly phone: string;
  readonly queue: TimedAgentEvent[];
  /** Long polls waiting for an event. */
  readonly waiters: Set<(event: TimedAgentEvent | null) => void>;
  readonly sockets: Set<(event: TimedAgentEvent) => void>;
  heartbeat: NodeJS.Timeout | null;
}

export interface SessionOptions {
  readonly directory: AgentDirectory;
  readonly callControl: CallControl;
  readonly pollTimeoutMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly queueLimit: number;
  readonly logger: Logger;
}

export type SignInResult = { readonly ok: true; readonly token: string } | { readonly ok: false; readonly reason: 'already-signed-in' };

export class AgentSessions {
  private readonly byWorkNo = new Map<string, Session>();
  private readonly byToken = new Map<string, Session>();
  private readonly unsubscribe: () => void;
  private isClosed = false;

  constructor(private readonly options: SessionOptions) {
    this.unsubscribe = options.callControl.onAgentEvent((event) => this.deliver(event));
  }

  signIn(workNo: string, phone: string, force: boolean): SignInResult {
    const existing = this.byWorkNo.get(workNo);
    if (existing) {
      if (!force) return { ok: false, reason: 'already-signed-in' };
      this.drop(existing, 'taken over by forcelogin');
    }
    const session: Session = { workNo, token: randomUUID(), phone, queue: [], waiters: new Set(), sockets: new Set(), heartbeat: null };
    this.byWorkNo.set(workNo, session);
    this.byToken.set(session.token, session);
    this.options.directory.signIn(workNo, phone);
    this.armHeartbeat(session);
    this.options.logger.info({ workNo, phone, force }, 'agent signed in');
    return { ok: true, token: session.token };
  }

  signOut(workNo: string, why: string): boolean {
    const session = this.byWorkNo.get(workNo);
    if (!session) return false;
    this.drop(session, why);
    this.options.directory.signOut(workNo);
    return true;
  }

  /** The agent the token belongs to, if the token is current. */
  agentOf(token: string | undefined): string | undefined {
    return token === undefined ? undefined : this.byToken.get(token)?.workNo;
  }

  isSignedIn(workNo: string): boolean {
    return this.byWorkNo.has(workNo);
  }

  /** Long poll: the oldest waiting event at once, else the next one within the poll timeout, else null. */
  poll(workNo: string): Promise<TimedAgentEvent | null> {
    const session = this.byWorkNo.get(workNo);
    if (!session) return Promise.resolve(null);
    this.armHeartbeat(session);
    const next = session.queue.shift();
    if (next) return Promise.resolve(next);
    return new Promise((resolve) => {
      const done = (event: TimedAgentEvent | null): void => {
        clearTimeout(timer);
        session.waiters.delete(done);
        this.armHeartbeat(session);
        resolve(event);
      };
      const timer = setTimeout(() => done(null), this.options.pollTimeoutMs);
      session.waiters.add(done);
    });
  }

  /** An event a poll took but could not deliver goes back to the front of the queue. */
  requeue(event: TimedAgentEvent): void {
    const session = this.byWorkNo.get(event.workNo);
    if (session) session.queue.unshift(event);
  }

  /** A WebSocket desktop: gets every event as it happens; while one is open, polling is not needed. */
  subscribe(workNo: string, send: (event: TimedAgentEvent) => void): () => void {
    const session = this.byWorkNo.get(workNo);
    if (!session) return () => undefined;
    session.sockets.add(send);
    this.disarmHeartbeat(session);
    // Whatever waited for a poll goes to the new subscriber, in order.
    for (const event of session.queue.splice(0)) send(event);
    return () => {
      session.sockets.delete(send);
      if (session.sockets.size === 0 && this.byWorkNo.get(workNo) === session) this.armHeartbeat(session);
    };
  }

  signedInCount(): number {
    return this.byWorkNo.size;
  }

  /** True once close() ran: the service is stopping. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The service stops: every waiting long poll is answered (null) and every session ends. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.unsubscribe();
    for (const session of [...this.byWorkNo.values()]) this.drop(session, 'service stopping');
  }

  private deliver(event: TimedAgentEvent): void {
    const session = this.byWorkNo.get(event.workNo);
    if (!session) return;
    if (session.sockets.size > 0) {
      for (const send of session.sockets) send(event);
      return;
    }
    const waiter = session.waiters.values().next();
    if (!waiter.done) {
      waiter.value(event);
      return;
    }
    session.queue.push(event);
    if (session.queue.length > this.options.queueLimit) {
      session.queue.shift();
      this.options.logger.warn({ workNo: session.workNo }, 'event queue full: oldest event dropped (is the desktop polling?)');
    }
  }

  private drop(session: Session, why: string): void {
    this.disarmHeartbeat(session);
    for (const waiter of [...session.waiters]) waiter(null);
    this.byWorkNo.delete(session.workNo);
    this.byToken.delete(session.token);
    this.options.logger.info({ workNo: session.workNo, why }, 'agent session ended');
  }

  private armHeartbeat(session: Session): void {
    this.disarmHeartbeat(session);
    if (session.sockets.size > 0) return;
    session.heartbeat = setTimeout(() => {
      session.heartbeat = null;
      if (session.waiters.size > 0) return this.armHeartbeat(session);
      this.signOut(session.workNo, 'no event poll within the heartbeat time');
    }, this.options.heartbeatTimeoutMs);
    session.heartbeat.unref();
  }

  private disarmHeartbeat(session: Session): void {
    if (session.heartbeat) clearTimeout(session.heartbeat);
    session.heartbeat = null;
  }
}
