/**
 * Agent requests through the API, on the call the agent is a party of: release (leave the call), hold and gethold,
 * dropcall and disconnect (drop a party by call id or by number), innerhelp, confjoin and transfer. Decided here:
 * which request the call allows in its phase and for which party, with the refusal otherwise; help and transfer
 * are started and carried out by their own modules.
 */
import { refuse } from '../refusals.js';
import type { ApiRequest, HelpSession, Leg, LegId, Reply } from '../types.js';
import { CallFeature, type Connected, type Draft } from './draft.js';
import { completeConsultation, conference, dropHelper, startHelp } from './help.js';
import { partyLeft, ringingLegEnded } from './legs.js';
import { startTransfer } from './transfer.js';

type PartyRequest = Exclude<ApiRequest, { kind: 'release' }>;

export function api(d: Draft, request: ApiRequest): Reply {
  const phase = d.s.phase;
  const party = partyOf(d, request.workNo);
  if (!party) return refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NO_SUCH_CALL');
  if (request.kind === 'release') {
    releaseParty(d, party.id);
    return { ok: true, result: null };
  }
  if (phase.name === 'connected') return apiConnected(d, request, phase, party);
  if (phase.name === 'help') return apiHelp(d, request, phase.help, party);
  if (request.kind === 'transfer') return refuse('TRANSFER_NOT_ALLOWED');
  return refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NOT_ALLOWED_NOW');
}

/** The agent leaves the call: an answered leg as if it hung up, a ringing one as if it rejected. */
function releaseParty(d: Draft, legId: LegId): void {
  const leg = d.leg(legId);
  if (leg.status === 'up') partyLeft(d, legId, true);
  else ringingLegEnded(d, legId, true, false, 'rejected');
}

/** Two parties talk: the agent may hold and retrieve, drop the other, ask for help or transfer a customer. */
function apiConnected(d: Draft, request: PartyRequest, phase: Connected, party: Leg): Reply {
  const isAgentSide = party.id === phase.agent;
  const other = d.leg(isAgentSide ? phase.other : phase.agent);
  switch (request.kind) {
    case 'innerhelp': {
      if (!isAgentSide || other.role !== 'customer') return refuse('NO_CUSTOMER_CALL');
      return startHelp(d, request, phase);
    }
    case 'hold':
      if (!isAgentSide) return refuse('NOT_ALLOWED_NOW');
      if (phase.held) return refuse('ALREADY_HELD');
      d.setPhase({ ...phase, held: true });
      d.emit(party.workNo as string, 'AgentEvent_Hold', d.s.callId);
      return { ok: true, result: null };
    case 'gethold': {
      if (!isAgentSide) return refuse('NOT_ALLOWED_NOW');
      if (!phase.held) return refuse('NOT_HELD');
      if (request.callid !== null && !party.callIds.includes(request.callid)) return refuse('NO_SUCH_CALL');
      d.setPhase({ ...phase, held: false });
      d.emit(party.workNo as string, 'AgentEvent_Talking', d.talking(other.number, party.number, d.sharedCallId(party.id), CallFeature.normal));
      return { ok: true, result: null };
    }
    case 'dropcall':
      if (!party.callIds.includes(request.callid)) return refuse('NO_SUCH_CALL');
      partyLeft(d, other.id, true);
      return { ok: true, result: null };
    case 'disconnect':
      if (!matchesNumber(other, request.number)) return refuse('NOT_A_PARTY');
      partyLeft(d, other.id, true);
      return { ok: true, result: null };
    case 'confjoin':
      return refuse('NO_HELP_IN_PROGRESS');
    case 'transfer':
      if (!isAgentSide || other.role !== 'customer') return refuse('TRANSFER_NOT_ALLOWED');
      return startTransfer(d, request, phase);
  }
}

/** During help only A may act: drop C (or, in a conference, B), or turn two-party help into three-party. */
function apiHelp(d: Draft, request: PartyRequest, help: HelpSession, party: Leg): Reply {
  if (party.id !== help.owner) return refuse(request.kind === 'innerhelp' ? 'NO_CUSTOMER_CALL' : 'NOT_ALLOWED_NOW');
  switch (request.kind) {
    case 'innerhelp':
      return refuse('HELP_IN_PROGRESS');
    case 'transfer': {
      // Consult, then complete: a transfer to the agent A is consulting hands B to that agent once it has answered.
      const helper = d.leg(help.helper);
      if (request.to.kind !== 'agent' || request.to.workNo !== helper.workNo) return refuse('TRANSFER_NOT_ALLOWED');
      if (help.stage === 'ringing') return refuse('NOT_ALLOWED_NOW');
      completeConsultation(d, help);
      return { ok: true, result: d.s.callId };
    }
    case 'hold':
    case 'gethold':
      return refuse('NOT_ALLOWED_NOW');
    case 'dropcall':
      if (request.callid === help.helpCallId) {
        dropHelper(d, help);
        return { ok: true, result: null };
      }
      return refuse(request.callid === d.s.callId ? 'CANNOT_RELEASE_HELD_CUSTOMER' : 'NO_SUCH_CALL');
    case 'disconnect': {
      const helper = d.leg(help.helper);
      const customer = d.leg(help.customer);
      if (matchesNumber(helper, request.number)) {
        dropHelper(d, help);
        return { ok: true, result: null };
      }
      if (matchesNumber(customer, request.number)) {
        if (help.stage !== 'conference') return refuse('CANNOT_RELEASE_HELD_CUSTOMER');
        partyLeft(d, help.customer, true);
        return { ok: true, result: null };
      }
      return refuse('NOT_A_PARTY');
    }
    case 'confjoin':
      if (request.callid !== d.s.callId && request.callid !== help.helpCallId) return refuse('NO_SUCH_CALL');
      if (help.stage !== 'talking') return refuse('NOT_ALLOWED_NOW');
      conference(d, help);
      return { ok: true, result: null };
  }
}

function partyOf(d: Draft, workNo: string): Leg | undefined {
  return Object.values(d.s.legs).find((l) => l.workNo === workNo && l.status !== 'gone');
}

function matchesNumber(leg: Leg, number: string): boolean {
  return leg.number === number || (leg.workNo !== undefined && leg.workNo === number);
}
