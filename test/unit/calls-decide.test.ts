/**
 * The call decider's entry (src/core/calls/decide.ts, re-exported by src/core/decide.ts): a fresh call, what it tells
 * the shell about a call (agents held, call ids), and that only the first event starts a call and only API requests
 * get a reply.
 */
import { describe, expect, it } from 'vitest';
import * as calls from '../../src/core/calls/decide.js';
import { agentsOnCall, CallFeature, callIdsOf, decide, initialState } from '../../src/core/decide.js';
import { agent, api, arrive, Call, CONFIG, helpAsked } from '../support/calls.js';

describe('call decider entry', () => {
  it('src/core/decide.ts is the calls/ decider', () => {
    expect(decide).toBe(calls.decide);
    expect(initialState).toBe(calls.initialState);
    expect(CallFeature).toEqual({ normal: 0, internal: 1, outbound: 2, help: 3 });
  });

  it('a new call has no legs, no timer and nothing declined', () => {
    expect(initialState('x')).toEqual({
      callId: 'x',
      kind: 'customer',
      called: '',
      route: null,
      legs: {},
      phase: { name: 'new' },
      timer: null,
      queueTimer: null,
      waitedTooLong: false,
      declinedBy: [],
      seq: 0,
    });
  });

  it('agents on the call and call ids: every live agent leg, every id a leg knows', () => {
    const call = helpAsked(1);
    expect([...agentsOnCall(call.state)]).toEqual(['101', '102']);
    expect([...callIdsOf(call.state)]).toEqual(['c', 'c-h4']);
    call.hangUp('B');
    expect(agentsOnCall(call.state).size).toBe(0);
  });

  it('only the first event starts a call; a second start changes nothing', () => {
    const call = new Call([arrive([agent('101')])]);
    const again = decide(call.state, arrive([agent('102')]), CONFIG);
    expect(again).toEqual({ state: call.state, commands: [], events: [], presence: [] });
    const dialled = decide(call.state, { type: 'AgentDialled', agent: { workNo: '103', phone: '2003' }, target: { kind: 'customer', number: '1' } }, CONFIG);
    expect(dialled.state).toBe(call.state);
    const fresh = decide(initialState('c'), { type: 'LegAnswered', legId: 'B' }, CONFIG);
    expect(fresh.state).toEqual(initialState('c'));
  });

  it('an API request always gets a reply, other events never do', () => {
    const call = new Call([arrive([agent('101')])]);
    expect(call.last).not.toHaveProperty('reply');
    expect(call.on(api({ kind: 'hold', workNo: '999' })).reply).toEqual({ ok: false, code: 'NO_SUCH_CALL', message: expect.any(String) });
  });
});
