/**
 * The leg whose dialog a REFER's Replaces names (an attended transfer from a handset: the phone's other line).
 *
 * A Replaces carries the dialog's Call-ID and its two tags; RFC 3891 words them from the side of the UA that
 * receives the INVITE with Replaces, and phones differ in which is which when they put them in a Refer-To, so a
 * dialog matches when its Call-ID is the same and each tag given is one of its two tags. A Call-ID alone (no tags)
 * matches too. Only dialogs of this instance are known here: another's, or one that has ended, is null.
 */
import type { LegId } from '../../core/types.js';
import type { ReplacesRef } from '../sip-status.js';
import type { LegTable } from './legs.js';

export function legOfDialog(legs: LegTable, ref: ReplacesRef): LegId | null {
  for (const leg of legs.all()) {
    const sip = leg.dialog?.sip;
    if (leg.state !== 'up' || !sip || sip.callId !== ref.callId) continue;
    const tags = [sip.localTag, sip.remoteTag];
    if ([ref.toTag, ref.fromTag].every((tag) => tag === undefined || tags.includes(tag))) return leg.id;
  }
  return null;
}
