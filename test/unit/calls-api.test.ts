/**
 * Agent requests (src/core/calls/api.ts): which request each phase allows, for which party, and the refusal
 * otherwise; hold and gethold, dropping the other party by call id or number, release (also of a ringing phone),
 * and during help what A alone may do.
 */
import { describe, expect, it } from 'vitest';
import type { ApiRequest, ErrorCode } from '../../src/core/types.js';
import { agent, api, arrive, Call, CUSTOMER, eventOf, events, helpAsked, talking } from '../support/calls.js';

const ok = { ok: true, result: null };

/** Each request is refused with its code, and leaves the call as it was. */
function refuses(make: () => Call, cases: [ApiRequest, ErrorCode][]): void {
  for (const [request, code] of cases) {
    const call = make();
    const before = call.state;
    const d = call.on(api(request));
    expect(d.reply, `${request.kind} by ${request.workNo}`).toMatchObject({ ok: false, code });
    expect(d.state).toBe(before);
    expect(d.commands).toEqual([]);
  }
}

/** 101 called 102 (callinner); both talk. */
function internal(): Call {
  const call = new Call([{ type: 'AgentDialled', agent: { workNo: '101', phone: '2001' }, target: { kind: 'agent', workNo: '102', phone: '2002' } }]);
  call.answer('101');
  call.answer('102');
  return call;
}

describe('agent requests on a two-party call', () => {
  it('hold puts the customer on music; gethold takes it back, A talking again', () => {
    const call = talking();
    const held = call.on(api({ kind: 'hold', workNo: '101' }));
    expect(held.reply).toEqual(ok);
    expect(held.state.phase).toMatchObject({ name: 'connected', held: true });
    expect(held.events).toEqual([{ workNo: '101', eventType: 'AgentEvent_Hold', content: 'c' }]);
    expect(held.commands).toEqual([
      { kind: 'playHoldMusic', legId: 'B' },
      { kind: 'park', legId: 'c-L2' },
    ]);
    const back = call.on(api({ kind: 'gethold', workNo: '101', callid: 'c' }));
    expect(back.reply).toEqual(ok);
    expect(back.events).toEqual([
      { workNo: '101', eventType: 'AgentEvent_Talking', content: { caller: CUSTOMER, called: '2001', callid: 'c', feature: 0, type: 'customer', mediaAbility: 0 } },
    ]);
  });

  it('refuses what the call does not allow', () => {
    refuses(talking, [
      [{ kind: 'hold', workNo: '103' }, 'NO_SUCH_CALL'],
      [{ kind: 'innerhelp', workNo: '103', mode: 1, helper: { kind: 'agent', workNo: '102' }, candidates: [], callappdata: '' }, 'NO_CUSTOMER_CALL'],
      [{ kind: 'gethold', workNo: '101', callid: null }, 'NOT_HELD'],
      [{ kind: 'dropcall', workNo: '101', callid: 'other' }, 'NO_SUCH_CALL'],
      [{ kind: 'disconnect', workNo: '101', number: '0000' }, 'NOT_A_PARTY'],
      [{ kind: 'confjoin', workNo: '101', callid: 'c' }, 'NO_HELP_IN_PROGRESS'],
    ]);
    const held = (): Call => {
      const call = talking();
      call.on(api({ kind: 'hold', workNo: '101' }));
      return call;
    };
    refuses(held, [
      [{ kind: 'hold', workNo: '101' }, 'ALREADY_HELD'],
      [{ kind: 'gethold', workNo: '101', callid: 'other' }, 'NO_SUCH_CALL'],
    ]);
    // On an internal call the called agent may not hold, and neither side has a customer to get help with or transfer.
    refuses(internal, [
      [{ kind: 'hold', workNo: '102' }, 'NOT_ALLOWED_NOW'],
      [{ kind: 'gethold', workNo: '102', callid: null }, 'NOT_ALLOWED_NOW'],
      [{ kind: 'innerhelp', workNo: '101', mode: 1, helper: { kind: 'agent', workNo: '103' }, candidates: [agent('103')], callappdata: '' }, 'NO_CUSTOMER_CALL'],
      [{ kind: 'transfer', workNo: '101', to: { kind: 'number', number: '5550199' }, fromPhone: false }, 'TRANSFER_NOT_ALLOWED'],
    ]);
  });

  it('dropcall (by call id) and disconnect (by number) end the call with the other party', () => {
    const dropped = talking().on(api({ kind: 'dropcall', workNo: '101', callid: 'c' }));
    expect(dropped.reply).toEqual(ok);
    expect(dropped.state.phase).toEqual({ name: 'ended' });
    expect(dropped.commands).toEqual([
      { kind: 'hangup', legId: 'B' },
      { kind: 'hangup', legId: 'c-L2' },
    ]);
    const byWorkNo = internal().on(api({ kind: 'disconnect', workNo: '101', number: '102' }));
    expect(byWorkNo.reply).toEqual(ok);
    expect(eventOf(byWorkNo, '101', 'AgentEvent_Customer_Release')).toEqual({ callid: 'c', number: '102' });
  });

  it('release: an answered agent leaves the call; a ringing one rejects it (no presence change)', () => {
    const left = talking().on(api({ kind: 'release', workNo: '101' }));
    expect(left.reply).toEqual(ok);
    expect(left.state.phase).toEqual({ name: 'ended' });
    const ringing = new Call([arrive([agent('101')])]);
    const rejected = ringing.on(api({ kind: 'release', workNo: '101' }));
    expect(rejected.reply).toEqual(ok);
    expect(rejected.state).toMatchObject({ phase: { name: 'queued' }, declinedBy: ['101'] });
    expect(rejected.commands).toContainEqual({ kind: 'hangup', legId: 'c-L2' });
    expect(rejected.presence).toEqual([]);
  });

  it('while an agent is only being rung, nothing but release is allowed', () => {
    refuses(() => new Call([arrive([agent('101')])]), [
      [{ kind: 'hold', workNo: '101' }, 'NOT_ALLOWED_NOW'],
      [{ kind: 'innerhelp', workNo: '101', mode: 1, helper: { kind: 'agent', workNo: '102' }, candidates: [agent('102')], callappdata: '' }, 'NO_CUSTOMER_CALL'],
      [{ kind: 'transfer', workNo: '101', to: { kind: 'number', number: '5550199' }, fromPhone: false }, 'TRANSFER_NOT_ALLOWED'],
    ]);
  });
});

