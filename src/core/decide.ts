/**
 * The call decider's entry, at the path the shell, the bench and the tests import: the rules themselves are in
 * calls/ (calls/decide.ts dispatches each event to them).
 */
export { CallFeature, agentsOnCall, callIdsOf, decide, initialState } from './calls/decide.js';
