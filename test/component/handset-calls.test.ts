/**
 * Calls a handset makes by itself (its own INVITE, credentials proved): the same decisions and events as the
 * API's callinner and callout, refusals answered as SIP statuses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { A, C, CUSTOMER, D, createWorld, type World } from '../support/sim-world.js';

let w: World;
afterEach(async () => {
  await w.stop();
});

describe('handset calls', () => {
  it("dialling another agent's work number is an internal call: the agent rings, answers, both talk", async () => {
    w = await createWorld();
    expect(await w.backend.placeCustomerCall(A.phone, C.workNo, true)).toMatchObject({ ok: true });
    await w.settle();
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.hears(A.phone)).toEqual(['ringback']);
    expect(w.eventsOf(C.workNo, 'AgentEvent_Ringing').at(-1)?.content).toMatchObject({ caller: A.workNo, called: C.workNo });
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([A.phone]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Talking')).toHaveLength(1);
    expect(w.eventsOf(C.workNo, 'AgentEvent_Talking')).toHaveLength(1);
  });

  it("dialling the phone another agent is signed in on reaches that agent too", async () => {
    w = await createWorld();
    expect(await w.backend.placeCustomerCall(A.phone, D.phone, true)).toMatchObject({ ok: true });
    await w.settle();
    expect(w.state(D.phone)).toBe('ringing');
  });

  it('dialling any other number goes out through the gateway as an outbound call', async () => {
    w = await createWorld();
    expect(await w.backend.placeCustomerCall(A.phone, CUSTOMER, true)).toMatchObject({ ok: true });
    await w.settle();
    expect(w.state(CUSTOMER)).toBe('ringing');
    w.backend.answer(CUSTOMER);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Talking')).toHaveLength(1);
  });

  it('refuses with a SIP status what callinner / callout would refuse, and makes no call', async () => {
    w = await createWorld(['101', '102']);
    // The handset's agent is not signed in.
    expect(await w.backend.placeCustomerCall(D.phone, C.workNo, true)).toMatchObject({ ok: false, status: 403 });
    // The called agent is not signed in.
    expect(await w.backend.placeCustomerCall(A.phone, D.workNo, true)).toMatchObject({ ok: false, status: 480 });
    // Oneself.
    expect(await w.backend.placeCustomerCall(A.phone, A.workNo, true)).toMatchObject({ ok: false, status: 404 });
    // Not a dialable number.
    expect(await w.backend.placeCustomerCall(A.phone, '12a', true)).toMatchObject({ ok: false, status: 484 });
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });

  it('a busy agent cannot call, nor be called, from a handset (486)', async () => {
    w = await createWorld();
    await w.backend.placeCustomerCall(A.phone, C.workNo, true);
    await w.settle();
    expect(await w.backend.placeCustomerCall(D.phone, C.workNo, true)).toMatchObject({ ok: false, status: 486 });
    w.backend.answer(C.phone);
    await w.settle();
    expect(await w.backend.placeCustomerCall(D.phone, A.workNo, true)).toMatchObject({ ok: false, status: 486 });
    expect(w.orchestrator.activeCallCount()).toBe(1);
  });
});

describe("the handset's hold button", () => {
  it('holds the customer with music exactly as the hold API does, with the same events; the resume takes it back', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    const holdEvents = w.eventsOf(A.workNo, 'AgentEvent_Hold').length;
    w.backend.holdButton(A.phone, true);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual([]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Hold')).toHaveLength(holdEvents + 1);
    w.backend.holdButton(A.phone, false);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
  });

  it('changes nothing for the other parties during help: B keeps its music, A and C keep talking', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    await w.settle();
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone]);
    w.backend.holdButton(A.phone, true);
    await w.settle();
    w.backend.holdButton(C.phone, true);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([A.phone]);
  });

  it("a customer's own hold button changes nothing", async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    w.backend.holdButton(CUSTOMER, true);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });
});
