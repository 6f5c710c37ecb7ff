/**
 * What happens to a phone: it rings, answers, fails, hangs up (or its channel is lost), or the timer for its answer
 * runs out. Late and repeated events about legs that are gone change nothing (a late answer is hung up). Each event
 * is handed to the rule of the phase it matters to (routing, help, transfer); what a party leaving a plain call
 * means (the call is over) is decided here.
 */
import type { FailureReason, LegId } from '../types.js';
import type { Draft } from './draft.js';
import { helperAnswered, helperRinging, helpFailed, helpPartyLeft } from './help.js';
import { offerAnswered, offerFailed, offerRinging, originAnswered, originFailed, queueTimerFired, requeue } from './routing.js';
import { transferAnswered, transferFailed, transferPartyLeft, transferRinging } from './transfer.js';

export function legRinging(d: Draft, legId: LegId): void {
  const leg = d.s.legs[legId];
  if (!leg || leg.status !== 'dialing') return;
  d.updateLeg(legId, { status: 'ringing' });
  const phase = d.s.phase;
  if (phase.name === 'offering' && phase.target === legId) offerRinging(d, phase, leg);
  else if (phase.name === 'transferring' && phase.transfer.target === legId) transferRinging(d, phase.transfer);
  else if (phase.name === 'help' && phase.help.helper === legId) helperRinging(d, phase.help, leg);
}

export function legAnswered(d: Draft, legId: LegId): void {
  const leg = d.s.legs[legId];
  if (!leg) return;
  if (leg.status === 'gone') {
    // A late answer (the 200 crossed our CANCEL, or the help was already over): that phone must not stay up.
    d.hangup(legId);
    return;
  }
  if (leg.status === 'up') return;
  d.updateLeg(legId, { status: 'up', answered: true });
  const phase = d.s.phase;
  if (phase.name === 'originating' && phase.origin === legId) return originAnswered(d, legId, phase.target);
  if (phase.name === 'offering' && phase.target === legId) return offerAnswered(d, phase.waiting, legId);
  if (phase.name === 'help' && phase.help.helper === legId) return helperAnswered(d, phase.help);
  if (phase.name === 'transferring' && phase.transfer.target === legId) return transferAnswered(d, phase.transfer);
}

export function legFailed(d: Draft, legId: LegId, reason: FailureReason): void {
  const leg = d.s.legs[legId];
  if (!leg || leg.status === 'gone' || leg.status === 'up') return;
  // A phone that rang out or cannot be reached is an agent not at the desk; a rejection is a choice.
  ringingLegEnded(d, legId, false, reason === 'no-answer' || reason === 'unreachable', reason);
}

export function legHungUp(d: Draft, legId: LegId, lost: boolean): void {
  const leg = d.s.legs[legId];
  if (!leg || leg.status === 'gone') return;
  if (leg.status !== 'up') {
    // A phone that was never answered cannot send BYE; a lost channel while ringing is a failed attempt.
    ringingLegEnded(d, legId, true);
    return;
  }
  partyLeft(d, legId, lost);
}

export function timerFired(d: Draft, timerId: string): void {
  if (d.s.queueTimer?.id === timerId) return queueTimerFired(d);
  const timer = d.s.timer;
  if (!timer || timer.id !== timerId) return;
  d.update({ timer: null });
  // A timer runs only while someone is waited for, and is cancelled whenever the phase moves on.
  const phase = d.s.phase;
  switch (phase.name) {
    case 'queued':
      requeue(d);
      return;
    case 'offering':
      ringingLegEnded(d, phase.target, true, true);
      return;
    case 'originating':
      ringingLegEnded(d, phase.origin, true);
      return;
    case 'help':
      ringingLegEnded(d, phase.help.helper, true);
      return;
    case 'transferring':
      ringingLegEnded(d, phase.transfer.target, true, true);
      return;
    /* c8 ignore next 2 -- no timer runs in the other phases (a property test checks it) */
    default:
      return;
  }
}

/**
 * A leg we were ringing will not answer: it failed, timed out, or we cancel it (`hangup`). `unanswered`: it rang
 * out or could not be reached (an agent offered a customer call then goes not ready).
 */
export function ringingLegEnded(d: Draft, legId: LegId, hangup: boolean, unanswered = false, reason: FailureReason = unanswered ? 'no-answer' : 'error'): void {
  const leg = d.leg(legId);
  const phase = d.s.phase;
  d.legGone(legId, hangup);
  if (phase.name === 'originating' && phase.origin === legId) originFailed(d, leg);
  else if (phase.name === 'offering' && phase.target === legId) offerFailed(d, phase, leg, unanswered);
  // The only leg that rings during help is the helper's.
  else if (phase.name === 'help') helpFailed(d, phase.help);
  // The only leg that rings during a transfer is its target (the transferor is up, or gone).
  else if (phase.name === 'transferring') transferFailed(d, phase.transfer, leg, unanswered, reason);
}

/** An answered party left (BYE, lost channel, or released through the API). */
export function partyLeft(d: Draft, legId: LegId, hangup: boolean): void {
  const leaver = d.leg(legId);
  const phase = d.s.phase;
  d.legGone(legId, hangup);
  switch (phase.name) {
    case 'offering': {
      // The waiting party gave up: stop ringing the target.
      d.clearTimer();
      d.legGone(phase.target, true);
      d.endCall();
      return;
    }
    case 'queued':
      d.clearTimer();
      d.endCall();
      return;
    case 'connected': {
      const other = phase.agent === legId ? phase.other : phase.agent;
      d.notifyLeft(other, leaver, d.sharedCallId(other));
      d.legGone(other, true);
      d.endCall();
      return;
    }
    case 'help':
      helpPartyLeft(d, phase.help, legId);
      return;
    case 'transferring':
      transferPartyLeft(d, phase.transfer, legId);
      return;
    case 'trunked':
      d.legGone(legId === phase.customer ? phase.outside : phase.customer, true);
      d.endCall();
      return;
    /* c8 ignore next 2 -- in the other phases no leg is up */
    default:
      return;
  }
}
