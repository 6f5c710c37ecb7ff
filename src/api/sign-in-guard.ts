/**
 * Password guessing at sign-in: after `maxFailures` wrong passwords in a row an agent's account is locked for
 * `lockSeconds` (also against the right password), as the vendor's gateway does. The lock is logged once.
 *
 * The count is the state store's (countFailure, under `signin:{workNo}`), so every instance sees the same count
 * and lock: guesses spread over several instances add up (atomic in Redis). A count is forgotten lockSeconds after
 * its last failure; the lock is that count at maxFailures or more, so it ends lockSeconds after the failure that
 * set it.
 */
import type { Logger } from 'pino';
import type { StateStore } from '../ports/state-store.js';

export type FailureCounts = Pick<StateStore, 'countFailure' | 'failureCount' | 'clearFailures'>;

const keyOf = (workNo: string): string => `signin:${workNo}`;

export class SignInGuard {
  constructor(
    private readonly settings: { readonly maxFailures: number; readonly lockSeconds: number },
    private readonly logger: Logger,
    private readonly counts: FailureCounts,
  ) {}

  /** Seconds the account stays locked, or 0. Rejects with StoreUnavailableError when the store cannot be reached. */
  async lockedFor(workNo: string): Promise<number> {
    const { count, expiresInMs } = await this.counts.failureCount(keyOf(workNo));
    return count >= this.settings.maxFailures ? Math.max(1, Math.ceil(expiresInMs / 1000)) : 0;
  }

  async failed(workNo: string): Promise<void> {
    const { count } = await this.counts.countFailure(keyOf(workNo), this.settings.lockSeconds * 1000);
    if (count === this.settings.maxFailures) {
      this.logger.warn({ workNo, lockSeconds: this.settings.lockSeconds, failures: this.settings.maxFailures }, 'sign-in locked after repeated wrong passwords');
    }
  }

  async succeeded(workNo: string): Promise<void> {
    await this.counts.clearFailures(keyOf(workNo));
  }
}
