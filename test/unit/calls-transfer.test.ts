/**
 * Blind transfer (src/core/calls/transfer.ts): who may be transferred to, the target ringing and answering (A is
 * told and hung up), failing (A gets B back as it was, or, A gone, B queues), and A or B leaving while it rings.
 */
import { describe, expect, it } from 'vitest';
import type { AgentSnapshot, ApiRequest } from '../../src/core/types.js';
import { agent, api, Call, CUSTOMER, eventOf, events, talking, expectRefusedFromTalking } from '../support/calls.js';

const toAgent = (snapshot: AgentSnapshot | undefined, workNo = '102', fromPhone = true): ApiRequest => ({
  kind: 'transfer',
  workNo: '101',
  to: { kind: 'agent', workNo, snapshot },
  fromPhone,
});

/** B talks with 101, who transfers to 102 (leg c-L4) from its phone; 102 rings. */
function transferring(held = false): Call {
  const call = talking();
  if (held) call.on(api({ kind: 'hold', workNo: '101' }));
  call.on(api(toAgent(agent('102'))));
  return call;
}

describe('blind transfer', () => {
  it('to an agent: the target rings with the customer call, B hears ringback, A is told', () => {
    const d = transferring().last;
    expect(d.reply).toEqual({ ok: true, result: 'c' });
    expect(d.state.phase).toEqual({ name: 'transferring', transfer: { transferor: 'c-L2', customer: 'B', target: 'c-L4', transferorGone: false, wasHeld: false } });
    expect(d.commands).toEqual([
      { kind: 'startTimer', timerId: 'c-t5', seconds: 15 },
      { kind: 'dial', legId: 'c-L4', number: '2002', workNo: '102', callerNumber: CUSTOMER, callId: 'c' },
      { kind: 'playRingback', legId: 'B' },
      { kind: 'park', legId: 'c-L2' },
    ]);
    expect(d.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_linkagePhoneTransferOut', content: { callid: 'c', addrOut: '102', addrSelf: '2001' } },
      { workNo: '102', eventType: 'AgentEvent_Ringing', content: { callid: 'c', caller: CUSTOMER, called: '4000', feature: 0 } },
    ]);
  });

  it('refuses an unknown agent or A itself, one signed out, busy or not ready, and a number that cannot be dialled', () => {
    const cases: [ApiRequest, string][] = [
      [toAgent(undefined, '109'), 'CALLED_UNKNOWN'],
      [toAgent(agent('101'), '101'), 'CALLED_UNKNOWN'],
      [toAgent(agent('102', { signedIn: false })), 'CALLED_NOT_SIGNED_IN'],
      [toAgent(agent('102', { busy: true })), 'CALLED_BUSY'],
      [toAgent(agent('102', { ready: false })), 'CALLED_NOT_READY'],
      [{ kind: 'transfer', workNo: '101', to: { kind: 'number', number: 'abc' }, fromPhone: false }, 'INVALID_NUMBER'],
    ];
    expectRefusedFromTalking(cases);
  });

  it("the target ringing is reported to A's phone (180)", () => {
    const call = transferring();
    expect(call.ring('102').commands).toEqual([{ kind: 'reportTransfer', legId: 'c-L2', sipStatus: 180 }]);
  });

  it('answered: A is told (200, result 0) and hung up; B and the target talk', () => {
    const call = transferring();
    const d = call.answer('102');
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L4', other: 'B', held: false });
    expect(d.commands).toEqual([
      { kind: 'cancelTimer', timerId: 'c-t5' },
      { kind: 'bridge', a: 'c-L4', b: 'B' },
      { kind: 'reportTransfer', legId: 'c-L2', sipStatus: 200 },
      { kind: 'hangup', legId: 'c-L2' },
    ]);
    expect(events(d)).toEqual([
      ['101', 'AgentEvent_SuccTransResult'],
      ['101', 'AgentEvent_Call_Release'],
      ['102', 'AgentEvent_Talking'],
    ]);
    expect(eventOf(d, '101', 'AgentEvent_SuccTransResult')).toEqual({ callId: 'c', result: 0 });
    expect(d.presence).toEqual([{ kind: 'customer-call-ended', workNo: '101' }]);
  });

  it('to an outside number that answers: the customer and that number are left talking', () => {
    const call = talking();
    call.on(api({ kind: 'transfer', workNo: '101', to: { kind: 'number', number: '5550199' }, fromPhone: false }));
    expect(call.last.events).toEqual([]);
    expect(call.on({ type: 'LegAnswered', legId: 'c-L4' }).state.phase).toEqual({ name: 'trunked', customer: 'B', outside: 'c-L4' });
  });

  it('failed: A, still on the line, gets B back as it was, with the failure as a SIP status', () => {
    const call = transferring();
    const d = call.on({ type: 'LegFailed', legId: 'c-L4', reason: 'busy' });
    expect(d.state.phase).toEqual({ name: 'connected', agent: 'c-L2', other: 'B', held: false });
    expect(d.commands).toContainEqual({ kind: 'reportTransfer', legId: 'c-L2', sipStatus: 486 });
    expect(eventOf(d, '101', 'AgentEvent_SuccTransResult')).toEqual({ callId: 'c', result: 486 });
    expect(eventOf(d, '101', 'AgentEvent_Talking')).toMatchObject({ caller: CUSTOMER, callid: 'c' });
    const held = transferring(true);
    const rangOut = held.timeout();
    expect(rangOut.state.phase).toMatchObject({ name: 'connected', held: true });
    expect(rangOut.commands).toContainEqual({ kind: 'reportTransfer', legId: 'c-L2', sipStatus: 408 });
    expect(events(rangOut)).toEqual([
      ['102', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_SuccTransResult'],
      ['101', 'AgentEvent_Hold'],
    ]);
    // An agent that let it ring out is not at the desk.
    expect(rangOut.presence).toEqual([{ kind: 'offer-unanswered', workNo: '102' }]);
  });

  it('A hangs up while the target rings: the transfer goes on; if it fails, B queues and the target declined it', () => {
    const call = transferring();
    const gone = call.hangUp('101');
    expect(gone.state.phase).toMatchObject({ name: 'transferring', transfer: { transferorGone: true } });
    expect(call.ring('102').commands).toEqual([]);
    const d = call.on({ type: 'LegFailed', legId: 'c-L4', reason: 'rejected' });
    expect(d.state).toMatchObject({ phase: { name: 'queued', customer: 'B' }, declinedBy: ['102'] });
    expect(d.commands.filter((c) => c.kind === 'reportTransfer')).toEqual([]);
    expect(d.commands).toContainEqual({ kind: 'findAgent', route: { kind: 'agent', workNo: '101' }, exclude: ['102'] });
  });

  it('B hangs up while the target rings: the target is cancelled, A is told (487) and the call ends', () => {
    const call = transferring();
    const d = call.hangUp('B');
    expect(d.state.phase).toEqual({ name: 'ended' });
    expect(d.commands).toEqual([
      { kind: 'cancelTimer', timerId: 'c-t5' },
      { kind: 'reportTransfer', legId: 'c-L2', sipStatus: 487 },
      { kind: 'hangup', legId: 'c-L4' },
      { kind: 'hangup', legId: 'c-L2' },
    ]);
    expect(eventOf(d, '101', 'AgentEvent_Customer_Release')).toEqual({ callid: 'c', number: CUSTOMER });
  });
});
