/**
 * Blind transfer: agent A hands its customer B to another agent or an outside number without talking to them first
 * (the transfer API, or the handset's REFER). Decided here: who may be transferred to, the target ringing (reported
 * to A's phone), answering (A leaves), failing (A, if still on the line, gets B back as it was; otherwise B queues),
 * and A or B leaving while the target rings. B is never dropped.
 */
import { isDialableNumber } from '../numbers.js';
import { refuse } from '../refusals.js';
import type { AgentSnapshot, ApiRequest, BlindTransfer, FailureReason, Leg, LegId, Reply } from '../types.js';
import { CallFeature, type Connected, type Draft } from './draft.js';
import { enterSkillQueue, queue } from './routing.js';

/** A target's failure as the SIP status a transfer reports (NOTIFY of a REFER, AgentEvent_SuccTransResult). */
const FAILURE_STATUS: Readonly<Record<FailureReason, number>> = { busy: 486, rejected: 603, 'no-answer': 408, unreachable: 480, error: 500 };

export function startTransfer(d: Draft, request: Extract<ApiRequest, { kind: 'transfer' }>, phase: Connected): Reply {
  const to = request.to;
  if (to.kind === 'skill') {
    if (to.candidates.length === 0) return refuse('SKILL_UNKNOWN');
    return transferToSkill(d, request, phase, to.skill, to.candidates);
  }
  if (to.kind === 'agent') {
    const called = to.snapshot;
    if (!called || called.workNo === request.workNo) return refuse('CALLED_UNKNOWN');
    if (!called.signedIn) return refuse('CALLED_NOT_SIGNED_IN');
    if (called.busy) return refuse('CALLED_BUSY');
    if (!called.ready) return refuse('CALLED_NOT_READY');
  } else if (!isDialableNumber(to.number)) {
    return refuse('INVALID_NUMBER');
  }
  const owner = d.leg(phase.agent);
  const customer = d.leg(phase.other);
  // The target gets the customer call itself (its id), as an offered customer call.
  const target =
    to.kind === 'agent' ? d.addLeg('agent', (to.snapshot as AgentSnapshot).phone, to.workNo, 'dialing') : d.addLeg('customer', to.number, undefined, 'dialing');
  const transfer: BlindTransfer = { transferor: phase.agent, customer: phase.other, target, transferorGone: false, wasHeld: phase.held };
  d.setPhase({ name: 'transferring', transfer });
  d.dial(target, customer.number);
  d.startTimer('transfer-answer', d.config.offerAnswerTimeoutSeconds);
  const targetLeg = d.leg(target);
  if (request.fromPhone) {
    d.emit(owner.workNo as string, 'AgentEvent_linkagePhoneTransferOut', { callid: d.s.callId, addrOut: targetLeg.workNo ?? targetLeg.number, addrSelf: owner.number });
  }
  if (targetLeg.workNo !== undefined) {
    d.emit(targetLeg.workNo, 'AgentEvent_Ringing', { callid: d.s.callId, caller: customer.number, called: d.s.called, feature: CallFeature.normal });
  }
  return { ok: true, result: d.s.callId };
}

/**
 * To a skill queue: the transfer is done as soon as it is accepted. A is told (result 0, NOTIFY 200 for its phone)
 * and leaves at once (wrap-up follows); the customer enters that skill's queue with music (its maximum wait, if it
 * has one, starting now) and is offered to its longest-idle ready agent, as a customer calling that skill would be.
 */
function transferToSkill(d: Draft, request: Extract<ApiRequest, { kind: 'transfer' }>, phase: Connected, skill: string, candidates: readonly AgentSnapshot[]): Reply {
  const owner = d.leg(phase.agent);
  const workNo = owner.workNo as string;
  if (request.fromPhone) d.emit(workNo, 'AgentEvent_linkagePhoneTransferOut', { callid: d.s.callId, addrOut: skill, addrSelf: owner.number });
  d.command({ kind: 'reportTransfer', legId: owner.id, sipStatus: 200 });
  d.emit(workNo, 'AgentEvent_SuccTransResult', { callId: d.s.callId, result: 0 });
  d.legGone(owner.id, true);
  enterSkillQueue(d, phase.other, skill, candidates, workNo);
  return { ok: true, result: d.s.callId };
}

