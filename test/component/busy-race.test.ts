/**
 * The busy check is atomic: two calls that want one agent at the same moment never both ring it. Two customers
 * calling the DID routed to one agent (one rings, the other waits in the queue with music, as its route says), and
 * two handsets dialling one agent at once (one rings it, the other gets the busy outcome: its call fails and its
 * phone is hung up). On one instance without a store (the orchestrator's own reservation) and with the service's
 * memory store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { A, C, createWorld, CUSTOMER, D, type World } from '../support/sim-world.js';

const B2 = '5550101';
let w: World;
afterEach(async () => {
  await w.stop();
});

describe.each([
  ['without a store', undefined],
  ['with the memory store', () => new MemoryStateStore()],
] as const)('two calls for one agent at the same moment (%s)', (_name, makeStore) => {
  it('two customers call the DID routed to A: A is rung once, the other customer waits with music and is offered A next', async () => {
    w = await createWorld(['101', '102', '103'], makeStore ? { store: makeStore() } : {});
    const [one, two] = await Promise.all([w.backend.placeCustomerCall(CUSTOMER, '4000'), w.backend.placeCustomerCall(B2, '4000')]);
    expect([one.ok, two.ok]).toEqual([true, true]);
    await w.settle();
    expect(w.eventsOf(A.workNo, 'AgentEvent_Ringing')).toHaveLength(1);
    expect(w.state(A.phone)).toBe('ringing');
    const waiting = [CUSTOMER, B2].filter((n) => w.hears(n).join() === 'moh');
    expect(waiting).toHaveLength(1);
    w.backend.answer(A.phone);
    await w.settle();
    w.backend.hangup(A.phone);
    await w.settle();
    // A is free again: the waiting customer is offered to A.
    expect(w.eventsOf(A.workNo, 'AgentEvent_Ringing')).toHaveLength(2);
    expect(w.state(A.phone)).toBe('ringing');
  });

  it('two handsets dial agent 103 at once: its phone rings for one of them, the other INVITE gets 486', async () => {
    w = await createWorld(['101', '102', '103'], makeStore ? { store: makeStore() } : {});
    const [one, two] = await Promise.all([w.backend.placeCustomerCall(A.phone, D.workNo, true), w.backend.placeCustomerCall(C.phone, D.workNo, true)]);
    await w.settle();
    expect([one, two].filter((r) => r.ok)).toHaveLength(1);
    expect([one, two].filter((r) => !r.ok)).toEqual([{ ok: false, status: 486, reason: 'Busy Here' }]);
    const rung = one.ok ? A : C;
    expect(w.eventsOf(D.workNo, 'AgentEvent_Ringing')).toHaveLength(1);
    expect(w.hears(rung.phone)).toEqual(['ringback']);
    w.backend.answer(D.phone);
    await w.settle();
    expect(w.hears(D.phone)).toEqual([rung.phone]);
    // Once that call is over, 103 can be called again.
    w.backend.hangup(D.phone);
    await w.settle();
    expect(await w.backend.placeCustomerCall(one.ok ? C.phone : A.phone, D.workNo, true)).toMatchObject({ ok: true });
  });

  it('one handset sends two INVITEs at once (a double press): the second gets 486', async () => {
    w = await createWorld(['101', '102', '103'], makeStore ? { store: makeStore() } : {});
    const results = await Promise.all([w.backend.placeCustomerCall(A.phone, C.workNo, true), w.backend.placeCustomerCall(A.phone, D.workNo, true)]);
    await w.settle();
    expect(results.map((r) => r.ok).sort()).toEqual([false, true]);
    expect(results.find((r) => !r.ok)).toMatchObject({ status: 486 });
    expect(w.eventsOf(C.workNo, 'AgentEvent_Ringing').length + w.eventsOf(D.workNo, 'AgentEvent_Ringing').length).toBe(1);
  });
});
