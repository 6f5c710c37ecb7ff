/**
 * Supervisors' sessions and what each may see. A supervisor signs in on its own path (PUT /onlinesupervisor/{id}),
 * gets a Guid as agents do, and reads the group views of the agents it supervises: those that have one of its
 * skills or are in one of its groups (configuration `supervisors`). Its session lives on this instance: a wall
 * stays on the instance it signed in at (see README, Security).
 *
 * A session ends on sign-out, on a forcelogin elsewhere, or when nothing (no request, no open stream) was heard of
 * it for `events.heartbeatTimeoutSeconds`; its streams are then closed with a 4xxx code (sessions.ts).
 */
import { randomUUID } from 'node:crypto';
import type { AgentConfig, AppConfig, SupervisorConfig } from '../config/config.js';

export interface SupervisorScope {
  readonly id: string;
  /** True when the agent is one of this supervisor's. */
  supervises(workNo: string): boolean;
  /** The skills whose queues the supervisor sees (its own, and those of the agents it supervises). */
  readonly skills: ReadonlySet<string>;
}

export function scopeOf(config: AppConfig, supervisor: SupervisorConfig): SupervisorScope {
  const skills = new Set(supervisor.skills);
  const groups = new Set(supervisor.groups);
  const isOurs = (agent: AgentConfig) => agent.skills.some((s) => skills.has(s)) || agent.groups.some((g) => groups.has(g));
  const agents = new Set(config.agents.filter(isOurs).map((a) => a.workNo));
  const queueSkills = new Set([...skills, ...config.agents.filter(isOurs).flatMap((a) => a.skills)]);
  return { id: supervisor.id, supervises: (workNo) => agents.has(workNo), skills: queueSkills };
}

interface SupervisorSession {
  readonly id: string;
  readonly token: string;
  lastSeenAt: number;
  streams: number;
}

export type SupervisorSignIn = { readonly ok: true; readonly token: string; readonly replaced: string | null } | { readonly ok: false };

export class SupervisorSessions {
  private readonly byId = new Map<string, SupervisorSession>();
  private readonly byToken = new Map<string, SupervisorSession>();

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session; when one is open already, only with `force` (its token goes stale: `replaced`). */
  signIn(id: string, force: boolean): SupervisorSignIn {
    const existing = this.live(this.byId.get(id));
    if (existing && !force) return { ok: false };
    if (existing) this.end(existing);
    const session: SupervisorSession = { id, token: randomUUID(), lastSeenAt: this.now(), streams: 0 };
    this.byId.set(id, session);
    this.byToken.set(session.token, session);
    return { ok: true, token: session.token, replaced: existing?.token ?? null };
  }

  signOut(id: string): boolean {
    const session = this.byId.get(id);
    if (!session) return false;
    this.end(session);
    return true;
  }

  /** The supervisor the token belongs to, if it is current; the session counts as seen. */
  supervisorOf(token: string | undefined): string | undefined {
    if (token === undefined) return undefined;
    const session = this.live(this.byToken.get(token));
    if (!session) return undefined;
    session.lastSeenAt = this.now();
    return session.id;
  }

  isSignedIn(id: string): boolean {
    return this.live(this.byId.get(id)) !== undefined;
  }

  /** An open stream keeps the session alive; returns what to call when it closes. */
  streamOpened(token: string): () => void {
    const session = this.byToken.get(token);
    if (!session) return () => undefined;
    session.streams += 1;
    return () => {
      session.streams -= 1;
      session.lastSeenAt = this.now();
    };
  }

  /** Sessions that expired (nothing heard for the timeout, no stream open): ended now, returned for their streams. */
  expire(): string[] {
    const gone: string[] = [];
    for (const session of [...this.byId.values()]) {
      if (!this.live(session)) gone.push(session.token);
    }
    return gone;
  }

  private live(session: SupervisorSession | undefined): SupervisorSession | undefined {
    if (!session) return undefined;
    if (session.streams === 0 && this.now() - session.lastSeenAt >= this.timeoutMs) {
      this.end(session);
      return undefined;
    }
    return session;
  }

  private end(session: SupervisorSession): void {
    if (this.byId.get(session.id) === session) this.byId.delete(session.id);
    this.byToken.delete(session.token);
  }
}
