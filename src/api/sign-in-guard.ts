/**
 * Password guessing at sign-in, throttled per source address (OWASP Authentication Cheat Sheet, "Protect against
 * automated attacks": an account lockout lets anyone who knows the work numbers keep every agent out, so none is
 * used; the guessing source is slowed instead).
 *
 * - `maxFailures` wrong passwords from one address cost nothing (typing mistakes).
 * - From then on, every sign-in from that address first waits: 1 s, doubling with each further failure, up to
 *   `maxDelaySeconds`. At most `maxWaiting` of its sign-ins wait at once; more are refused at once (100-032, with
 *   Retry-After). So one address gets at most maxWaiting guesses per maxDelaySeconds.
 * - The count is forgotten `lockSeconds` after the address's last failure, or at its first success.
 * - An account is never locked: an agent at any other address signs in at once with its right password, whatever
 *   a stranger tried; an agent behind the guesser's own address (one NAT) waits, and is still let in.
 *
 * With a shared store (several instances) the failure count of a source is kept there too, so a guesser that
 * spreads its tries over the instances is slowed as much as one that sticks to one; how many of its sign-ins wait
 * at once is still counted by each instance.
 */
import type { Logger } from 'pino';
import type { StateStore } from '../ports/state-store.js';

/** The part of the state store the guard shares its counts through. */
export type SharedFailureCounts = Pick<StateStore, 'countFailure' | 'failureCount' | 'clearFailures'>;

export interface SignInGuardSettings {
  readonly maxFailures: number;
  readonly lockSeconds: number;
  readonly maxDelaySeconds: number;
  readonly maxWaiting: number;
}

interface SourceRecord {
  failures: number;
  lastFailureAt: number;
  waiting: number;
}

export type Admission = { readonly ok: true; readonly done: () => void } | { readonly ok: false; readonly retryAfterSeconds: number };

const MAX_SOURCES = 10_000;

export class SignInGuard {
  private readonly sources = new Map<string, SourceRecord>();

  constructor(
    private readonly settings: SignInGuardSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
    private readonly shared?: SharedFailureCounts,
  ) {}

  /** As admit, after taking in the source's count from the other instances. */
  async admitShared(source: string): Promise<Admission> {
    if (this.shared) this.merge(source, await this.sharedCall(() => this.shared?.failureCount(sharedKey(source))));
    return this.admit(source);
  }

  /** As failed, and counted for every instance. */
  async recordFailure(source: string, account: string): Promise<void> {
    this.failed(source, account);
    if (this.shared) this.merge(source, await this.sharedCall(() => this.shared?.countFailure(sharedKey(source), this.settings.lockSeconds * 1000)));
  }

  /** As succeeded, and forgotten by every instance. */
  async recordSuccess(source: string): Promise<void> {
    this.succeeded(source);
    if (this.shared) await this.sharedCall(() => this.shared?.clearFailures(sharedKey(source)));
  }

  /** How long a sign-in from the source waits before its password is checked (ms). */
  delayFor(source: string): number {
    const record = this.current(source);
    if (!record) return 0;
    const over = record.failures - this.settings.maxFailures + 1;
    if (over <= 0) return 0;
    return Math.min(1000 * 2 ** Math.min(over - 1, 20), this.settings.maxDelaySeconds * 1000);
  }

  /**
   * Waits out the source's delay; `done` must be called once the password is checked. Refused at once when the
   * source already has maxWaiting sign-ins waiting.
   */
  async admit(source: string): Promise<Admission> {
    const delay = this.delayFor(source);
    if (delay === 0) return { ok: true, done: () => undefined };
    const record = this.current(source) as SourceRecord;
    if (record.waiting >= this.settings.maxWaiting) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(delay / 1000)) };
    record.waiting += 1;
    await this.sleep(delay);
    let released = false;
    return {
      ok: true,
      done: () => {
        if (released) return;
        released = true;
        record.waiting -= 1;
      },
    };
  }

  failed(source: string, account: string): void {
    const record = this.current(source) ?? { failures: 0, lastFailureAt: 0, waiting: 0 };
    record.failures += 1;
    record.lastFailureAt = this.now();
    this.sources.set(source, record);
    if (record.failures === this.settings.maxFailures) {
      this.logger.warn({ source, account, failures: record.failures }, 'sign-in: repeated wrong passwords from one address: its sign-ins are slowed');
    }
    if (this.sources.size > MAX_SOURCES) this.forgetOld();
  }

  succeeded(source: string): void {
    const record = this.sources.get(source);
    if (record && record.waiting === 0) this.sources.delete(source);
    else if (record) record.failures = 0;
  }

  /** The shared count wins where it is higher (failures made through other instances). */
  private merge(source: string, shared: { count: number; expiresInMs: number } | undefined | void): void {
    if (!shared || shared.count === 0) return;
    const record = this.current(source) ?? { failures: 0, lastFailureAt: 0, waiting: 0 };
    if (shared.count <= record.failures) return;
    record.failures = shared.count;
    record.lastFailureAt = this.now() - Math.max(0, this.settings.lockSeconds * 1000 - shared.expiresInMs);
    this.sources.set(source, record);
  }

  /** A store that cannot be reached leaves the guard to this instance's own counts (sign-in then fails anyway). */
  private async sharedCall<T>(call: () => Promise<T> | undefined): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      this.logger.warn({ err }, 'sign-in: shared failure counts unavailable, this instance counts alone');
      return undefined;
    }
  }

  private current(source: string): SourceRecord | undefined {
    const record = this.sources.get(source);
    if (!record) return undefined;
    if (record.failures > 0 && this.now() - record.lastFailureAt >= this.settings.lockSeconds * 1000) {
      record.failures = 0;
      if (record.waiting === 0) this.sources.delete(source);
    }
    return record;
  }

  private forgetOld(): void {
    for (const [source, record] of this.sources) {
      if (record.waiting === 0 && this.now() - record.lastFailureAt >= this.settings.lockSeconds * 1000) this.sources.delete(source);
    }
    // Still full (a flood from many addresses): forget the oldest half, the map must stay bounded.
    if (this.sources.size > MAX_SOURCES) {
      let drop = this.sources.size - MAX_SOURCES / 2;
      for (const [source, record] of this.sources) {
        if (drop-- <= 0) break;
        if (record.waiting === 0) this.sources.delete(source);
      }
    }
  }
}

const sharedKey = (source: string): string => `sign-in:${source}`;
