/**
 * Blind transfer from the handset's transfer button (a REFER): the customer goes to another agent or an outside
 * number, the phone is told how it goes (NOTIFY), and the customer is never lost when the target fails.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { A, C, CUSTOMER, D, createWorld, type World } from '../support/sim-world.js';

let w: World;
afterEach(async () => {
  await w.stop();
});

const OUTSIDE = '5550199';

describe('blind transfer by REFER', () => {
  it("to an agent: 202, B hears ringback while C rings, C answers: B and C talk, A's phone is told 200 and hung up", async () => {
    w = await createWorld();
    const callId = await w.customerTalkingWithA();
    expect(await w.backend.transferButton(A.phone, C.workNo)).toEqual({ status: 202, reason: 'Accepted' });
    await w.settle();
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.hears(CUSTOMER)).toEqual(['ringback']);
    expect(w.hears(A.phone)).toEqual([]);
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 180]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_linkagePhoneTransferOut').at(-1)?.content).toMatchObject({ callid: callId, addrOut: C.workNo, addrSelf: A.phone });
    // C is offered the customer call itself.
    expect(w.eventsOf(C.workNo, 'AgentEvent_Ringing').at(-1)?.content).toMatchObject({ callid: callId, caller: CUSTOMER, feature: 0 });

    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([CUSTOMER]);
    expect(w.state(A.phone)).toBe('idle');
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 180, 200]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_SuccTransResult').at(-1)?.content).toEqual({ callId, result: 0 });
    expect(w.eventsOf(A.workNo, 'AgentEvent_Call_Release').map((e) => e.content)).toEqual([callId]);
    expect(w.eventsOf(C.workNo, 'AgentEvent_Talking').at(-1)?.content).toMatchObject({ callid: callId, caller: CUSTOMER });
    expect(w.directory.isBusy(A.workNo)).toBe(false);
  });

  it("to the phone number another agent is signed in on: the same as to that agent's work number", async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    expect((await w.backend.transferButton(A.phone, D.phone)).status).toBe(202);
    await w.settle();
    expect(w.state(D.phone)).toBe('ringing');
  });

  it('the phone hangs up right after the 202, as phones do: C answers and gets B', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    await w.backend.transferButton(A.phone, C.workNo);
    w.backend.hangup(A.phone);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['ringback']);
    expect(w.state(C.phone)).toBe('ringing');
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([C.phone]);
    // Nothing more is reported to a phone that has gone.
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 180]);
  });

  it('C busy while A is still on the line: NOTIFY 486, and A gets B back on hold as the phone left it; resume talks again', async () => {
    w = await createWorld();
    const callId = await w.customerTalkingWithA();
    // Phones put the call on hold before they send the REFER.
    w.backend.holdButton(A.phone, true);
    await w.settle();
    await w.backend.transferButton(A.phone, C.workNo);
    await w.settle();
    w.backend.reject(C.phone, 486);
    await w.settle();
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 180, 486]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_SuccTransResult').at(-1)?.content).toEqual({ callId, result: 486 });
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.state(A.phone)).toBe('talking');
    w.backend.holdButton(A.phone, false);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
  });

  it('C does not answer in time: its phone is cancelled, NOTIFY 408, A talks with B again, and C goes not ready', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    await w.backend.transferButton(A.phone, C.workNo);
    await w.settle();
    w.timers.fireSetFor(20);
    await w.settle();
    expect(w.state(C.phone)).toBe('idle');
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 180, 408]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.directory.snapshot(C.workNo)?.ready).toBe(false);
  });

  it('A has hung up and C fails: the customer goes back to the queue with music, never to nowhere', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    await w.backend.transferButton(A.phone, C.workNo);
    w.backend.hangup(A.phone);
    await w.settle();
    w.backend.reject(C.phone, 603);
    await w.settle();
    expect(w.state(CUSTOMER)).toBe('talking');
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.orchestrator.activeCallCount()).toBe(1);
  });

  it('the customer hangs up while C rings: C stops ringing, A is told 487 and its call ends', async () => {
    w = await createWorld();
    const callId = await w.customerTalkingWithA();
    await w.backend.transferButton(A.phone, C.workNo);
    await w.settle();
    w.backend.hangup(CUSTOMER);
    await w.settle();
    expect(w.state(C.phone)).toBe('idle');
    expect(w.state(A.phone)).toBe('idle');
    expect(w.backend.transferNotices(A.phone)).toEqual([100, 180, 487]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Customer_Release').at(-1)?.content).toEqual({ callid: callId, number: CUSTOMER });
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });

  it('to an outside number: it is dialled through the gateway, answers, and talks with B with no agent left on the call', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    expect((await w.backend.transferButton(A.phone, OUTSIDE)).status).toBe(202);
    await w.settle();
    expect(w.state(OUTSIDE)).toBe('ringing');
    w.backend.answer(OUTSIDE);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([OUTSIDE]);
    expect(w.hears(OUTSIDE)).toEqual([CUSTOMER]);
    expect(w.state(A.phone)).toBe('idle');
    expect(w.directory.isBusy(A.workNo)).toBe(false);
    w.backend.hangup(OUTSIDE);
    await w.settle();
    expect(w.state(CUSTOMER)).toBe('idle');
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });

  it('refuses with a final response what cannot be honoured, and the call goes on untouched', async () => {
    w = await createWorld(['101', '102']);
    await w.customerTalkingWithA();
    // D is not signed in; oneself; not a number; the customer's own phone.
    expect(await w.backend.transferButton(A.phone, D.workNo)).toMatchObject({ status: 480 });
    expect(await w.backend.transferButton(A.phone, A.workNo)).toMatchObject({ status: 404 });
    expect(await w.backend.transferButton(A.phone, 'sales')).toMatchObject({ status: 484 });
    expect(await w.backend.transferButton(CUSTOMER, C.workNo)).toMatchObject({ status: 403 });
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.state(C.phone)).toBe('idle');
    expect(w.backend.transferNotices(A.phone)).toEqual([]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_linkagePhoneTransferOut')).toEqual([]);
  });

  it('refuses a busy or not-ready agent (486, 480), a second transfer while one is under way, and transfer during help (403)', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    w.directory.presenceRequest(D.workNo, { kind: 'saybusy', reason: 1 });
    expect(await w.backend.transferButton(A.phone, D.workNo)).toMatchObject({ status: 480 });
    await w.backend.transferButton(A.phone, C.workNo);
    await w.settle();
    expect(await w.backend.transferButton(A.phone, OUTSIDE)).toMatchObject({ status: 403 });
    // C is ringing for the transfer: busy for anyone else.
    w.backend.reject(C.phone, 486);
    await w.settle();
    const help = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    expect(help.ok).toBe(true);
    await w.settle();
    expect(await w.backend.transferButton(A.phone, OUTSIDE)).toMatchObject({ status: 403 });
    expect(w.state(C.phone)).toBe('ringing');
  });
});
