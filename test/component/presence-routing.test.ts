/**
 * Agent states and fair routing through orchestrator + simulated backend, with manual timers and a fake clock:
 * wrap-up and rest running out, longest-idle choice, not-ready agents never offered, a queue's maximum wait then
 * overflow or a final status, an offer that rings out, and help requests under the same rules.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PresenceRequest } from '../../src/core/presence/types.js';
import { A, C, CUSTOMER, D, FakeClock, createWorld, type World } from '../support/sim-world.js';

let w: World;
afterEach(async () => {
  await w.stop();
});

const WRAP_UP = { initialStatus: 'ready', wrapUpSeconds: 30 } as const;
const OFFER_SECONDS = 20; // sim-world's routing.offerTimeoutSeconds

function presence(workNo: string, request: PresenceRequest): ReturnType<World['directory']['presenceRequest']> {
  return w.directory.presenceRequest(workNo, request);
}
const status = (workNo: string): string | undefined => w.directory.presenceOf(workNo)?.status;
const stateEvents = (workNo: string): string[] => w.eventsOf(workNo).filter((e) => e.eventType.startsWith('AgentState_')).map((e) => e.eventType);

async function customerCalls(did = '4001', from = CUSTOMER): Promise<void> {
  const placed = await w.backend.placeCustomerCall(from, did);
  if (!placed.ok) throw new Error(`call refused: ${placed.reason}`);
  await w.settle();
}

describe('agent states', () => {
  it('a not-ready agent is never offered a customer call; saying free makes it the next one', async () => {
    w = await createWorld(['101', '102']);
    presence(A.workNo, { kind: 'saybusy', reason: 201 });
    presence(C.workNo, { kind: 'saybusy', reason: 0 });
    await customerCalls();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.state(A.phone)).toBe('idle');
    expect(w.state(C.phone)).toBe('idle');
    expect(presence(C.workNo, { kind: 'sayfree' })).toEqual({ ok: true, result: null });
    await w.settle();
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.state(A.phone)).toBe('idle');
    expect(stateEvents(C.workNo)).toEqual(['AgentState_SetNotReady_Success', 'AgentState_CancelNotReady_Success', 'AgentState_Ready']);
  });

  it('agents who start not ready (configuration) get no call until they say free', async () => {
    w = await createWorld(['101'], { presence: { initialStatus: 'not-ready', wrapUpSeconds: 0 } });
    expect(status(A.workNo)).toBe('not-ready');
    await customerCalls('4000');
    expect(w.state(A.phone)).toBe('idle');
    presence(A.workNo, { kind: 'sayfree' });
    await w.settle();
    expect(w.state(A.phone)).toBe('ringing');
  });

  it('after a customer call the agent is in wrap-up, then ready when the wrap-up time runs out', async () => {
    w = await createWorld(['101'], { presence: WRAP_UP });
    await w.customerTalkingWithA();
    w.backend.hangup(CUSTOMER);
    await w.settle();
    expect(status(A.workNo)).toBe('wrap-up');
    expect(stateEvents(A.workNo)).toEqual(['AgentState_Work']);
    // A second customer for A waits while A wraps up.
    await customerCalls('4000', '5550199');
    expect(w.state(A.phone)).toBe('idle');
    expect(w.hears('5550199')).toEqual(['moh']);
    expect(w.timers.fireSetFor(WRAP_UP.wrapUpSeconds)).toBe(1);
    await w.settle();
    expect(status(A.workNo)).toBe('ready');
    expect(stateEvents(A.workNo)).toEqual(['AgentState_Work', 'AgentState_Ready']);
    expect(w.state(A.phone)).toBe('ringing');
  });

  it('wrap-up ends early when the agent says free; internal calls bring no wrap-up', async () => {
    w = await createWorld(['101', '102'], { presence: WRAP_UP });
    await w.customerTalkingWithA();
    w.backend.hangup(A.phone);
    await w.settle();
    expect(status(A.workNo)).toBe('wrap-up');
    presence(A.workNo, { kind: 'sayfree' });
    expect(status(A.workNo)).toBe('ready');
    expect(w.timers.pendingSeconds()).not.toContain(WRAP_UP.wrapUpSeconds);
    await w.orchestrator.callInner(A.workNo, C.workNo);
    await w.settle();
    w.backend.answer(A.phone);
    await w.settle();
    w.backend.answer(C.phone);
    await w.settle();
    w.backend.hangup(C.phone);
    await w.settle();
    expect(status(A.workNo)).toBe('ready');
    expect(status(C.workNo)).toBe('ready');
  });

  it('rest keeps the agent from calls for its time; when it runs out the agent is ready and gets the waiting call', async () => {
    w = await createWorld(['101']);
    expect(presence(A.workNo, { kind: 'rest', seconds: 900, reason: 5 })).toEqual({ ok: true, result: null });
    await customerCalls('4000');
    expect(w.state(A.phone)).toBe('idle');
    expect(w.timers.fireSetFor(900)).toBe(1);
    await w.settle();
    expect(stateEvents(A.workNo)).toEqual(['AgentState_SetRest_Success', 'AgentState_Rest_Timeout', 'AgentState_Ready']);
    expect(w.state(A.phone)).toBe('ringing');
    // Rest cannot start on a call.
    expect(presence(A.workNo, { kind: 'rest', seconds: 60, reason: 0 })).toMatchObject({ ok: false, code: 'AGENT_BUSY' });
  });

  it('an agent who lets a customer call ring out goes not ready (event, reason 2) and the next agent is rung', async () => {
    w = await createWorld(['101', '102']);
    await customerCalls();
    expect(w.state(A.phone)).toBe('ringing');
    expect(w.timers.fireSetFor(OFFER_SECONDS)).toBe(1);
    await w.settle();
    expect(status(A.workNo)).toBe('not-ready');
    expect(w.eventsOf(A.workNo, 'AgentState_SetNotReady_Success').at(-1)?.content).toEqual({ reason: 2 });
    expect(w.state(C.phone)).toBe('ringing');
    // The queue's retries never bring the call back to the agent who did not answer.
    w.backend.reject(C.phone, 603);
    await w.settle();
    w.timers.fireSetFor(10);
    await w.settle();
    expect(w.state(A.phone)).toBe('idle');
    expect(w.state(C.phone)).toBe('ringing');
  });

  it('a phone that cannot be reached makes its agent not ready too; a rejection does not', async () => {
    w = await createWorld(['101', '102']);
    await customerCalls();
    w.backend.reject(A.phone, 480);
    await w.settle();
    expect(status(A.workNo)).toBe('not-ready');
    w.backend.reject(C.phone, 603);
    await w.settle();
    expect(status(C.workNo)).toBe('ready');
  });
});

describe('fair routing', () => {
  it('a skill queue offers the call to the ready agent idle longest, not the first configured', async () => {
    const clock = new FakeClock();
    w = await createWorld([], { clock });
    w.directory.signIn(D.workNo);
    clock.advance(60);
    w.directory.signIn(A.workNo);
    clock.advance(60);
    w.directory.signIn(C.workNo);
    await customerCalls();
    expect(w.state(D.phone)).toBe('ringing');
    expect(w.state(A.phone)).toBe('idle');
  });

  it('an agent back from a call goes to the end of the line', async () => {
    const clock = new FakeClock();
    w = await createWorld(['101', '102', '103'], { clock });
    // 101 takes a call and finishes it last: 102 and 103 have been idle longer.
    clock.advance(10);
    await w.customerTalkingWithA();
    clock.advance(10);
    w.backend.hangup(CUSTOMER);
    await w.settle();
    clock.advance(10);
    await customerCalls('4001', '5550111');
    expect(w.state(C.phone)).toBe('ringing');
    w.backend.answer(C.phone);
    await w.settle();
    await customerCalls('4001', '5550112');
    expect(w.state(D.phone)).toBe('ringing');
    expect(w.state(A.phone)).toBe('idle');
  });

  it('after the maximum wait the customer overflows to another skill queue', async () => {
    w = await createWorld(['103'], { queues: { support: { maxWaitSeconds: 120, treatment: { kind: 'overflow', skill: 'billing' } } } });
    presence(D.workNo, { kind: 'saybusy', reason: 0 });
    await customerCalls();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.timers.fireSetFor(120)).toBe(1);
    await w.settle();
    const call = w.orchestrator.callStates()[0];
    expect(call?.route).toEqual({ kind: 'skill', skill: 'billing' });
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    presence(D.workNo, { kind: 'sayfree' });
    await w.settle();
    expect(w.state(D.phone)).toBe('ringing');
  });

  it('after the maximum wait the customer gets the queue’s final status; an answered call is never cut', async () => {
    w = await createWorld([], { queues: { support: { maxWaitSeconds: 60, treatment: { kind: 'reject', sipStatus: 486 } } } });
    await customerCalls();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.timers.fireSetFor(60)).toBe(1);
    await w.settle();
    expect(w.backend.phone(CUSTOMER)).toEqual({ state: 'idle', hears: [], endedWith: 486 });
    expect(w.orchestrator.activeCallCount()).toBe(0);
    expect(w.timers.count).toBe(0);

    // Answered in time: the maximum wait is cancelled.
    w.directory.signIn(A.workNo);
    await customerCalls('4001', '5550120');
    w.backend.answer(A.phone);
    await w.settle();
    expect(w.timers.pendingSeconds()).not.toContain(60);
    expect(w.hears('5550120')).toEqual([A.phone]);
  });

  it('the maximum wait runs out while an agent rings: the agent gets its chance, then the treatment applies', async () => {
    w = await createWorld(['101'], { queues: { support: { maxWaitSeconds: 60, treatment: { kind: 'reject', sipStatus: 480 } } } });
    await customerCalls();
    expect(w.state(A.phone)).toBe('ringing');
    w.timers.fireSetFor(60);
    await w.settle();
    expect(w.state(A.phone)).toBe('ringing');
    w.backend.reject(A.phone, 603);
    await w.settle();
    expect(w.backend.phone(CUSTOMER)).toMatchObject({ state: 'idle', endedWith: 480 });
  });
});

describe('help requests and presence', () => {
  it('help by agent id to a not-ready agent is refused with its own code; by skill it picks a ready agent', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    presence(C.workNo, { kind: 'saybusy', reason: 0 });
    const byId = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    expect(byId).toMatchObject({ ok: false, code: 'HELPER_NOT_READY' });
    expect(w.state(C.phone)).toBe('idle');
    const bySkill = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'skill', skill: 'support' }, callappdata: '' });
    expect(bySkill.ok).toBe(true);
    await w.settle();
    expect(w.state(D.phone)).toBe('ringing');
    expect(w.state(C.phone)).toBe('idle');
  });

  it('help by skill never picks the requester, even when the requester has been idle longest', async () => {
    const clock = new FakeClock();
    w = await createWorld([], { clock });
    w.directory.signIn(A.workNo);
    clock.advance(100);
    w.directory.signIn(C.workNo);
    presence(C.workNo, { kind: 'saybusy', reason: 0 });
    await w.customerTalkingWithA();
    const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'skill', skill: 'support' }, callappdata: '' });
    expect(reply).toMatchObject({ ok: false, code: 'NO_FREE_HELPER' });
    presence(C.workNo, { kind: 'sayfree' });
    clock.advance(5);
    w.directory.signIn(D.workNo);
    const again = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'skill', skill: 'support' }, callappdata: '' });
    expect(again.ok).toBe(true);
    await w.settle();
    // C became free before D signed in: C has been idle longer.
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.state(D.phone)).toBe('idle');
    expect(w.hears(A.phone)).toEqual(['ringback']);
  });
});
