/**
 * Internal help: agent A, talking with customer B, asks agent C for help. Two-party (mode 1): B is held, A and C
 * talk; three-party (mode 2, or confjoin): A, B and C in one room. Decided here: who may be asked (innerhelp),
 * C ringing, answering or failing, A dropping C, and whoever leaves: C leaving gives A its customer back, A leaving
 * hands B to C, B leaving leaves A and C on an internal call.
 */
import { refuse } from '../refusals.js';
import type { AgentSnapshot, ApiRequest, CallId, HelpSession, Leg, LegId, Reply } from '../types.js';
import { CallFeature, type Connected, type Draft } from './draft.js';
import { queue } from './routing.js';

export function startHelp(d: Draft, request: Extract<ApiRequest, { kind: 'innerhelp' }>, phase: Connected): Reply {
  const candidates = request.candidates.filter((c) => c.workNo !== request.workNo);
  let helper: AgentSnapshot | undefined;
  const asked = request.helper;
  if (asked.kind === 'agent') {
    if (asked.workNo === request.workNo) return refuse('HELPER_IS_SELF');
    const only = candidates.find((c) => c.workNo === asked.workNo);
    if (!only) return refuse('HELPER_UNKNOWN');
    if (!only.signedIn) return refuse('HELPER_NOT_SIGNED_IN');
    if (only.busy) return refuse('HELPER_BUSY');
    if (!only.ready) return refuse('HELPER_NOT_READY');
    helper = only;
  } else {
    if (request.candidates.length === 0) return refuse('HELPER_UNKNOWN');
    // The same choice as a skill queue's: the shell lists the longest idle first; never the requester.
    helper = candidates.find((c) => c.signedIn && c.ready && !c.busy);
    if (!helper) return refuse('NO_FREE_HELPER');
  }
  const owner = d.leg(phase.agent);
  const helpCallId = `${d.s.callId}-h${d.nextSeq()}`;
  const helperLeg = d.addLeg('agent', helper.phone, helper.workNo, 'dialing', undefined, [helpCallId]);
  d.updateLeg(owner.id, { callIds: [...owner.callIds, helpCallId] });
  const help: HelpSession = {
    helpCallId,
    mode: request.mode,
    stage: 'ringing',
    owner: owner.id,
    customer: phase.other,
    helper: helperLeg,
    ownerGone: false,
    callappdata: request.callappdata,
  };
  d.setPhase({ name: 'help', help });
  d.dial(helperLeg, owner.workNo as string);
  d.startTimer('help-answer', d.config.helpAnswerTimeoutSeconds);
  if (request.mode === 1) d.emit(owner.workNo as string, 'AgentEvent_Hold', d.s.callId);
  d.emit(helper.workNo, 'AgentEvent_Ringing', {
    callid: helpCallId,
    caller: owner.workNo as string,
    called: helper.workNo,
    feature: CallFeature.help,
    mode: request.mode,
    callappdata: request.callappdata,
  });
  return { ok: true, result: helpCallId };
}

/** C's phone rings: A (if still there) is told. */
export function helperRinging(d: Draft, help: HelpSession, helper: Leg): void {
  if (help.ownerGone) return;
  const owner = d.leg(help.owner);
  d.emit(owner.workNo as string, 'AgentEvent_Customer_Alerting', {
    callid: help.helpCallId,
    otherPhone: helper.number,
    otherPhoneWorkno: helper.workNo as string,
    type: CallFeature.help,
  });
}

export function helperAnswered(d: Draft, help: HelpSession): void {
  d.clearTimer();
  const owner = d.leg(help.owner);
  const helper = d.leg(help.helper);
  const customer = d.leg(help.customer);
  if (help.ownerGone) {
    // A hung up while C rang: the customer is handed to C (a transfer). C's desktop was shown the help call
    // ringing: it learns that A left it, and that it is over, before it is told of the customer call.
    handOver(d, help.helper, owner, help.helpCallId);
    d.setPhase({ name: 'connected', agent: help.helper, other: help.customer, held: false });
    d.emit(helper.workNo as string, 'AgentEvent_Talking', d.talking(customer.number, helper.number, d.s.callId, CallFeature.normal));
    return;
  }
  if (help.mode === 1) {
    d.setPhase({ name: 'help', help: { ...help, stage: 'talking' } });
    const content = d.talking(owner.workNo as string, helper.workNo as string, help.helpCallId, CallFeature.help);
    d.emit(owner.workNo as string, 'AgentEvent_Talking', content);
    d.emit(helper.workNo as string, 'AgentEvent_Talking', content);
  } else {
    conference(d, help);
  }
}

/** Three-party help (mode 2 answered, or confjoin): A, B and C in one room. */
export function conference(d: Draft, help: HelpSession): void {
  const owner = d.leg(help.owner);
  const helper = d.leg(help.helper);
  d.setPhase({ name: 'help', help: { ...help, mode: 2, stage: 'conference' } });
  d.emit(owner.workNo as string, 'AgentEvent_Conference', { callid: d.s.callId, partner: helper.workNo as string });
  d.emit(helper.workNo as string, 'AgentEvent_Conference', { callid: help.helpCallId, partner: owner.workNo as string });
}

