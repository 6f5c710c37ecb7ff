/**
 * Which agent a Guid belongs to, as this instance knows it: every agent request is checked against it, so the
 * answer is kept here instead of asking the store each time (two Redis round trips per request otherwise).
 *
 * Kept right: a session that ends on this instance (sign-out, a forced sign-in over it, the heartbeat) is forgotten
 * here at once and told to the other instances through the store's broadcast (`session-ended`), which forget it
 * and close that session's desk connections. A broadcast is at most once: when the store says it reconnected,
 * everything kept is dropped, and an entry is trusted for `ttlMs` at most (default 60 s) in case a message was lost
 * on the way without the store noticing.
 */
import type { Logger } from 'pino';
import type { SessionEndReason, StateStore } from '../ports/state-store.js';

export interface SessionTokensOptions {
  readonly store: StateStore;
  readonly instanceId: string;
  readonly logger: Logger;
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/** Kept tokens at most (each a few dozen bytes); past it, all are dropped and read again. */
const MAX_KEPT = 50_000;

export class SessionTokens {
  private readonly kept = new Map<string, { readonly workNo: string; readonly until: number }>();
  private readonly listeners = new Set<(workNo: string, token: string, reason: SessionEndReason) => void>();
  private readonly off: (() => void)[];
  /** Counts forgettings: a store read that began before one is not kept (it may predate the session's end). */
  private epoch = 0;
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(private readonly options: SessionTokensOptions) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.off = [
      options.store.onBroadcast((message) => {
        if (message.kind !== 'session-ended' || message.from === options.instanceId) return;
        this.endedHere(message.workNo, message.token, message.reason);
      }),
      options.store.onReconnect?.(() => this.forgetAll()) ?? (() => undefined),
    ];
  }

  /** The agent whose current session the token is (undefined: none). Rejects when the store cannot be reached. */
  async workNoOf(token: string): Promise<string | undefined> {
    const hit = this.kept.get(token);
    if (hit && hit.until > this.now()) return hit.workNo;
    if (hit) this.kept.delete(token);
    const epoch = this.epoch;
    const record = await this.options.store.sessionByToken(token);
    if (!record) return undefined;
    if (epoch === this.epoch) this.remember(token, record.workNo);
    return record.workNo;
  }

  /** A session just made here (sign-in). */
  remember(token: string, workNo: string): void {
    if (this.kept.size >= MAX_KEPT) this.kept.clear();
    this.kept.set(token, { workNo, until: this.now() + this.ttlMs });
  }

  /** A session ended on this instance: forgotten here, its desk connections closed, and every other instance told. */
  async ended(workNo: string, token: string, reason: SessionEndReason): Promise<void> {
    this.endedHere(workNo, token, reason);
    await this.options.store.broadcast({ kind: 'session-ended', from: this.options.instanceId, workNo, token, reason }).catch((error: unknown) => {
      this.options.logger.warn({ workNo, err: (error as Error).message }, 'the end of a session was not told to the other instances (they notice within a minute)');
    });
  }

  /** Told of every session that ended, here or on another instance. */
  onEnded(listener: (workNo: string, token: string, reason: SessionEndReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const off of this.off.splice(0)) off();
    this.listeners.clear();
  }

  private endedHere(workNo: string, token: string, reason: SessionEndReason): void {
    this.epoch += 1;
    this.kept.delete(token);
    for (const listener of [...this.listeners]) listener(workNo, token, reason);
  }

  private forgetAll(): void {
    this.epoch += 1;
    this.kept.clear();
  }
}