/** The target rings: the transferring phone hears of it. */
export function transferRinging(d: Draft, transfer: BlindTransfer): void {
  reportTransfer(d, transfer, 180);
}

export function transferAnswered(d: Draft, transfer: BlindTransfer): void {
  d.clearTimer();
  // The transfer worked: the transferring agent is told, and its phone is hung up (if it has not done so).
  transferOutcome(d, transfer, 200);
  d.legGone(transfer.transferor, true);
  const target = d.leg(transfer.target);
  const customer = d.leg(transfer.customer);
  if (target.workNo === undefined) {
    d.setPhase({ name: 'trunked', customer: transfer.customer, outside: transfer.target });
    return;
  }
  d.setPhase({ name: 'connected', agent: transfer.target, other: transfer.customer, held: false });
  d.emit(target.workNo, 'AgentEvent_Talking', d.talking(customer.number, target.number, d.s.callId, CallFeature.normal));
}

/**
 * The target will not answer: the agent still on the line gets the customer back; otherwise the queue does. An agent
 * target that rang out or could not be reached (`unanswered`) goes not ready, as for an offered customer call.
 */
export function transferFailed(d: Draft, transfer: BlindTransfer, target: Leg, unanswered: boolean, reason: FailureReason): void {
  if (unanswered && target.workNo !== undefined) d.notice({ kind: 'offer-unanswered', workNo: target.workNo });
  d.clearTimer();
  if (transfer.transferorGone) {
    if (target.workNo !== undefined) d.update({ declinedBy: [...d.s.declinedBy, target.workNo] });
    queue(d, transfer.customer, true);
    return;
  }
  const owner = d.leg(transfer.transferor);
  const customer = d.leg(transfer.customer);
  transferOutcome(d, transfer, FAILURE_STATUS[reason]);
  d.setPhase({ name: 'connected', agent: transfer.transferor, other: transfer.customer, held: transfer.wasHeld });
  if (transfer.wasHeld) d.emit(owner.workNo as string, 'AgentEvent_Hold', d.s.callId);
  else d.emit(owner.workNo as string, 'AgentEvent_Talking', d.talking(customer.number, owner.number, d.s.callId, CallFeature.normal));
}

/** A or B left while the target rang (its leg is already gone). */
export function transferPartyLeft(d: Draft, transfer: BlindTransfer, legId: LegId): void {
  if (legId === transfer.transferor) {
    // The phone hung up after its REFER was accepted, as phones do: the transfer goes on without it.
    d.setPhase({ name: 'transferring', transfer: { ...transfer, transferorGone: true } });
    return;
  }
  // The customer gave up: the target stops ringing, and the agent's call is over.
  const customer = d.leg(legId);
  d.clearTimer();
  d.legGone(transfer.target, true);
  if (!transfer.transferorGone) {
    reportTransfer(d, transfer, 487);
    d.notifyLeft(transfer.transferor, customer, d.s.callId);
  }
  d.endCall();
}

/** How the transfer ended, told to the transferring agent still on the line: its phone (NOTIFY) and its desktop. */
function transferOutcome(d: Draft, transfer: BlindTransfer, sipStatus: number): void {
  if (transfer.transferorGone) return;
  reportTransfer(d, transfer, sipStatus);
  d.emit(d.leg(transfer.transferor).workNo as string, 'AgentEvent_SuccTransResult', { callId: d.s.callId, result: sipStatus === 200 ? 0 : sipStatus });
}

function reportTransfer(d: Draft, transfer: BlindTransfer, sipStatus: number): void {
  if (transfer.transferorGone) return;
  d.command({ kind: 'reportTransfer', legId: transfer.transferor, sipStatus });
}
