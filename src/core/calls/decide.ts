/**
 * The call decider: (state, event) -> new state, commands, agent events and, for API requests, a reply.
 *
 * Pure: no I/O, no clock, no randomness; ids come from a counter in the state. Every rule of internal help and
 * every race (late answers, crossing hang-ups, duplicate events) is decided in this folder: each event goes to its
 * rule module (routing, legs, help, transfer, api), which work on one Draft (draft.ts) of the call. Events about
 * legs that are gone, and timers that are no longer pending, change nothing, which is what makes duplicated and late
 * events harmless.
 */
import type { CallEvent, CallId, CallState, CoreConfig, Decision, Reply } from '../types.js';
import { api } from './api.js';
import { Draft } from './draft.js';
import { legAnswered, legFailed, legHungUp, legRinging, timerFired } from './legs.js';
import { agentDialled, agentPhoneCalled, agentsAvailable, customerArrived } from './routing.js';

export { CallFeature } from './draft.js';

export function initialState(callId: CallId): CallState {
  return { callId, kind: 'customer', called: '', route: null, legs: {}, phase: { name: 'new' }, timer: null, queueTimer: null, waitedTooLong: false, declinedBy: [], seq: 0 };
}

export function decide(state: CallState, event: CallEvent, config: CoreConfig): Decision {
  const draft = new Draft(state, config);
  return draft.finish(apply(draft, event));
}

/** Agents that this call holds (ringing or talking): the shell marks them busy. */
export function agentsOnCall(state: CallState): Set<string> {
  const agents = new Set<string>();
  for (const leg of Object.values(state.legs)) if (leg.workNo !== undefined && leg.status !== 'gone') agents.add(leg.workNo);
  return agents;
}

/** Every call id the state knows (the call itself and its help calls): the shell indexes calls by them. */
export function callIdsOf(state: CallState): Set<CallId> {
  const ids = new Set<CallId>([state.callId]);
  for (const leg of Object.values(state.legs)) for (const id of leg.callIds) ids.add(id);
  return ids;
}

/** Hands the event to its rule; only an API request has a reply. */
function apply(d: Draft, event: CallEvent): Reply | undefined {
  switch (event.type) {
    case 'CustomerArrived':
      customerArrived(d, event);
      return undefined;
    case 'AgentDialled':
      agentDialled(d, event);
      return undefined;
    case 'AgentPhoneCalled':
      agentPhoneCalled(d, event);
      return undefined;
    case 'AgentsAvailable':
      agentsAvailable(d, event.candidates);
      return undefined;
    case 'LegRinging':
      legRinging(d, event.legId);
      return undefined;
    case 'LegAnswered':
      legAnswered(d, event.legId);
      return undefined;
    case 'LegFailed':
      legFailed(d, event.legId, event.reason);
      return undefined;
    case 'LegHungUp':
      legHungUp(d, event.legId, event.lost === true);
      return undefined;
    case 'TimerFired':
      timerFired(d, event.timerId);
      return undefined;
    case 'Api':
      return api(d, event.request);
  }
}
