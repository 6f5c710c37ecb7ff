/** One record per phone: the only thing the real backend's parts share. */
import type Mrf from 'drachtio-fsmrf';
import type { CallId, LegId } from '../../core/types.js';
import type { SipDialog, SipRequest } from './sip-types.js';

export type LegState = 'setting-up' | 'ringing' | 'up' | 'gone';

export interface Leg {
  readonly id: LegId;
  /** Known for legs we dial; an incoming leg's call is made by the orchestrator after it is anchored. */
  readonly callId?: CallId;
  state: LegState;
  /** The phone's FreeSWITCH channel (fsmrf endpoint). */
  endpoint?: Mrf.Endpoint;
  /** The phone's dialog with us. */
  dialog?: SipDialog;
  /** Our INVITE(s) to the phone (one per registered contact when forking), to CANCEL them. */
  invites?: SipRequest[];
  /** We were asked to hang up while the leg was still being set up. */
  hangupRequested: boolean;
  /** The phone sent BYE before the leg was up (it answered and hung up at once). */
  phoneLeft?: boolean;
  /** The SDP the phone last sent us (its media as FreeSWITCH knows it). */
  phoneSdp?: string;
  /**
   * The phone's transfer (REFER) being reported to it by NOTIFY: statuses wait in `pending` until the REFER is
   * answered 202; `ended` after a final status. `hangUpWhenAnswered`: the core hung the leg up while deciding the
   * REFER (a transfer done at once, to a skill queue): the BYE waits until the REFER is answered and reported.
   */
  transfer?: { accepted: boolean; pending: number[]; ended: boolean; hangUpWhenAnswered?: boolean };
  /** The Reason header (RFC 3326) our BYE carries: why the service ended the call (a queue's final status). */
  byeReason?: string;
}

export class LegTable {
  private readonly legs = new Map<LegId, Leg>();

  add(leg: Leg): void {
    this.legs.set(leg.id, leg);
  }

  get(id: LegId): Leg | undefined {
    return this.legs.get(id);
  }

  remove(id: LegId): void {
    this.legs.delete(id);
  }

  has(id: LegId): boolean {
    return this.legs.has(id);
  }

  ids(): LegId[] {
    return [...this.legs.keys()];
  }

  all(): Leg[] {
    return [...this.legs.values()];
  }
}
