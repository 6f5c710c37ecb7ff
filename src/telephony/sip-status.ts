/** SIP statuses: a failed attempt's status -> the core's failure reason (shared by both backends), reason phrases, REFER's parts. */
import phrases from 'sip-status';
import type { FailureReason } from '../core/types.js';

export function failureReasonForStatus(status: number): FailureReason {
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 487) return 'no-answer';
  if (status === 404 || status === 480 || status === 410 || status === 604) return 'unreachable';
  if (status >= 500 && status < 600) return 'error';
  return 'rejected';
}

/** The reason phrase of a status (sip-status: RFC 3261's and later ones), or a generic one for a code it does not know. */
export function reasonPhrase(status: number): string {
  return phrases[status] ?? (status < 300 ? 'OK' : 'Failed');
}

/** A status line as a REFER's NOTIFY carries it (message/sipfrag, RFC 3515). */
export function sipfragFor(status: number): string {
  return `SIP/2.0 ${status} ${reasonPhrase(status)}\r\n`;
}

/** The dialog a Replaces names (RFC 3891): its Call-ID and the two tags (which is whose depends on the side). */
export interface ReplacesRef {
  readonly callId: string;
  readonly toTag: string | undefined;
  readonly fromTag: string | undefined;
}

/**
 * The user part of a REFER's Refer-To (`<sip:2002@host>`, `sip:+4930123@host;user=phone`), with the dialog its
 * Replaces names for an attended transfer (`?Replaces=callid%3Bto-tag%3D..%3Bfrom-tag%3D..`), or why it cannot
 * be read.
 */
export function referTarget(referTo: string | undefined): { user: string; replaces?: ReplacesRef } | { refused: 'unreadable' } {
  if (referTo === undefined) return { refused: 'unreadable' };
  const uri = /<([^>]*)>/.exec(referTo)?.[1] ?? referTo.trim();
  const user = /^sips?:([^@;?]+)@/i.exec(uri)?.[1] ?? /^tel:([^;?]+)/i.exec(uri)?.[1];
  if (!user) return { refused: 'unreadable' };
  const replacesParam = /[?&]replaces=([^&]*)/i.exec(uri)?.[1];
  if (replacesParam === undefined) return { user: decodeURIComponent(user) };
  const replaces = parseReplaces(decodeURIComponent(replacesParam));
  return replaces ? { user: decodeURIComponent(user), replaces } : { refused: 'unreadable' };
}

/** A Replaces header's value: `callid;to-tag=x;from-tag=y` (parameters in any order; early-only ignored). */
export function parseReplaces(value: string): ReplacesRef | undefined {
  const [callId, ...params] = value.split(';').map((p) => p.trim());
  if (!callId) return undefined;
  const param = (name: string): string | undefined => params.find((p) => p.toLowerCase().startsWith(`${name}=`))?.slice(name.length + 1);
  return { callId, toTag: param('to-tag'), fromTag: param('from-tag') };
}