describe('agent requests during help', () => {
  const answered = (mode: 1 | 2) => (): Call => {
    const call = helpAsked(mode);
    call.answer('102');
    return call;
  };

  it('only A may act; no second help, no transfer, no hold; B is released only from a conference', () => {
    refuses(answered(1), [
      [{ kind: 'dropcall', workNo: '102', callid: 'c-h4' }, 'NOT_ALLOWED_NOW'],
      [{ kind: 'innerhelp', workNo: '102', mode: 1, helper: { kind: 'agent', workNo: '103' }, candidates: [agent('103')], callappdata: '' }, 'NO_CUSTOMER_CALL'],
      [{ kind: 'innerhelp', workNo: '101', mode: 1, helper: { kind: 'agent', workNo: '103' }, candidates: [agent('103')], callappdata: '' }, 'HELP_IN_PROGRESS'],
      [{ kind: 'transfer', workNo: '101', to: { kind: 'number', number: '5550199' }, fromPhone: false }, 'TRANSFER_NOT_ALLOWED'],
      [{ kind: 'hold', workNo: '101' }, 'NOT_ALLOWED_NOW'],
      [{ kind: 'gethold', workNo: '101', callid: null }, 'NOT_ALLOWED_NOW'],
      [{ kind: 'dropcall', workNo: '101', callid: 'c' }, 'CANNOT_RELEASE_HELD_CUSTOMER'],
      [{ kind: 'dropcall', workNo: '101', callid: 'other' }, 'NO_SUCH_CALL'],
      [{ kind: 'disconnect', workNo: '101', number: CUSTOMER }, 'CANNOT_RELEASE_HELD_CUSTOMER'],
      [{ kind: 'disconnect', workNo: '101', number: '0000' }, 'NOT_A_PARTY'],
      [{ kind: 'confjoin', workNo: '101', callid: 'other' }, 'NO_SUCH_CALL'],
    ]);
    refuses(() => helpAsked(1), [[{ kind: 'confjoin', workNo: '101', callid: 'c' }, 'NOT_ALLOWED_NOW']]);
  });

  it('A releases B from a conference by number: A and C stay together', () => {
    const call = answered(2)();
    const d = call.on(api({ kind: 'disconnect', workNo: '101', number: CUSTOMER }));
    expect(d.reply).toEqual(ok);
    expect(d.commands).toContainEqual({ kind: 'hangup', legId: 'B' });
    expect(d.state).toMatchObject({ kind: 'internal', phase: { name: 'connected', agent: 'c-L2', other: 'c-L5' } });
    expect(events(d)).toEqual([
      ['101', 'AgentEvent_Customer_Release'],
      ['101', 'AgentEvent_Call_Release'],
    ]);
  });

  it('A drops C by its phone number too', () => {
    const d = answered(1)().on(api({ kind: 'disconnect', workNo: '101', number: '2002' }));
    expect(d.reply).toEqual(ok);
    expect(d.state.phase).toMatchObject({ name: 'connected', agent: 'c-L2', other: 'B' });
  });
});
