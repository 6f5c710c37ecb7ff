/**
 * The supervision decider: (supervision of one call, event) -> new supervision, commands for the supervisor's leg
 * and audio, notices for the agents' desks, and a refusal for a request that cannot be done. Pure: no I/O, no clock.
 * Rules, each short:
 * - a call can be supervised while an agent is on it (up); one supervisor at a time;
 * - the supervisor's phone rings first; on answer it joins with the mode asked last (a switch while ringing counts);
 * - monitor: heard by nobody; coach: by the agents only; barge: by everyone; recomputed whenever the parties change;
 * - a switch changes the audio only: the supervisor's leg is never rung again;
 * - the supervisor leaving (Leave, or its phone hangs up) touches nothing of the call;
 * - the call ending, or no agent left on it, hangs up the supervisor's leg.
 */
import type { SupervisedParty, Supervision, SupervisionCommand, SupervisionDecision, SupervisionEvent, SupervisionMode } from './types.js';

const none = (state: Supervision | null): SupervisionDecision => ({ state, commands: [], notices: [] });

/** The legs that hear the supervisor in a mode. */
export function heardBy(mode: SupervisionMode, parties: readonly SupervisedParty[]): string[] {
  switch (mode) {
    case 'monitor':
      return [];
    case 'coach':
      return parties.filter((p) => p.role === 'agent').map((p) => p.legId);
    case 'barge':
      return parties.map((p) => p.legId);
  }
}

export function decideSupervision(state: Supervision | null, event: SupervisionEvent): SupervisionDecision {
  switch (event.type) {
    case 'Start': {
      if (state) return { ...none(state), refusal: 'ALREADY_SUPERVISED' };
      if (!event.parties.some((p) => p.role === 'agent')) return { ...none(null), refusal: 'NOT_SUPERVISABLE' };
      const next: Supervision = {
        callId: event.callId,
        supervisorId: event.supervisorId,
        phone: event.phone,
        mode: event.mode,
        stage: 'ringing',
        supervisorLeg: event.legId,
        parties: event.parties,
      };
      return { state: next, commands: [{ kind: 'ringSupervisor', legId: event.legId, phone: event.phone }], notices: [] };
    }
    case 'Switch': {
      if (!state || state.supervisorId !== event.supervisorId) return { ...none(state), refusal: 'NOT_SUPERVISING' };
      const next = { ...state, mode: event.mode };
      return state.stage === 'joined' ? { state: next, commands: [audio(next)], notices: notices(next, event.mode) } : none(next);
    }
    case 'Leave':
      if (!state || state.supervisorId !== event.supervisorId) return { ...none(state), refusal: 'NOT_SUPERVISING' };
      return end(state);
    case 'SupervisorAnswered': {
      if (!state || state.stage === 'joined') return none(state);
      const next: Supervision = { ...state, stage: 'joined' };
      return { state: next, commands: [audio(next)], notices: notices(next, next.mode) };
    }
    case 'SupervisorGone':
      // Its leg is gone already: nothing to hang up, and the call goes on as it was.
      return state ? { state: null, commands: [], notices: state.stage === 'joined' ? notices(state, null) : [] } : none(null);
    case 'PartiesChanged': {
      if (!state) return none(null);
      const next = { ...state, parties: event.parties };
      if (!event.parties.some((p) => p.role === 'agent')) return end(next);
      return state.stage === 'joined' ? { state: next, commands: [audio(next)], notices: [] } : none(next);
    }
    case 'CallEnded':
      return state ? end(state) : none(null);
  }
}

function audio(s: Supervision): SupervisionCommand {
  return { kind: 'setSupervisorAudio', legId: s.supervisorLeg, callId: s.callId, heardBy: heardBy(s.mode, s.parties) };
}

function notices(s: Supervision, mode: SupervisionMode | null): SupervisionDecision['notices'] {
  return s.parties.filter((p) => p.role === 'agent' && p.workNo !== undefined).map((p) => ({ workNo: p.workNo as string, mode }));
}

function end(s: Supervision): SupervisionDecision {
  return { state: null, commands: [{ kind: 'hangupSupervisor', legId: s.supervisorLeg }], notices: s.stage === 'joined' ? notices(s, null) : [] };
}
