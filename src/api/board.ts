/**
 * What a supervisor's wall (and an agent's helper picker) shows: every agent with its presence, every call with
 * its parties and who hears whom. Who hears whom comes from the core's own media plan, so it is the same relation
 * the simulator exposes and, on the real backend, what the service has told FreeSWITCH to do.
 */
import { mediaPlan } from '../core/media-plan.js';
import type { PresenceStatus } from '../core/presence/types.js';
import type { CallState, HelpMode, HelpStage, LegRole, LegStatus } from '../core/types.js';
import type { AgentDirectory, BoardPresence } from '../orchestrator/agent-directory.js';
import type { CallSnapshot } from '../orchestrator/call-control.js';

export interface AgentView {
  readonly workNo: string;
  readonly phone: string;
  readonly skills: readonly string[];
  readonly presence: BoardPresence;
  /** When the agent entered that presence (ms since the epoch), null if not since the service started. */
  readonly since: number | null;
  /** The agent's state (the presence decider's: ready, not-ready, rest, wrap-up); null while signed out. */
  readonly state: PresenceStatus | null;
  /** The not-ready reason or rest cause of that state; null while signed out. */
  readonly reason: number | null;
  /** When the agent entered that state (ms since the epoch); null while signed out. */
  readonly stateSince: number | null;
}

export interface PartyView {
  readonly number: string;
  /** The agent's work number for an agent's phone, null for a customer. */
  readonly workNo: string | null;
  readonly role: LegRole;
  readonly status: Exclude<LegStatus, 'gone'>;
  /** Phone numbers this party hears, "moh" for hold music, "ringback"; empty: silence (ringing, parked). */
  readonly hears: readonly string[];
}

export interface CallView {
  readonly callid: string;
  readonly kind: CallState['kind'];
  /** The number the customer dialled (customer calls), else empty. */
  readonly called: string;
  readonly startedAt: number;
  readonly phase: Exclude<CallState['phase']['name'], 'new' | 'ended'>;
  readonly held: boolean;
  readonly help: { readonly callid: string; readonly mode: HelpMode; readonly stage: HelpStage; readonly helper: string } | null;
  readonly parties: readonly PartyView[];
}

export function agentViews(directory: AgentDirectory): AgentView[] {
  return directory.allProfiles().map((profile) => {
    const { presence, since } = directory.boardPresenceOf(profile.workNo);
    const state = directory.presenceOf(profile.workNo);
    return {
      workNo: profile.workNo,
      phone: directory.phoneOf(profile.workNo) ?? profile.phone,
      skills: profile.skills,
      presence,
      since,
      state: state?.status ?? null,
      reason: state ? state.reason : null,
      stateSince: directory.presenceSinceOf(profile.workNo),
    };
  });
}

export function callView({ state, startedAt }: CallSnapshot): CallView | null {
  const phase = state.phase;
  if (phase.name === 'new' || phase.name === 'ended') return null;
  const plan = mediaPlan(state);
  const legs = Object.values(state.legs).filter((leg) => leg.status !== 'gone');
  const hears = (legId: string): string[] => {
    const media = plan.get(legId);
    switch (media?.kind) {
      case undefined:
      case 'park':
        return [];
      case 'moh':
      case 'ringback':
        return [media.kind];
      case 'bridge': {
        const peer = state.legs[media.peer];
        return peer && peer.status === 'up' ? [peer.number] : [];
      }
      case 'room': {
        const others = legs.filter((l) => l.id !== legId && l.status === 'up' && plan.get(l.id)?.kind === 'room').map((l) => l.number);
        return others.length > 0 ? others.sort() : ['moh'];
      }
    }
  };
  const help = phase.name === 'help' ? phase.help : null;
  return {
    callid: state.callId,
    kind: state.kind,
    called: state.called,
    startedAt,
    phase: phase.name,
    held: phase.name === 'connected' && phase.held,
    help: help && {
      callid: help.helpCallId,
      mode: help.mode,
      stage: help.stage,
      helper: state.legs[help.helper]?.workNo ?? state.legs[help.helper]?.number ?? '',
    },
    parties: legs.map((leg) => ({
      number: leg.number,
      workNo: leg.workNo ?? null,
      role: leg.role,
      status: leg.status as PartyView['status'],
      hears: leg.status === 'up' ? hears(leg.id) : [],
    })),
  };
}

export function callViews(snapshots: readonly CallSnapshot[]): CallView[] {
  const views: CallView[] = [];
  for (const snapshot of snapshots) {
    const view = callView(snapshot);
    if (view) views.push(view);
  }
  return views.sort((a, b) => a.startedAt - b.startedAt || a.callid.localeCompare(b.callid));
}
