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

/**
 * The user part of a REFER's Refer-To (`<sip:2002@host>`, `sip:+4930123@host;user=phone`), or why it cannot be
 * honoured: an attended transfer (a Replaces header in the URI) is not carried out.
 */
export function referTarget(referTo: string | undefined): { user: string } | { refused: 'attended' | 'unreadable' } {
  if (referTo === undefined) return { refused: 'unreadable' };
  const uri = /<([^>]*)>/.exec(referTo)?.[1] ?? referTo.trim();
  if (/[?&]replaces=/i.test(uri)) return { refused: 'attended' };
  const user = /^sips?:([^@;?]+)@/i.exec(uri)?.[1] ?? /^tel:([^;?]+)/i.exec(uri)?.[1];
  return user ? { user: decodeURIComponent(user) } : { refused: 'unreadable' };
}