/**
 * Consult, then complete (an attended transfer through the API): A, talking with C (or with B and C in the room),
 * hands B to C and leaves at once, told the transfer worked; B and C talk, as when A hangs up a running help.
 */
export function completeConsultation(d: Draft, help: HelpSession): void {
  const owner = d.leg(help.owner);
  d.emit(owner.workNo as string, 'AgentEvent_SuccTransResult', { callId: d.s.callId, result: 0 });
  d.legGone(help.owner, true);
  helpPartyLeft(d, help, help.owner);
}

/** C will not answer (failed, rejected, timed out). */
export function helpFailed(d: Draft, help: HelpSession): void {
  d.clearTimer();
  if (help.ownerGone) {
    // Nobody is left with the customer: back to the queue (music), never to nowhere.
    queue(d, help.customer, true);
    return;
  }
  const owner = d.leg(help.owner);
  d.emit(owner.workNo as string, 'AgentEvent_Consult_Fail', help.helpCallId);
  backToCustomer(d, help);
}

/** A takes C out of the help (dropcall / disconnect): ringing C is cancelled, talking C is hung up. */
export function dropHelper(d: Draft, help: HelpSession): void {
  const helper = d.leg(help.helper);
  if (helper.status === 'up') {
    d.legGone(help.helper, true);
    helperLeft(d, help);
    return;
  }
  d.clearTimer();
  d.legGone(help.helper, true);
  backToCustomer(d, help);
}

/** An answered party of the help left (its leg is already gone). */
export function helpPartyLeft(d: Draft, help: HelpSession, legId: LegId): void {
  const leaver = d.leg(legId);
  if (legId === help.owner) {
    if (help.stage === 'ringing') {
      d.setPhase({ name: 'help', help: { ...help, ownerGone: true } });
      return;
    }
    // A leaves a running help: B and C talk (two-party: the transfer of the seed).
    const helper = d.leg(help.helper);
    const customer = d.leg(help.customer);
    handOver(d, help.helper, leaver, help.helpCallId);
    d.setPhase({ name: 'connected', agent: help.helper, other: help.customer, held: false });
    d.emit(helper.workNo as string, 'AgentEvent_Talking', d.talking(customer.number, helper.number, d.s.callId, CallFeature.normal));
    return;
  }
  if (legId === help.helper) {
    // C leaves (only up in talking/conference; a ringing C is handled as a failed attempt).
    helperLeft(d, help);
    return;
  }
  // The customer left.
  if (help.stage === 'ringing') {
    // No one to help any more: stop ringing C, and A's call with the customer is over.
    d.clearTimer();
    d.legGone(help.helper, true);
    if (!help.ownerGone) {
      d.notifyLeft(help.owner, leaver, d.s.callId);
      d.legGone(help.owner, true);
    }
    d.endCall();
    return;
  }
  // A and C were talking (or conferencing): they stay connected as an internal call, known by the help call id.
  const owner = d.leg(help.owner);
  d.notifyLeft(help.owner, leaver, d.s.callId);
  leaveCallId(d, owner.id, d.s.callId);
  d.update({ kind: 'internal' });
  d.setPhase({ name: 'connected', agent: help.owner, other: help.helper, held: false });
}

/** C, who was talking, is gone (it hung up, or A dropped it): A is told and has B again. */
function helperLeft(d: Draft, help: HelpSession): void {
  d.notifyLeft(help.owner, d.leg(help.helper), help.helpCallId);
  backToCustomer(d, help);
}

/** The help is over and A has B again: A's desktop gets the help call id released, then the customer call. */
function backToCustomer(d: Draft, help: HelpSession): void {
  const owner = d.leg(help.owner);
  const customer = d.leg(help.customer);
  leaveCallId(d, help.owner, help.helpCallId);
  d.setPhase({ name: 'connected', agent: help.owner, other: help.customer, held: false });
  d.emit(owner.workNo as string, 'AgentEvent_Talking', d.talking(customer.number, owner.number, d.s.callId, CallFeature.normal));
}

/** A left the help (before or after C answered): B is handed to C, who leaves the help call for the customer call. */
function handOver(d: Draft, helperId: LegId, owner: Leg, helpCallId: CallId): void {
  d.notifyLeft(helperId, owner, helpCallId);
  d.updateLeg(helperId, { callIds: [...d.leg(helperId).callIds, d.s.callId] });
  leaveCallId(d, helperId, helpCallId);
}

/**
 * The agent on `legId` is no longer on `callid` but stays on the call (help over, customer gone): its desktop gets
 * that call id's one AgentEvent_Call_Release now, so no call id is ever left open on a desktop. Only for agent legs
 * (A or C), with an id the leg knows (A both ids of a help, C the help call id).
 */
function leaveCallId(d: Draft, legId: LegId, callid: CallId): void {
  const leg = d.leg(legId);
  d.updateLeg(legId, { callIds: leg.callIds.filter((id) => id !== callid) });
  d.emit(leg.workNo as string, 'AgentEvent_Call_Release', callid);
}
