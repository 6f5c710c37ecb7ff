/**
 * Internal help (src/core/calls/help.ts): asking for help (who may be asked), the helper C ringing, answering in
 * two-party and three-party help, failing, being dropped by A, and each party leaving: C (A has B again), A (B is
 * handed to C, also while C still rings) and B (A and C stay on an internal call).
 */
import { describe, expect, it } from 'vitest';
import type { AgentSnapshot, ApiRequest, HelpSession } from '../../src/core/types.js';
import { agent, api, Call, CUSTOMER, eventOf, events, helpAsked, talking, expectRefusedFromTalking } from '../support/calls.js';

const innerhelp = (helper: Extract<ApiRequest, { kind: 'innerhelp' }>['helper'], candidates: AgentSnapshot[], workNo = '101'): ApiRequest => ({
  kind: 'innerhelp',
  workNo,
  mode: 1,
  helper,
  candidates,
  callappdata: '',
});
const helpOf = (call: Call): HelpSession => {
  if (call.state.phase.name !== 'help') throw new Error(`not in help: ${call.state.phase.name}`);
  return call.state.phase.help;
};
const talkingTo = (call: Call, workNo: string, other: string, callid = 'c'): void => {
  expect(eventOf(call.last, workNo, 'AgentEvent_Talking')).toMatchObject({ caller: other, callid, feature: 0 });
};

describe('asking for help', () => {
  it('two-party: B is held, C rings with the help call id, A is told it is on hold', () => {
    const d = helpAsked(1).last;
    expect(d.reply).toEqual({ ok: true, result: 'c-h4' });
    expect(d.state.phase).toEqual({
      name: 'help',
      help: { helpCallId: 'c-h4', mode: 1, stage: 'ringing', owner: 'c-L2', customer: 'B', helper: 'c-L5', ownerGone: false, callappdata: 'x' },
    });
    expect(d.state.legs['c-L2']?.callIds).toEqual(['c', 'c-h4']);
    expect(d.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t6', seconds: 20 },
      { kind: 'dial', legId: 'c-L5', number: '2002', workNo: '102', callerNumber: '101', callId: 'c' },
      { kind: 'playHoldMusic', legId: 'B' },
      { kind: 'playRingback', legId: 'c-L2' },
    ]);
    expect(d.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Hold', content: 'c' },
      { workNo: '102', eventType: 'AgentEvent_Ringing', content: { callid: 'c-h4', caller: '101', called: '102', feature: 3, mode: 1, callappdata: 'x' } },
    ]);
  });

  it('refuses a helper who is A itself, unknown, signed out, busy or not ready; a skill with nobody free', () => {
    const cases: [ApiRequest, string][] = [
      [innerhelp({ kind: 'agent', workNo: '101' }, [agent('101')]), 'HELPER_IS_SELF'],
      [innerhelp({ kind: 'agent', workNo: '109' }, [agent('102')]), 'HELPER_UNKNOWN'],
      [innerhelp({ kind: 'agent', workNo: '102' }, [agent('102', { signedIn: false })]), 'HELPER_NOT_SIGNED_IN'],
      [innerhelp({ kind: 'agent', workNo: '102' }, [agent('102', { busy: true })]), 'HELPER_BUSY'],
      [innerhelp({ kind: 'agent', workNo: '102' }, [agent('102', { ready: false })]), 'HELPER_NOT_READY'],
      [innerhelp({ kind: 'skill', skill: 'x' }, []), 'HELPER_UNKNOWN'],
      [innerhelp({ kind: 'skill', skill: 'x' }, [agent('101'), agent('102', { busy: true })]), 'NO_FREE_HELPER'],
    ];
    expectRefusedFromTalking(cases);
  });

  it('a skill: the first free agent that is not A', () => {
    const call = talking();
    call.on(api(innerhelp({ kind: 'skill', skill: 'x' }, [agent('101'), agent('102', { ready: false }), agent('103')])));
    expect(events(call.last)).toEqual([
      ['101', 'AgentEvent_Hold'],
      ['103', 'AgentEvent_Ringing'],
    ]);
  });
});

