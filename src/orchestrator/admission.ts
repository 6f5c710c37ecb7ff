/**
 * Admission control (issue 21): the service refuses what its media servers cannot finish, before anyone is rung.
 * Each admitted customer call reserves SESSIONS_PER_CALL sessions (customer, agent, helper), so its help session
 * always has room; a new customer call that does not fit gets 503 with Retry-After; a help request is refused only
 * when the servers can no longer honour the reservations (a server was lost or drained). The rules are pure
 * (core/media-servers.ts); this keeps the reservations and counts the refusals.
 */
import { admitCall, admitHelp, SESSIONS_PER_CALL, type Admission } from '../core/media-servers.js';
import type { MediaCapacity } from '../ports/media-capacity.js';

export type RefusalKind = 'customer' | 'help';

export interface AdmissionReport {
  readonly capacity: number;
  readonly othersSessions: number;
  /** Sessions this instance's admitted calls hold in reserve. */
  readonly reserved: number;
  readonly admittedCalls: number;
  readonly refused: Readonly<Record<RefusalKind, number>>;
}

export class AdmissionControl {
  /** An incoming leg (before its call exists) or a call id -> sessions reserved. */
  private readonly reservations = new Map<string, number>();
  private readonly refusedCount: Record<RefusalKind, number> = { customer: 0, help: 0 };
  private readonly listeners = new Set<(kind: RefusalKind, why: string) => void>();

  constructor(
    private readonly capacity: MediaCapacity,
    /** What a refused customer call's 503 carries as Retry-After. */
    readonly retryAfterSeconds = 5,
  ) {}

  /** A new customer call: reserved under `key` (its incoming leg) when admitted. */
  admitCustomer(key: string): Admission {
    const verdict = admitCall(this.view());
    if (verdict.admitted) this.reservations.set(key, SESSIONS_PER_CALL);
    else this.refused('customer', verdict.why);
    return verdict;
  }

  /** A help request on a call: admitted within the call's reservation while the servers can honour it. */
  admitHelp(callId: string): Admission {
    const verdict = admitHelp(this.view(), this.reservations.has(callId));
    if (!verdict.admitted) this.refused('help', verdict.why);
    return verdict;
  }

  /** The incoming leg's call now exists: its reservation is the call's. */
  rekey(from: string, to: string): void {
    const sessions = this.reservations.get(from);
    if (sessions === undefined) return;
    this.reservations.delete(from);
    this.reservations.set(to, sessions);
  }

  release(key: string): void {
    this.reservations.delete(key);
  }

  onRefusal(listener: (kind: RefusalKind, why: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  report(): AdmissionReport {
    const view = this.view();
    return { ...view, admittedCalls: this.reservations.size, refused: { ...this.refusedCount } };
  }

  private view(): { capacity: number; othersSessions: number; reserved: number } {
    let reserved = 0;
    for (const sessions of this.reservations.values()) reserved += sessions;
    return { ...this.capacity.snapshot(), reserved };
  }

  private refused(kind: RefusalKind, why: string): void {
    this.refusedCount[kind]++;
    for (const listener of this.listeners) listener(kind, why);
  }
}
