/**
 * Transfers beyond the blind one to an agent or a number (src/core/calls/transfer.ts, help.ts): to a skill queue
 * (A free at once, B in that skill's queue with music, offered to its longest-idle ready agent), and consult, then
 * complete (innerhelp mode 1, then a transfer to the consulted agent: B handed to C, A free), with what each refuses.
 */
import { describe, expect, it } from 'vitest';
import type { AgentSnapshot, ApiRequest } from '../../src/core/types.js';
import { agent, api, CUSTOMER, eventOf, events, expectRefusedFromTalking, helpAsked, talking } from '../support/calls.js';

const toSkill = (skill: string, candidates: readonly AgentSnapshot[], fromPhone = false): ApiRequest => ({
  kind: 'transfer',
  workNo: '101',
  to: { kind: 'skill', skill, candidates },
  fromPhone,
});

describe('transfer to a skill queue', () => {
  it("a free agent of the skill: A is told and released at once, B hears music while that agent rings with B's call", () => {
    const call = talking();
    const d = call.on(api(toSkill('s', [agent('101', { busy: true }), agent('103', { ready: false }), agent('102')], true)));
    expect(d.reply).toEqual({ ok: true, result: 'c' });
    expect(d.state).toMatchObject({ route: { kind: 'skill', skill: 's' }, declinedBy: ['101'], phase: { name: 'offering', waiting: 'B', waitingHears: 'moh' } });
    expect(d.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t4', seconds: 30 },
      { kind: 'startTimer', timerId: 'c-t6', seconds: 15 },
      { kind: 'dial', legId: 'c-L5', number: '2002', workNo: '102', callerNumber: CUSTOMER, callId: 'c' },
      { kind: 'playHoldMusic', legId: 'B' },
      { kind: 'reportTransfer', legId: 'c-L2', sipStatus: 200 },
      { kind: 'hangup', legId: 'c-L2' },
    ]);
    expect(events(d)).toEqual([
      ['101', 'AgentEvent_linkagePhoneTransferOut'],
      ['101', 'AgentEvent_SuccTransResult'],
      ['101', 'AgentEvent_Call_Release'],
      ['102', 'AgentEvent_Ringing'],
    ]);
    expect(eventOf(d, '101', 'AgentEvent_linkagePhoneTransferOut')).toEqual({ callid: 'c', addrOut: 's', addrSelf: '2001' });
    expect(eventOf(d, '101', 'AgentEvent_SuccTransResult')).toEqual({ callId: 'c', result: 0 });
    expect(eventOf(d, '102', 'AgentEvent_Ringing')).toEqual({ callid: 'c', caller: CUSTOMER, called: '4000', feature: 0 });
    expect(d.presence).toEqual([{ kind: 'customer-call-ended', workNo: '101' }]);
    // 102 answers: B talks with 102, as a customer of the skill.
    const answered = call.answer('102');
    expect(answered.state.phase).toEqual({ name: 'connected', agent: 'c-L5', other: 'B', held: false });
    expect(answered.state.queueTimer).toBeNull();
  });

  it("no free agent: B waits in the queue with music; the skill's maximum wait applies from the transfer", () => {
    const call = talking();
    const d = call.on(api(toSkill('t', [agent('102', { busy: true })])));
    expect(d.state.phase).toEqual({ name: 'queued', customer: 'B' });
    expect(d.commands).toContainEqual({ kind: 'playHoldMusic', legId: 'B' });
    expect(d.commands.filter((c) => c.kind === 'hangup')).toEqual([{ kind: 'hangup', legId: 'c-L2' }]);
    // Nobody comes within t's maximum wait: t's treatment (486) ends the call.
    const over = call.timeout('queueTimer');
    expect(over.state.phase).toEqual({ name: 'ended' });
    expect(over.commands).toContainEqual({ kind: 'hangup', legId: 'B', sipStatus: 486 });
  });

  it('a skill nobody has is refused (SKILL_UNKNOWN), and the call goes on', () => {
    expectRefusedFromTalking([[toSkill('nobody', []), 'SKILL_UNKNOWN']]);
  });
});

describe('consult, then complete (attended transfer through the API)', () => {
  const complete = (workNo = '102'): ApiRequest => ({ kind: 'transfer', workNo: '101', to: { kind: 'agent', workNo, snapshot: agent(workNo, { busy: true }) }, fromPhone: false });

  it('C answered the consultation: A leaves told of success, B and C talk on the customer call', () => {
    const call = helpAsked(1);
    call.answer('102');
    const d = call.on(api(complete()));
    expect(d.reply).toEqual({ ok: true, result: 'c' });
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L5', other: 'B', held: false });
    expect(d.commands).toEqual([{ kind: 'bridge', a: 'c-L5', b: 'B' }, { kind: 'hangup', legId: 'c-L2' }]);
    expect(events(d)).toEqual([
      ['101', 'AgentEvent_SuccTransResult'],
      ['101', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Call_Release'],
      ['102', 'AgentEvent_Customer_Release'],
      ['102', 'AgentEvent_Call_Release'],
      ['102', 'AgentEvent_Talking'],
    ]);
    expect(eventOf(d, '102', 'AgentEvent_Talking')).toMatchObject({ caller: CUSTOMER, callid: 'c', feature: 0 });
    expect(d.state.legs['c-L5']?.callIds).toEqual(['c']);
  });

  it('also from three-party help (the room): B and C are left talking', () => {
    const call = helpAsked(2);
    call.answer('102');
    const d = call.on(api(complete()));
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L5', other: 'B', held: false });
  });

  it('refused while C still rings (B stays held, A hears ringback), or to anyone but the consulted agent', () => {
    const ringing = helpAsked(1);
    const before = ringing.state;
    expect(ringing.on(api(complete())).reply).toMatchObject({ ok: false, code: 'NOT_ALLOWED_NOW' });
    expect(ringing.state).toBe(before);
    const talkingToC = helpAsked(1);
    talkingToC.answer('102');
    expect(talkingToC.on(api(complete('103'))).reply).toMatchObject({ ok: false, code: 'TRANSFER_NOT_ALLOWED' });
    expect(talkingToC.on(api({ kind: 'transfer', workNo: '101', to: { kind: 'number', number: '5550199' }, fromPhone: false })).reply).toMatchObject({
      ok: false,
      code: 'TRANSFER_NOT_ALLOWED',
    });
  });

  it('C hung up before the completion: A has B back, and the completion is refused (no help any more)', () => {
    const call = helpAsked(1);
    call.answer('102');
    call.hangUp('102');
    expect(call.state.phase).toMatchObject({ name: 'connected', agent: 'c-L2', other: 'B' });
    const d = call.on(api(complete()));
    expect(d.reply).toMatchObject({ ok: false });
    expect(d.state.phase).toMatchObject({ name: 'connected', agent: 'c-L2', other: 'B' });
  });

  it('B hung up before the completion: A and C are left on an internal call, the completion is refused', () => {
    const call = helpAsked(1);
    call.answer('102');
    call.hangUp('B');
    const d = call.on(api(complete()));
    expect(d.reply).toMatchObject({ ok: false, code: 'TRANSFER_NOT_ALLOWED' });
    expect(d.state).toMatchObject({ kind: 'internal', phase: { name: 'connected', agent: 'c-L2', other: 'c-L5' } });
  });
});
