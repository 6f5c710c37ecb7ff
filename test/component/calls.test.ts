/**
 * The calls around help: routing and queueing of customer calls, hold, internal and outbound calls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { A, C, CUSTOMER, D, createWorld, type World } from '../support/sim-world.js';

let w: World;
afterEach(async () => {
  await w.stop();
});

describe('customer calls', () => {
  it('a call from a gateway to a number that is not a DID is refused, asking for credentials (401)', async () => {
    w = await createWorld();
    expect(await w.backend.placeCustomerCall(CUSTOMER, '4999')).toMatchObject({ ok: false, status: 401 });
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });

  it('a skill route offers the call to the first free signed-in agent of the skill', async () => {
    w = await createWorld(['102', '103']);
    await w.backend.placeCustomerCall(CUSTOMER, '4001');
    await w.settle();
    expect(w.state(A.phone)).toBe('idle');
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.eventsOf(C.workNo, 'AgentEvent_Ringing').at(-1)?.content).toMatchObject({ caller: CUSTOMER, called: '4001' });
  });

  it('with no free agent the customer queues with music and is offered as soon as an agent signs in', async () => {
    w = await createWorld([]);
    await w.backend.placeCustomerCall(CUSTOMER, '4001');
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    w.directory.signIn(D.workNo);
    await w.settle();
    expect(w.state(D.phone)).toBe('ringing');
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    w.backend.answer(D.phone);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([D.phone]);
  });

  it('an agent who lets the call ring out is skipped; the next agent of the skill gets it', async () => {
    w = await createWorld(['101', '102']);
    await w.backend.placeCustomerCall(CUSTOMER, '4001');
    await w.settle();
    expect(w.state(A.phone)).toBe('ringing');
    w.timers.fireAll();
    await w.settle();
    expect(w.state(A.phone)).toBe('idle');
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Call_Release')).toHaveLength(1);
  });

  it('the only agent rejects: the customer waits with music, and is offered again after the requeue time', async () => {
    w = await createWorld(['101']);
    await w.backend.placeCustomerCall(CUSTOMER, '4000');
    await w.settle();
    w.backend.reject(A.phone, 603);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.state(A.phone)).toBe('idle');
    w.timers.fireAll();
    await w.settle();
    expect(w.state(A.phone)).toBe('ringing');
  });

  it('the customer hangs up while the agent rings: the agent stops ringing and is released', async () => {
    w = await createWorld();
    await w.backend.placeCustomerCall(CUSTOMER, '4000');
    await w.settle();
    w.backend.hangup(CUSTOMER);
    await w.settle();
    expect(w.state(A.phone)).toBe('idle');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Call_Release')).toHaveLength(1);
    expect(w.directory.isBusy(A.workNo)).toBe(false);
  });
});

describe('hold', () => {
  it('hold plays music to the customer and parks the agent; gethold reconnects them', async () => {
    w = await createWorld();
    const callId = await w.customerTalkingWithA();
    expect(await w.orchestrator.request({ kind: 'hold', workNo: A.workNo })).toEqual({ ok: true, result: null });
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual([]);
    expect(await w.orchestrator.request({ kind: 'hold', workNo: A.workNo })).toMatchObject({ ok: false, code: 'ALREADY_HELD' });
    expect(await w.orchestrator.request({ kind: 'gethold', workNo: A.workNo, callid: 'other' })).toMatchObject({ ok: false, code: 'NO_SUCH_CALL' });
    expect(await w.orchestrator.request({ kind: 'gethold', workNo: A.workNo, callid: callId })).toEqual({ ok: true, result: null });
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it('help from a held call keeps the customer on music', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    await w.orchestrator.request({ kind: 'hold', workNo: A.workNo });
    const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    expect(reply.ok).toBe(true);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual(['ringback']);
  });
});

describe('internal and outbound calls', () => {
  it('callinner rings the caller first, then the called agent with ringback to the caller', async () => {
    w = await createWorld();
    const reply = await w.orchestrator.callInner(A.workNo, C.workNo);
    expect(reply.ok).toBe(true);
    await w.settle();
    expect(w.state(A.phone)).toBe('ringing');
    w.backend.answer(A.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual(['ringback']);
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Customer_Alerting')).toHaveLength(1);
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone]);
    // An internal call is no customer call: help is refused.
    const help = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: D.workNo }, callappdata: '' });
    expect(help).toMatchObject({ ok: false, code: 'NO_CUSTOMER_CALL' });
  });

  it('callinner to a busy, unknown or signed-out agent, or by a busy agent, is refused', async () => {
    w = await createWorld(['101', '102']);
    expect(await w.orchestrator.callInner(A.workNo, '999')).toMatchObject({ ok: false, code: 'CALLED_UNKNOWN' });
    expect(await w.orchestrator.callInner(A.workNo, A.workNo)).toMatchObject({ ok: false, code: 'CALLED_UNKNOWN' });
    expect(await w.orchestrator.callInner(A.workNo, D.workNo)).toMatchObject({ ok: false, code: 'CALLED_NOT_SIGNED_IN' });
    expect(await w.orchestrator.callInner(D.workNo, A.workNo)).toMatchObject({ ok: false, code: 'AGENT_NOT_SIGNED_IN' });
    await w.customerTalkingWithA();
    expect(await w.orchestrator.callInner(C.workNo, A.workNo)).toMatchObject({ ok: false, code: 'CALLED_BUSY' });
    expect(await w.orchestrator.callInner(A.workNo, C.workNo)).toMatchObject({ ok: false, code: 'AGENT_BUSY' });
  });

  it('the called agent does not answer: the caller gets AgentEvent_Inside_Call_Fail and is hung up', async () => {
    w = await createWorld();
    await w.orchestrator.callInner(A.workNo, C.workNo);
    await w.settle();
    w.backend.answer(A.phone);
    await w.settle();
    w.backend.reject(C.phone, 486);
    await w.settle();
    expect(w.eventsOf(A.workNo, 'AgentEvent_Inside_Call_Fail')).toHaveLength(1);
    expect(w.state(A.phone)).toBe('idle');
  });

  it('callout reaches a customer; the agent can then ask for help on it', async () => {
    w = await createWorld();
    expect(await w.orchestrator.callOut(A.workNo, 'not a number')).toMatchObject({ ok: false, code: 'INVALID_NUMBER' });
    const reply = await w.orchestrator.callOut(A.workNo, CUSTOMER);
    expect(reply.ok).toBe(true);
    await w.settle();
    w.backend.answer(A.phone);
    await w.settle();
    w.backend.answer(CUSTOMER);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    const help = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 2, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    expect(help.ok).toBe(true);
    await w.settle();
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone, C.phone].sort());
  });

  it('the caller releases while its own phone still rings: the call fails cleanly', async () => {
    w = await createWorld();
    await w.orchestrator.callInner(A.workNo, C.workNo);
    await w.settle();
    await w.orchestrator.request({ kind: 'release', workNo: A.workNo });
    await w.settle();
    expect(w.state(A.phone)).toBe('idle');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Inside_Call_Fail')).toHaveLength(1);
  });

  it('a phone answering a leg nobody knows is hung up', async () => {
    w = await createWorld();
    w.backend.signalling.dial({ legId: 'ghost', callId: 'none', number: D.phone, callerNumber: '1' });
    await w.settle();
    w.backend.answer(D.phone);
    await w.settle();
    expect(w.state(D.phone)).toBe('idle');
  });
});
