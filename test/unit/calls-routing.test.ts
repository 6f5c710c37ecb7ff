/**
 * Routing (src/core/calls/routing.ts): a customer offered to the first free agent or queued, offers ringing out and
 * requeued, a queue's maximum wait (overflow, then the final status), and an agent's own calls (callinner,
 * callout, its handset) ringing its phone first, then the target.
 */
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/core/types.js';
import { agent, arrive, Call, CUSTOMER, eventOf, events, kinds } from '../support/calls.js';

const SKILL_S = { kind: 'skill', skill: 's' } as const;
const callinner: CallEvent = { type: 'AgentDialled', agent: { workNo: '101', phone: '2001' }, target: { kind: 'agent', workNo: '102', phone: '2002' } };

describe('routing a customer', () => {
  it('offers the first signed-in, ready, free agent, the customer hearing ringback', () => {
    const call = new Call([arrive([agent('101', { busy: true }), agent('102', { ready: false }), agent('104', { signedIn: false }), agent('103')])]);
    const d = call.last;
    expect(d.state.phase).toEqual({ name: 'offering', waiting: 'B', target: 'c-L2', waitingHears: 'ringback' });
    expect(d.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t3', seconds: 15 },
      { kind: 'dial', legId: 'c-L2', number: '2003', workNo: '103', callerNumber: CUSTOMER, callId: 'c' },
      { kind: 'playRingback', legId: 'B' },
    ]);
    expect(d.events).toEqual([{ workNo: '103', eventType: 'AgentEvent_Ringing', content: { callid: 'c', caller: CUSTOMER, called: '4000', feature: 0 } }]);
  });

  it('queues with music when nobody is free, and offers the agent that becomes available', () => {
    const call = new Call([arrive([agent('101', { busy: true })])]);
    expect(call.last.state.phase).toEqual({ name: 'queued', customer: 'B' });
    expect(call.last.commands).toEqual([{ kind: 'startTimer', timerId: 'c-t2', seconds: 10 }, { kind: 'playHoldMusic', legId: 'B' }]);
    const d = call.on({ type: 'AgentsAvailable', candidates: [agent('101')] });
    expect(d.state.phase).toMatchObject({ name: 'offering', waitingHears: 'moh' });
    expect(events(d)).toEqual([['101', 'AgentEvent_Ringing']]);
  });

  it('an answered offer connects agent and customer', () => {
    const call = new Call([arrive([agent('101')], SKILL_S)]);
    const d = call.answer('101');
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L3', other: 'B', held: false });
    // The queue's maximum wait is over too.
    expect(d.commands).toEqual([{ kind: 'cancelTimer', timerId: 'c-t4' }, { kind: 'cancelTimer', timerId: 'c-t2' }, { kind: 'bridge', a: 'c-L3', b: 'B' }]);
    expect(d.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Talking', content: { caller: CUSTOMER, called: '2001', callid: 'c', feature: 0, type: 'customer', mediaAbility: 0 } },
    ]);
  });

  it('an offer that rings out: the agent declined it and goes not ready; a rejection is only declined', () => {
    const rangOut = new Call([arrive([agent('101')])]).timeout();
    expect(rangOut.state).toMatchObject({ phase: { name: 'queued' }, declinedBy: ['101'] });
    expect(rangOut.presence).toEqual([{ kind: 'offer-unanswered', workNo: '101' }]);
    const call = new Call([arrive([agent('101')])]);
    const rejected = call.on({ type: 'LegFailed', legId: 'c-L2', reason: 'rejected' });
    expect(rejected.state.declinedBy).toEqual(['101']);
    expect(rejected.presence).toEqual([]);
    // Declined agents are not offered it again until the requeue timer gives them another chance.
    expect(call.on({ type: 'AgentsAvailable', candidates: [agent('101')] }).state.phase.name).toBe('queued');
    const requeued = call.timeout();
    expect(requeued.state.declinedBy).toEqual([]);
    expect(requeued.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t5', seconds: 10 },
      { kind: 'findAgent', route: { kind: 'agent', workNo: '101' }, exclude: [] },
    ]);
  });

  it('a queue waited to its maximum overflows to the next skill, whose maximum ends the call with its status', () => {
    const call = new Call([arrive([], SKILL_S)]);
    const overflow = call.timeout('queueTimer');
    expect(overflow.state).toMatchObject({ route: { kind: 'skill', skill: 't' }, queueTimer: { id: 'c-t4' }, phase: { name: 'queued' } });
    expect(overflow.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t4', seconds: 30 },
      { kind: 'cancelTimer', timerId: 'c-t3' },
      { kind: 'startTimer', timerId: 'c-t5', seconds: 10 },
      { kind: 'findAgent', route: { kind: 'skill', skill: 't' }, exclude: [] },
    ]);
    const rejected = call.timeout('queueTimer');
    expect(rejected.state.phase).toEqual({ name: 'ended' });
    expect(rejected.commands).toEqual([{ kind: 'cancelTimer', timerId: 'c-t5' }, { kind: 'hangup', legId: 'B', sipStatus: 486 }]);
  });

  it('a maximum wait reached while an agent rings waits for that agent: it answers, or the treatment applies', () => {
    const call = new Call([arrive([agent('101')], { kind: 'skill', skill: 't' })]);
    const late = call.timeout('queueTimer');
    expect(late.commands).toEqual([]);
    expect(late.state).toMatchObject({ queueTimer: null, waitedTooLong: true, phase: { name: 'offering' } });
    const failed = call.on({ type: 'LegFailed', legId: 'c-L3', reason: 'busy' });
    expect(failed.state.phase).toEqual({ name: 'ended' });
    expect(failed.commands).toContainEqual({ kind: 'hangup', legId: 'B', sipStatus: 486 });
  });
});

