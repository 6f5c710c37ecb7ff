/**
 * Where each phone can be reached: the contacts its REGISTERs left, each until its expiry. No I/O and no clock of
 * its own (every call passes "now"), so expiry is tested exactly; the registrar adapter feeds it, dialling reads it.
 */

export interface Binding {
  /** The Contact URI the phone registered (the Request-URI of calls to it). */
  readonly contact: string;
  /**
   * Where to send requests when that is not the Contact's own host: the address the REGISTER came from, for a
   * phone behind NAT (its Contact names a private address). Undefined when the two agree.
   */
  readonly via?: string;
  readonly expiresAt: number;
  /** Call-ID and CSeq of the REGISTER that made or refreshed it: an older one may not undo a newer one. */
  readonly callId: string;
  readonly cseq: number;
}

export interface ContactUpdate {
  readonly contact: string;
  readonly via?: string;
  /** Seconds; 0 removes the binding. */
  readonly expiresSeconds: number;
}

export type UpdateResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'too-many-contacts' | 'out-of-order' };

export class BindingStore {
  private readonly byPhone = new Map<string, Map<string, Binding>>();
  private readonly changeListeners = new Set<(phone: string) => void>();

  constructor(private readonly maxContactsPerPhone: number) {}

  /** Told after a REGISTER changed a phone's bindings here (update, removeAll; not replace). */
  onChange(listener: (phone: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** The phone's bindings as another instance's REGISTER left them (several instances share registrations). */
  replace(phone: string, bindings: readonly Binding[]): void {
    if (bindings.length === 0) this.byPhone.delete(phone);
    else this.byPhone.set(phone, new Map(bindings.map((b) => [b.contact, b])));
  }

  /** Every binding the phone has here (expired ones included until purged). */
  bindingsOf(phone: string): Binding[] {
    return [...(this.byPhone.get(phone)?.values() ?? [])];
  }

  private changed(phone: string): void {
    for (const listener of this.changeListeners) listener(phone);
  }

  /**
   * One REGISTER's contacts, all or nothing (RFC 3261 10.3): refreshes, new bindings, removals (expires 0). A
   * request older than the binding it would change (same Call-ID, lower or equal CSeq) is refused.
   */
  update(phone: string, updates: readonly ContactUpdate[], request: { callId: string; cseq: number }, now: number): UpdateResult {
    this.purge(now);
    const current = new Map(this.byPhone.get(phone) ?? []);
    for (const u of updates) {
      const existing = current.get(u.contact);
      if (existing && existing.callId === request.callId && existing.cseq >= request.cseq) return { ok: false, reason: 'out-of-order' };
      if (u.expiresSeconds === 0) {
        current.delete(u.contact);
        continue;
      }
      current.set(u.contact, {
        contact: u.contact,
        ...(u.via !== undefined ? { via: u.via } : {}),
        expiresAt: now + u.expiresSeconds * 1000,
        callId: request.callId,
        cseq: request.cseq,
      });
    }
    if (current.size > this.maxContactsPerPhone) return { ok: false, reason: 'too-many-contacts' };
    if (current.size === 0) this.byPhone.delete(phone);
    else this.byPhone.set(phone, current);
    this.changed(phone);
    return { ok: true };
  }

  /** "Contact: *" with Expires 0: every binding of the phone goes. */
  removeAll(phone: string): void {
    this.byPhone.delete(phone);
    this.changed(phone);
  }

  /** The phone's bindings still alive at `now`, longest-lived first. */
  live(phone: string, now: number): Binding[] {
    const bindings = this.byPhone.get(phone);
    if (!bindings) return [];
    return [...bindings.values()].filter((b) => b.expiresAt > now).sort((a, b) => b.expiresAt - a.expiresAt);
  }

  /** How many phones have at least one live binding. */
  registeredPhones(now: number): number {
    this.purge(now);
    return this.byPhone.size;
  }

  /** Forgets expired bindings (they are never returned anyway; this bounds memory). */
  purge(now: number): void {
    for (const [phone, bindings] of this.byPhone) {
      for (const [contact, b] of bindings) if (b.expiresAt <= now) bindings.delete(contact);
      if (bindings.size === 0) this.byPhone.delete(phone);
    }
  }
}
