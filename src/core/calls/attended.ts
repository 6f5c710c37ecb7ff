/**
 * Attended transfer from a handset (REFER with Replaces, RFC 3891 / RFC 5589): agent A talks with B on one call,
 * puts B on hold, calls C on a second line (a second call of ours), then presses transfer. The phone's REFER comes
 * on one of A's two dialogs, and its Replaces names the other. B and C then talk and A is free.
 *
 * It is the one decision that spans two calls, so it is decided here for both at once, from both states as they
 * stand (the shell holds both calls' queues meanwhile): the call with the customer is kept, the other party of the
 * second call moves into it, and A leaves both. Anything that changed under the phone's feet (C hung up, B hung up,
 * C still ringing, a Replaces naming a dialog that is not A's other call) is refused and changes nothing: B stays
 * with A, on hold as A left it, and never alone.
 */
import { refuse } from '../refusals.js';
import type { CallState, CoreConfig, Decision, Leg, LegId, Refusal } from '../types.js';
import { CallFeature, Draft } from './draft.js';

export interface AttendedTransferRequest {
  readonly workNo: string;
  /** A's leg the REFER came on. */
  readonly referLeg: LegId;
  /** A's leg its Replaces names (A's other call). */
  readonly replacedLeg: LegId;
}

/** The two calls' decisions, in the order the shell must apply them: the call given up first, then the kept one. */
export interface AttendedTransferDecisions {
  readonly ok: true;
  readonly givenUp: Decision;
  readonly kept: Decision;
}

interface Side {
  readonly state: CallState;
  /** A's leg in this call. */
  readonly agentLeg: Leg;
  /** The party A talks with (or holds) in this call. */
  readonly other: Leg;
  /** A holds that party. */
  readonly held: boolean;
}

/** A's connected, answered leg in this call and its partner; undefined when the call is not (or no longer) that. */
function sideOf(state: CallState, legId: LegId, workNo: string): Side | undefined {
  const phase = state.phase;
  const leg = state.legs[legId];
  if (phase.name !== 'connected' || !leg || leg.status !== 'up' || leg.workNo !== workNo) return undefined;
  if (phase.agent !== legId && phase.other !== legId) return undefined;
  const other = state.legs[phase.agent === legId ? phase.other : phase.agent] as Leg;
  return { state, agentLeg: leg, other, held: phase.held };
}

/**
 * Decides the phone's attended transfer over its two calls (`referCall` holds `referLeg`, `replacedCall` holds
 * `replacedLeg`). Refused: a call that is not A's two-party call any more (ended, C still ringing, help, a transfer
 * under way: NOT_ALLOWED_NOW), a Replaces naming A's own REFER dialog or no customer on either call
 * (TRANSFER_NOT_ALLOWED).
 */
export function decideAttendedTransfer(referCall: CallState, replacedCall: CallState, request: AttendedTransferRequest, config: CoreConfig): AttendedTransferDecisions | Refusal {
  if (referCall.callId === replacedCall.callId) return refuse('TRANSFER_NOT_ALLOWED');
  const refer = sideOf(referCall, request.referLeg, request.workNo);
  const replaced = sideOf(replacedCall, request.replacedLeg, request.workNo);
  if (!refer || !replaced) return refuse('NOT_ALLOWED_NOW');
  // The call with the customer is kept (its queue, route and wrap-up go on); when both have one (a consultation with
  // an outside number), the held one, where the customer waits; else the REFER's own.
  const rank = (side: Side): number => (side.other.role === 'customer' ? 2 : 0) + (side.held ? 1 : 0);
  if (rank(refer) < 2 && rank(replaced) < 2) return refuse('TRANSFER_NOT_ALLOWED');
  const keptSide = rank(replaced) > rank(refer) ? replaced : refer;
  const givenSide = keptSide === refer ? replaced : refer;

  // The call given up: its other party leaves it for the kept call (its phone stays up), A's leg is hung up.
  const given = new Draft(givenSide.state, config);
  const moved = givenSide.other;
  given.notifyLeft(moved.id, givenSide.agentLeg, givenSide.state.callId);
  given.legGone(moved.id, false);
  given.legGone(givenSide.agentLeg.id, true);
  given.endCall();

  // The kept call: A is told and released, the moved party joins the customer.
  const kept = new Draft(keptSide.state, config);
  const customer = keptSide.other;
  const workNo = request.workNo;
  (keptSide === refer ? kept : given).command({ kind: 'reportTransfer', legId: request.referLeg, sipStatus: 200 });
  kept.emit(workNo, 'AgentEvent_SuccTransResult', { callId: keptSide.state.callId, result: 0 });
  kept.legGone(keptSide.agentLeg.id, true);
  const movedId = kept.addLeg(moved.role, moved.number, moved.workNo, 'up', moved.id, [keptSide.state.callId]);
  if (moved.workNo === undefined) {
    kept.setPhase({ name: 'trunked', customer: customer.id, outside: movedId });
  } else {
    kept.setPhase({ name: 'connected', agent: movedId, other: customer.id, held: false });
    kept.emit(moved.workNo, 'AgentEvent_Talking', kept.talking(customer.number, moved.number, keptSide.state.callId, CallFeature.normal));
  }
  return { ok: true, givenUp: given.finish(undefined), kept: kept.finish({ ok: true, result: keptSide.state.callId }) };
}
