/**
 * Password guessing at sign-in: after `maxFailures` wrong passwords in a row an agent's account is locked for
 * `lockSeconds` (also against the right password), as the vendor's gateway does. The lock is logged once.
 */
import type { Logger } from 'pino';

export class SignInGuard {
  private readonly failures = new Map<string, { count: number; lockedUntil: number }>();

  constructor(
    private readonly settings: { readonly maxFailures: number; readonly lockSeconds: number },
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds the account stays locked, or 0. */
  lockedFor(workNo: string): number {
    const record = this.failures.get(workNo);
    if (!record || record.lockedUntil <= this.now()) return 0;
    return Math.ceil((record.lockedUntil - this.now()) / 1000);
  }

  failed(workNo: string): void {
    const record = this.failures.get(workNo) ?? { count: 0, lockedUntil: 0 };
    if (record.lockedUntil > 0 && record.lockedUntil <= this.now()) record.lockedUntil = 0;
    record.count += 1;
    if (record.count >= this.settings.maxFailures) {
      record.count = 0;
      record.lockedUntil = this.now() + this.settings.lockSeconds * 1000;
      this.logger.warn({ workNo, lockSeconds: this.settings.lockSeconds, failures: this.settings.maxFailures }, 'sign-in locked after repeated wrong passwords');
    }
    this.failures.set(workNo, record);
    // Bounded against guessing across many work numbers: forget counts that hold no lock.
    if (this.failures.size > 10_000) for (const [w, r] of this.failures) if (r.lockedUntil <= this.now()) this.failures.delete(w);
  }

  succeeded(workNo: string): void {
    this.failures.delete(workNo);
  }
}