describe("routing an agent's own call", () => {
  it('callinner rings the agent first, then the target; both talk when it answers', () => {
    const call = new Call([callinner]);
    expect(call.last.state).toMatchObject({ kind: 'internal', called: '102', route: null, phase: { name: 'originating', origin: 'c-L1' } });
    expect(call.last.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t2', seconds: 15 },
      { kind: 'dial', legId: 'c-L1', number: '2001', workNo: '101', callerNumber: '102', callId: 'c' },
    ]);
    const own = call.answer('101');
    expect(own.state.phase).toEqual({ name: 'offering', waiting: 'c-L1', target: 'c-L3', waitingHears: 'ringback' });
    expect(eventOf(own, '102', 'AgentEvent_Ringing')).toEqual({ callid: 'c', caller: '101', called: '102', feature: 1 });
    expect(kinds(own)).toEqual(['cancelTimer', 'startTimer', 'dial', 'playRingback']);
    expect(eventOf(call.ring('102'), '101', 'AgentEvent_Customer_Alerting')).toEqual({ callid: 'c', otherPhone: '2002', otherPhoneWorkno: '102', type: 1 });
    const talk = call.answer('102');
    const content = { caller: '101', called: '102', callid: 'c', feature: 1, type: 'internal', mediaAbility: 0 };
    expect(talk.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Talking', content },
      { workNo: '102', eventType: 'AgentEvent_Talking', content },
    ]);
  });

  it("the agent's own phone not answering, or the target not answering, fails the call", () => {
    const own = new Call([callinner]).timeout();
    expect(own.state.phase).toEqual({ name: 'ended' });
    expect(events(own)).toEqual([
      ['101', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Inside_Call_Fail'],
    ]);
    const call = new Call([callinner]);
    call.answer('101');
    const target = call.on({ type: 'LegFailed', legId: 'c-L3', reason: 'busy' });
    expect(target.state.phase).toEqual({ name: 'ended' });
    expect(events(target)).toEqual([
      ['102', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Inside_Call_Fail'],
      ['101', 'AgentEvent_Call_Release'],
    ]);
    expect(target.commands).toContainEqual({ kind: 'hangup', legId: 'c-L1' });
    // An agent who does not answer an internal call is not a customer call rung out: no presence change.
    expect(target.presence).toEqual([]);
  });

  it("a handset's own call out is up already: the customer is rung at once, and the call is outbound", () => {
    const call = new Call([{ type: 'AgentPhoneCalled', agent: { workNo: '101', phone: '2001' }, leg: { id: 'H' }, target: { kind: 'customer', number: '5550199' } }]);
    expect(call.last.state).toMatchObject({ kind: 'outbound', route: { kind: 'agent', workNo: '101' }, phase: { name: 'offering', waiting: 'H', target: 'c-L2' } });
    expect(call.last.commands).toContainEqual({ kind: 'dial', legId: 'c-L2', number: '5550199', callerNumber: '2001', callId: 'c' });
    expect(eventOf(call.on({ type: 'LegRinging', legId: 'c-L2' }), '101', 'AgentEvent_Customer_Alerting')).toEqual({ callid: 'c', otherPhone: '5550199', otherPhoneWorkno: '', type: 2 });
    const talk = call.on({ type: 'LegAnswered', legId: 'c-L2' });
    expect(talk.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Talking', content: { caller: '101', called: '5550199', callid: 'c', feature: 2, type: 'outbound', mediaAbility: 0 } },
    ]);
  });
});
