/**
 * Attended transfer from a handset on the simulator: A talks with B, holds B with the phone's button, calls C on a
 * second line, C answers, and the phone's transfer button sends a REFER with Replaces naming the second line. B and
 * C talk, A is free. And what a REFER whose Replaces cannot be honoured leaves: B held with A, never alone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { A, C, createWorld, CUSTOMER, D, type World } from '../support/sim-world.js';

let w: World;
let callId: string;

beforeEach(async () => {
  w = await createWorld();
  callId = await w.customerTalkingWithA();
});
afterEach(async () => {
  await w.stop();
});

/** A holds B with its phone's button and calls `to` on a second line, which answers. Returns A's two lines. */
async function consult(to = C): Promise<{ held: string; consult: string }> {
  w.backend.holdButton(A.phone, true);
  await w.settle();
  expect(w.hears(CUSTOMER)).toEqual(['moh']);
  const second = await w.backend.placeCustomerCall(A.phone, to.workNo, true);
  expect(second).toMatchObject({ ok: true });
  await w.settle();
  w.backend.answer(to.phone);
  await w.settle();
  const [held, line2] = w.backend.linesOf(A.phone) as [string, string];
  expect(line2).toBe((second as { id: string }).id);
  return { held, consult: line2 };
}

describe('attended transfer from a handset (REFER with Replaces)', () => {
  it('B and C talk on the customer call, both of A\u2019s lines are hung up, the phone is told 100 then 200', async () => {
    const lines = await consult();
    const answer = await w.backend.transferButton(A.phone, C.workNo, { onLeg: lines.held, replaces: lines.consult });
    expect(answer).toEqual({ status: 202, reason: 'Accepted' });
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([CUSTOMER]);
    expect(w.backend.linesOf(A.phone)).toEqual([]);
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 200]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_SuccTransResult').map((e) => e.content)).toEqual([{ callId, result: 0 }]);
    const talking = w.eventsOf(C.workNo, 'AgentEvent_Talking').at(-1);
    expect(talking?.content).toMatchObject({ callid: callId, caller: CUSTOMER, feature: 0 });
    // The customer call goes on with C: C hangs up and the call is over.
    expect(w.orchestrator.callStates()).toHaveLength(1);
    w.backend.hangup(C.phone);
    await w.settle();
    expect(w.state(CUSTOMER)).toBe('idle');
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });

  it('the REFER on the consultation line, Replaces naming the held one: the same outcome', async () => {
    const lines = await consult();
    expect(await w.backend.transferButton(A.phone, CUSTOMER, { onLeg: lines.consult, replaces: lines.held })).toEqual({ status: 202, reason: 'Accepted' });
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([C.phone]);
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 200]);
  });

  it('C hung up meanwhile: 481, B stays held with A, who takes B back', async () => {
    const lines = await consult();
    w.backend.hangup(C.phone);
    await w.settle();
    expect(await w.backend.transferButton(A.phone, C.workNo, { onLeg: lines.held, replaces: lines.consult })).toMatchObject({ status: 481 });
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    w.backend.holdButton(A.phone, false);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it('a Replaces naming an unknown dialog (481) or another agent\u2019s (403): nothing changes', async () => {
    const lines = await consult();
    expect(await w.backend.transferButton(A.phone, C.workNo, { onLeg: lines.held, replaces: 'no-such-dialog' })).toMatchObject({ status: 481 });
    // D is on a call of its own with a customer: A's phone names D's dialog.
    const other = await w.backend.placeCustomerCall('5550111', '4001');
    expect(other).toMatchObject({ ok: true });
    await w.settle();
    w.backend.answer(D.phone);
    await w.settle();
    const dLine = w.backend.linesOf(D.phone)[0] as string;
    expect(await w.backend.transferButton(A.phone, C.workNo, { onLeg: lines.held, replaces: dLine })).toMatchObject({ status: 403 });
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(C.phone)).toEqual([A.phone]);
    expect(w.hears('5550111')).toEqual([D.phone]);
  });

  it('C still ringing: refused (403), B stays held, C keeps ringing', async () => {
    w.backend.holdButton(A.phone, true);
    await w.settle();
    expect(await w.backend.placeCustomerCall(A.phone, C.workNo, true)).toMatchObject({ ok: true });
    await w.settle();
    const [held, line2] = w.backend.linesOf(A.phone) as [string, string];
    expect(await w.backend.transferButton(A.phone, C.workNo, { onLeg: held, replaces: line2 })).toMatchObject({ status: 403 });
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.state(C.phone)).toBe('ringing');
  });

  it('a second line is refused (486) unless every call of the agent is held', async () => {
    expect(await w.backend.placeCustomerCall(A.phone, C.workNo, true)).toMatchObject({ ok: false, status: 486 });
  });
});