describe('the helper', () => {
  it('ringing: A is alerted on the help call', () => {
    const call = helpAsked(1);
    expect(call.ring('102').events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Customer_Alerting', content: { callid: 'c-h4', otherPhone: '2002', otherPhoneWorkno: '102', type: 3 } },
    ]);
  });

  it('answering two-party help: A and C talk on the help call, B still held', () => {
    const call = helpAsked(1);
    const d = call.answer('102');
    expect(helpOf(call).stage).toBe('talking');
    const content = { caller: '101', called: '102', callid: 'c-h4', feature: 3, type: 'customer', mediaAbility: 0 };
    expect(d.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Talking', content },
      { workNo: '102', eventType: 'AgentEvent_Talking', content },
    ]);
    expect(d.commands).toEqual([{ kind: 'cancelTimer', timerId: 'c-t6' }, { kind: 'bridge', a: 'c-L2', b: 'c-L5' }]);
  });

  it('answering three-party help (or confjoin): one room, each told of its partner', () => {
    const call = helpAsked(2);
    const d = call.answer('102');
    expect(helpOf(call)).toMatchObject({ mode: 2, stage: 'conference' });
    expect(d.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Conference', content: { callid: 'c', partner: '102' } },
      { workNo: '102', eventType: 'AgentEvent_Conference', content: { callid: 'c-h4', partner: '101' } },
    ]);
    expect(d.commands.filter((c) => c.kind === 'joinRoom').map((c) => c.legId).sort()).toEqual(['B', 'c-L2', 'c-L5']);
    const joined = helpAsked(1);
    joined.answer('102');
    expect(joined.on(api({ kind: 'confjoin', workNo: '101', callid: 'c-h4' })).reply).toEqual({ ok: true, result: null });
    expect(helpOf(joined)).toMatchObject({ mode: 2, stage: 'conference' });
  });

  it('failing: A gets Consult_Fail, the help call id released, and B back', () => {
    const call = helpAsked(1);
    const d = call.on({ type: 'LegFailed', legId: 'c-L5', reason: 'rejected' });
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L2', other: 'B', held: false });
    expect(events(d)).toEqual([
      ['102', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Consult_Fail'],
      ['101', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Talking'],
    ]);
    expect(d.state.legs['c-L2']?.callIds).toEqual(['c']);
    talkingTo(call, '101', CUSTOMER);
  });

  it('dropped by A: a ringing C is cancelled, a talking C is hung up and A is told it left', () => {
    const ringing = helpAsked(1);
    const cancelled = ringing.on(api({ kind: 'dropcall', workNo: '101', callid: 'c-h4' }));
    expect(cancelled.commands).toContainEqual({ kind: 'hangup', legId: 'c-L5' });
    expect(events(cancelled)).toEqual([
      ['102', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Talking'],
    ]);
    const answered = helpAsked(1);
    answered.answer('102');
    const dropped = answered.on(api({ kind: 'disconnect', workNo: '101', number: '102' }));
    expect(dropped.state.phase).toMatchObject({ name: 'connected', agent: 'c-L2', other: 'B' });
    expect(events(dropped)).toEqual([
      ['102', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Customer_Release'],
      ['101', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Talking'],
    ]);
  });
});

describe('a party leaving the help', () => {
  it('C hangs up: A has B again', () => {
    const call = helpAsked(1);
    call.answer('102');
    const d = call.hangUp('102');
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L2', other: 'B', held: false });
    expect(eventOf(d, '101', 'AgentEvent_Customer_Release')).toEqual({ callid: 'c-h4', number: '102' });
  });

  it('A hangs up while talking with C: B is handed to C, who leaves the help call for the customer call', () => {
    const call = helpAsked(1);
    call.answer('102');
    const d = call.hangUp('101');
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L5', other: 'B', held: false });
    expect(d.state.legs['c-L5']?.callIds).toEqual(['c']);
    expect(d.events.filter((e) => e.workNo === '102')).toEqual([
      { workNo: '102', eventType: 'AgentEvent_Customer_Release', content: { callid: 'c-h4', number: '101' } },
      { workNo: '102', eventType: 'AgentEvent_Call_Release', content: 'c-h4' },
      { workNo: '102', eventType: 'AgentEvent_Talking', content: { caller: CUSTOMER, called: '2002', callid: 'c', feature: 0, type: 'customer', mediaAbility: 0 } },
    ]);
  });

  it('A hangs up while C rings: C answering gets B; C failing leaves B to the queue', () => {
    const answers = helpAsked(1);
    expect(answers.hangUp('101').state.phase).toMatchObject({ name: 'help', help: { ownerGone: true, stage: 'ringing' } });
    expect(answers.ring('102').events).toEqual([]);
    const d = answers.answer('102');
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L5', other: 'B', held: false });
    expect(events(d)).toEqual([
      ['102', 'AgentEvent_Customer_Release'],
      ['102', 'AgentEvent_Call_Release'],
      ['102', 'AgentEvent_Talking'],
    ]);
    const fails = helpAsked(1);
    fails.hangUp('101');
    const queued = fails.timeout();
    expect(queued.state.phase).toEqual({ name: 'queued', customer: 'B' });
    expect(queued.commands).toContainEqual({ kind: 'findAgent', route: { kind: 'agent', workNo: '101' }, exclude: [] });
  });

  it('B hangs up while C rings: C is cancelled and the call ends', () => {
    const call = helpAsked(1);
    const d = call.hangUp('B');
    expect(d.state.phase).toEqual({ name: 'ended' });
    expect(d.commands).toEqual([
      { kind: 'cancelTimer', timerId: 'c-t6' },
      { kind: 'hangup', legId: 'c-L5' },
      { kind: 'hangup', legId: 'c-L2' },
    ]);
  });

  it('B hangs up while A and C talk: they stay connected as an internal call on the help call id', () => {
    const call = helpAsked(2);
    call.answer('102');
    const d = call.hangUp('B');
    expect(d.state).toMatchObject({ kind: 'internal', phase: { name: 'connected', agent: 'c-L2', other: 'c-L5', held: false } });
    expect(d.state.legs['c-L2']?.callIds).toEqual(['c-h4']);
    expect(d.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Customer_Release', content: { callid: 'c', number: CUSTOMER } },
      { workNo: '101', eventType: 'AgentEvent_Call_Release', content: 'c' },
    ]);
    expect(d.commands).toEqual([{ kind: 'bridge', a: 'c-L2', b: 'c-L5' }]);
  });
});
