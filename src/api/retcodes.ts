/**
 * Our retcodes, in the vendor's "xxx-yyy" form ("0" is success). 000: request and session, 100: agent state,
 * 200: call control, 300: the simulator. Each has one message; a test keeps the README's table in step with this list.
 */
import type { ErrorCode } from '../core/types.js';

export interface Retcode {
  readonly retcode: string;
  readonly httpStatus: number;
  readonly message: string;
}

const r = (retcode: string, httpStatus: number, message: string): Retcode => ({ retcode, httpStatus, message });

export const Retcodes = {
  badJson: r('000-001', 400, 'the request body is not valid JSON'),
  badParameter: r('000-002', 400, 'a parameter is missing or invalid'),
  noSession: r('000-003', 401, 'the Guid header is missing or stale: sign in again'),
  noSuchInterface: r('000-004', 404, 'no such interface'),
  bodyTooLarge: r('000-005', 413, 'the request body is too large'),
  internal: r('000-006', 500, 'internal error'),
  notYourAgent: r('000-007', 403, 'the session belongs to another agent'),
  badContentType: r('000-008', 415, 'the request body must be application/json'),
  ownerUnreachable: r('000-010', 503, 'the instance that holds this call did not answer: try again shortly'),
  adminLoopbackOnly: r('000-011', 403, 'admin requests are taken from this host only'),
  supervisorsOnly: r('000-012', 403, 'this interface is for the supervisors of these agents'),
  badRequest: r('000-013', 400, 'the request could not be read (malformed URL or headers)'),
  headersTooLarge: r('000-014', 431, 'the request headers are too large'),
  storeUnavailable: r('000-009', 503, 'the shared state store cannot be reached: calls in progress go on; try again shortly'),
  signInFailed: r('100-001', 200, 'unknown agent or wrong password'),
  alreadySignedIn: r('100-002', 200, 'the agent is already signed in'),
  notSignedIn: r('100-006', 401, 'the agent is not signed in'),
  hasCalls: r('100-007', 200, 'the agent is on a call: use forcelogout to release it'),
  unknownPhone: r('100-030', 200, 'no such phone in the configuration'),
  phoneInUse: r('100-031', 200, 'another signed-in agent is using that phone'),
  signInThrottled: r('100-032', 200, 'too many wrong passwords from this address: try again later'),
  notSupported: r('200-020', 200, 'not supported with this telephony backend: the phone must answer itself'),
  notRinging: r('200-021', 200, 'the agent has no ringing call'),
  supervisionNoCall: r('200-050', 200, 'no such call in progress on this instance'),
  notSupervisable: r('200-051', 200, 'no agent is on that call: there is nothing to supervise'),
  alreadySupervised: r('200-052', 200, 'another supervisor is on that call'),
  notSupervising: r('200-053', 200, 'the supervisor is not on that call'),
  supervisorBusy: r('200-054', 200, 'the supervisor is on another call already: leave it first'),
  noSupervisorPhone: r('200-055', 200, 'no phone to ring: give "phone" or configure one for the supervisor'),
  simNoCall: r('300-001', 200, 'that phone has no call'),
  simNotRinging: r('300-002', 200, 'that phone is not ringing'),
  simRefused: r('300-003', 200, 'the call was refused'),
} as const;

/** The core's refusals: business answers, so HTTP 200 with a retcode, as the vendor does. */
export const refusalRetcodes: Readonly<Record<ErrorCode, string>> = {
  NO_CUSTOMER_CALL: '200-001',
  HELP_IN_PROGRESS: '200-002',
  HELPER_UNKNOWN: '200-003',
  HELPER_NOT_SIGNED_IN: '200-004',
  HELPER_BUSY: '200-005',
  HELPER_IS_SELF: '200-006',
  NO_FREE_HELPER: '200-007',
  NO_SUCH_CALL: '200-008',
  NOT_A_PARTY: '200-009',
  CANNOT_RELEASE_HELD_CUSTOMER: '200-010',
  NO_HELP_IN_PROGRESS: '200-011',
  NOT_ALLOWED_NOW: '200-012',
  ALREADY_HELD: '200-013',
  NOT_HELD: '200-014',
  AGENT_NOT_SIGNED_IN: '100-006',
  AGENT_BUSY: '200-015',
  CALLED_UNKNOWN: '200-016',
  CALLED_NOT_SIGNED_IN: '200-017',
  CALLED_BUSY: '200-018',
  INVALID_NUMBER: '200-019',
  HELPER_NOT_READY: '200-022',
  CALLED_NOT_READY: '200-023',
  TRANSFER_NOT_ALLOWED: '200-024',
  SKILL_UNKNOWN: '200-040',
  AGENT_NOT_BUSY: '100-020',
  AGENT_NOT_RESTING: '100-021',
  NO_MEDIA_ROOM: '200-030',
};
