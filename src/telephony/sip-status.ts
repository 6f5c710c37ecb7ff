/** SIP final status of a failed call attempt -> the core's failure reason (shared by both backends). */
import type { FailureReason } from '../core/types.js';

export function failureReasonForStatus(status: number): FailureReason {
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 487) return 'no-answer';
  if (status === 404 || status === 480 || status === 410 || status === 604) return 'unreachable';
  if (status >= 500 && status < 600) return 'error';
  return 'rejected';
}
