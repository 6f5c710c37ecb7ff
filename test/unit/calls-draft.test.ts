/**
 * The call decider's bookkeeping (src/core/calls/draft.ts), seen through decide: the order of the commands, the
 * deterministic ids, what a leg that is gone tells its agent and presence, and that an ended call leaves no timer.
 */
import { describe, expect, it } from 'vitest';
import { agent, arrive, Call, CUSTOMER, talking } from '../support/calls.js';

describe('call bookkeeping', () => {
  it('orders commands: timers, dials, media, transfer reports, hang-ups, look-ups', () => {
    // 101 lets the offer ring out: its phone is hung up, the customer queued with music, fresh agents asked for.
    const call = new Call([arrive([agent('101')])]);
    const d = call.timeout();
    expect(d.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t4', seconds: 10 },
      { kind: 'playHoldMusic', legId: 'B' },
      { kind: 'hangup', legId: 'c-L2' },
      { kind: 'findAgent', route: { kind: 'agent', workNo: '101' }, exclude: ['101'] },
    ]);
  });

  it('gives legs, timers and help calls ids from one counter in the state', () => {
    const call = new Call([arrive([agent('101')])]);
    expect(Object.keys(call.state.legs)).toEqual(['B', 'c-L2']);
    expect(call.state.timer).toEqual({ id: 'c-t3', purpose: 'offer-answer' });
    expect(call.state.seq).toBe(3);
    expect(call.last.commands[1]).toEqual({ kind: 'dial', legId: 'c-L2', number: '2001', workNo: '101', callerNumber: CUSTOMER, callId: 'c' });
  });

  it('a leg that is gone: one Call_Release per call id it knew, and wrap-up due after a customer call', () => {
    const call = talking();
    const d = call.hangUp('B');
    expect(d.state.phase).toEqual({ name: 'ended' });
    expect(d.commands).toEqual([{ kind: 'hangup', legId: 'c-L2' }]);
    expect(d.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Customer_Release', content: { callid: 'c', number: CUSTOMER } },
      { workNo: '101', eventType: 'AgentEvent_Call_Release', content: 'c' },
    ]);
    expect(d.presence).toEqual([{ kind: 'customer-call-ended', workNo: '101' }]);
    expect(Object.values(d.state.legs).map((l) => l.status)).toEqual(['gone', 'gone']);
  });

  it('no wrap-up after an internal call, and none for a leg that never answered', () => {
    const internal = new Call([{ type: 'AgentDialled', agent: { workNo: '101', phone: '2001' }, target: { kind: 'agent', workNo: '102', phone: '2002' } }]);
    internal.answer('101');
    internal.answer('102');
    expect(internal.hangUp('102').presence).toEqual([]);
    const offered = new Call([arrive([agent('101')])]);
    expect(offered.hangUp('B').presence).toEqual([]);
  });

  it('an ended call cancels its pending timer and its queue timer', () => {
    const call = new Call([arrive([agent('101', { busy: true })], { kind: 'skill', skill: 's' })]);
    expect(call.state).toMatchObject({ timer: { id: 'c-t3', purpose: 'requeue' }, queueTimer: { id: 'c-t2', purpose: 'queue-wait' } });
    const d = call.hangUp('B');
    expect(d.commands).toEqual([
      { kind: 'cancelTimer', timerId: 'c-t3' },
      { kind: 'cancelTimer', timerId: 'c-t2' },
    ]);
    expect(d.state).toMatchObject({ phase: { name: 'ended' }, timer: null, queueTimer: null });
  });
});
