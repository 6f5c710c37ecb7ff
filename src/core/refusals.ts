/** Every refusal the core can give an agent request, with the message an agent desktop shows. */
import type { ErrorCode, Refusal } from './types.js';

export const refusalMessages: Readonly<Record<ErrorCode, string>> = {
  NO_CUSTOMER_CALL: 'the agent is not talking with a customer',
  HELP_IN_PROGRESS: 'a help request is already in progress on this call',
  HELPER_UNKNOWN: 'the helper is not a known agent or skill',
  HELPER_NOT_SIGNED_IN: 'the helper is not signed in',
  HELPER_BUSY: 'the helper is busy',
  HELPER_IS_SELF: 'an agent cannot ask itself for help',
  NO_FREE_HELPER: 'no agent of that skill is signed in and free',
  NO_SUCH_CALL: 'the agent has no call with that id',
  NOT_A_PARTY: 'that number is not a party of the agent\u2019s current call',
  CANNOT_RELEASE_HELD_CUSTOMER: 'the held customer cannot be released this way',
  NO_HELP_IN_PROGRESS: 'no help call is in progress',
  NOT_ALLOWED_NOW: 'the request is not allowed in the call\u2019s current state',
  ALREADY_HELD: 'the call is already on hold',
  NOT_HELD: 'the call is not on hold',
  AGENT_NOT_SIGNED_IN: 'the agent is not signed in',
  AGENT_BUSY: 'the agent is already on a call',
  CALLED_UNKNOWN: 'the called agent is not known',
  CALLED_NOT_SIGNED_IN: 'the called agent is not signed in',
  CALLED_BUSY: 'the called agent is busy',
  INVALID_NUMBER: 'the called number is not a valid phone number',
  HELPER_NOT_READY: 'the helper is not ready (not ready, resting or in wrap-up)',
  CALLED_NOT_READY: 'the called agent is not ready (not ready, resting or in wrap-up)',
  TRANSFER_NOT_ALLOWED: 'only a customer call that the agent is on alone can be transferred (not during help)',
  SKILL_UNKNOWN: 'no agent has that skill: there is no such skill queue',
  AGENT_NOT_BUSY: 'the agent is not in the not-ready state',
  AGENT_NOT_RESTING: 'the agent is not resting',
  NO_MEDIA_ROOM: 'the media servers have no room for a help session now: the customer stays with the agent; try again shortly',
};

export function refuse(code: ErrorCode): Refusal {
  return { ok: false, code, message: refusalMessages[code] };
}
