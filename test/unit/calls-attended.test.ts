/**
 * The handset's attended transfer decided over two calls (src/core/calls/attended.ts): what each party is told, a
 * consultation with an outside number (B and that number are left talking), and what is refused.
 */
import { describe, expect, it } from 'vitest';
import { decideAttendedTransfer } from '../../src/core/calls/attended.js';
import { decide, initialState } from '../../src/core/decide.js';
import type { CallEvent, CallState, Decision, DialTarget } from '../../src/core/types.js';
import { agent, arrive, CONFIG, CUSTOMER, events } from '../support/calls.js';

const run = (state: CallState, ...evs: CallEvent[]): CallState => evs.reduce((s, e) => decide(s, e, CONFIG).state, state);

/** c: B talks with 101 (leg c-L2), held. */
const customerCall = (): CallState => run(initialState('c'), arrive([agent('101')]), { type: 'LegAnswered', legId: 'c-L2' }, { type: 'Api', request: { kind: 'hold', workNo: '101' } });

/** k: 101's handset (leg H) calls the target, which answers (leg k-L2). */
function consultation(target: DialTarget): CallState {
  return run(initialState('k'), { type: 'AgentPhoneCalled', agent: { workNo: '101', phone: '2001' }, leg: { id: 'H' }, target }, { type: 'LegAnswered', legId: 'k-L2' });
}

describe('attended transfer from a handset over two calls', () => {
  it('to an agent: 102 leaves the consultation for the customer call; 101 is told and leaves both', () => {
    const outcome = decideAttendedTransfer(customerCall(), consultation({ kind: 'agent', workNo: '102', phone: '2002' }), { workNo: '101', referLeg: 'c-L2', replacedLeg: 'H' }, CONFIG);
    if (!outcome.ok) throw new Error(outcome.code);
    const { givenUp, kept } = outcome as { givenUp: Decision; kept: Decision };
    expect(givenUp.state.phase).toEqual({ name: 'ended' });
    expect(givenUp.commands).toEqual([{ kind: 'hangup', legId: 'H' }]);
    expect(events(givenUp)).toEqual([
      ['102', 'AgentEvent_Customer_Release'],
      ['102', 'AgentEvent_Call_Release'],
      ['101', 'AgentEvent_Call_Release'],
    ]);
    expect(kept.reply).toEqual({ ok: true, result: 'c' });
    expect(kept.state.phase).toEqual({ name: 'connected', agent: 'k-L2', other: 'B', held: false });
    expect(kept.commands).toEqual([
      { kind: 'bridge', a: 'k-L2', b: 'B' },
      { kind: 'reportTransfer', legId: 'c-L2', sipStatus: 200 },
      { kind: 'hangup', legId: 'c-L2' },
    ]);
    expect(events(kept)).toEqual([
      ['101', 'AgentEvent_SuccTransResult'],
      ['101', 'AgentEvent_Call_Release'],
      ['102', 'AgentEvent_Talking'],
    ]);
    expect(kept.events.at(-1)?.content).toMatchObject({ callid: 'c', caller: CUSTOMER, called: '2002', feature: 0 });
    expect(kept.presence).toEqual([{ kind: 'customer-call-ended', workNo: '101' }]);
  });

  it('to an outside number (REFER on the consultation line): B and that number talk, no agent left', () => {
    const outcome = decideAttendedTransfer(consultation({ kind: 'customer', number: '5550199' }), customerCall(), { workNo: '101', referLeg: 'H', replacedLeg: 'c-L2' }, CONFIG);
    if (!outcome.ok) throw new Error(outcome.code);
    expect(outcome.kept.state.phase).toEqual({ name: 'trunked', customer: 'B', outside: 'k-L2' });
    // The REFER came on the consultation line: its report is in that call's decision.
    expect(outcome.givenUp.commands).toContainEqual({ kind: 'reportTransfer', legId: 'H', sipStatus: 200 });
  });

  it('refuses two calls without a customer, one call twice, and a leg that is not the agent\u2019s', () => {
    const internal = consultation({ kind: 'agent', workNo: '102', phone: '2002' });
    const other = run(initialState('o'), { type: 'AgentPhoneCalled', agent: { workNo: '101', phone: '2001' }, leg: { id: 'H2' }, target: { kind: 'agent', workNo: '103', phone: '2003' } }, { type: 'LegAnswered', legId: 'o-L2' });
    expect(decideAttendedTransfer(internal, other, { workNo: '101', referLeg: 'H', replacedLeg: 'H2' }, CONFIG)).toMatchObject({ ok: false, code: 'TRANSFER_NOT_ALLOWED' });
    const c = customerCall();
    expect(decideAttendedTransfer(c, c, { workNo: '101', referLeg: 'c-L2', replacedLeg: 'c-L2' }, CONFIG)).toMatchObject({ ok: false, code: 'TRANSFER_NOT_ALLOWED' });
    expect(decideAttendedTransfer(c, internal, { workNo: '101', referLeg: 'c-L2', replacedLeg: 'k-L2' }, CONFIG)).toMatchObject({ ok: false, code: 'NOT_ALLOWED_NOW' });
  });
});
