/**
 * One test per rule of the seed ("Asking for Internal Help"), and per decision we took where it is silent, driven
 * through the orchestrator on the simulated backend and checked by what each phone hears.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/core/types.js';
import { A, C, CUSTOMER, D, createWorld, type World } from '../support/sim-world.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.stop();
});

function ok(reply: Reply): string | null {
  if (!reply.ok) throw new Error(`refused: ${reply.code} ${reply.message}`);
  return reply.result;
}

async function askHelp(mode: 1 | 2, helper = C.workNo): Promise<string> {
  const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode, helper: { kind: 'agent', workNo: helper }, callappdata: 'order 42' });
  await w.settle();
  return ok(reply) as string;
}

async function helpAnswered(mode: 1 | 2): Promise<{ callId: string; helpCallId: string }> {
  const callId = await w.customerTalkingWithA();
  const helpCallId = await askHelp(mode);
  w.backend.answer(C.phone);
  await w.settle();
  return { callId, helpCallId };
}

async function hangup(number: string): Promise<void> {
  w.backend.hangup(number);
  await w.settle();
}

describe('prerequisite: the agent is making a call with a customer', () => {
  it('A and B talk once A answers the customer call', async () => {
    await w.customerTalkingWithA();
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it('the customer hears ringback while A rings', async () => {
    await w.backend.placeCustomerCall(CUSTOMER, '4000');
    await w.settle();
    expect(w.state(A.phone)).toBe('ringing');
    expect(w.hears(CUSTOMER)).toEqual(['ringback']);
  });

  it('help is refused when the agent has no customer call', async () => {
    const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    expect(reply).toMatchObject({ ok: false, code: 'NO_CUSTOMER_CALL' });
  });
});

describe('two-party help', () => {
  it('while C rings, B hears music (never silence) and A hears ringback; C sees the help call ringing', async () => {
    await w.customerTalkingWithA();
    const helpCallId = await askHelp(1);
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual(['ringback']);
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Hold')).toHaveLength(1);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Customer_Alerting').at(-1)?.content).toMatchObject({ callid: helpCallId, otherPhone: C.phone, otherPhoneWorkno: C.workNo });
    expect(w.eventsOf(C.workNo, 'AgentEvent_Ringing').at(-1)?.content).toMatchObject({ callid: helpCallId, caller: A.workNo, callappdata: 'order 42' });
  });

  it('after C answers, the call of user B is held, and agent A and agent C are in a call', async () => {
    const { helpCallId } = await helpAnswered(1);
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([A.phone]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Talking').at(-1)?.content).toMatchObject({ callid: helpCallId });
    expect(w.eventsOf(C.workNo, 'AgentEvent_Talking').at(-1)?.content).toMatchObject({ callid: helpCallId });
  });

  it('if agent C releases the call first, the call between agent A and user B is resumed', async () => {
    const { callId, helpCallId } = await helpAnswered(1);
    await hangup(C.phone);
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.state(C.phone)).toBe('idle');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Customer_Release').at(-1)?.content).toEqual({ callid: helpCallId, number: C.workNo });
    expect(w.eventsOf(C.workNo, 'AgentEvent_Call_Release').map((e) => e.content)).toEqual([helpCallId]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Talking').at(-1)?.content).toMatchObject({ callid: callId });
  });

  it('if agent A releases the call first, the call of user B is transferred to agent C', async () => {
    const { callId, helpCallId } = await helpAnswered(1);
    await hangup(A.phone);
    expect(w.hears(CUSTOMER)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([CUSTOMER]);
    expect(w.state(A.phone)).toBe('idle');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Call_Release').map((e) => e.content).sort()).toEqual([callId, helpCallId].sort());
    expect(w.eventsOf(C.workNo, 'AgentEvent_Talking').at(-1)?.content).toMatchObject({ callid: callId, caller: CUSTOMER });
    // The transferred call is an ordinary call for C: C hanging up ends it.
    await hangup(C.phone);
    expect(w.state(CUSTOMER)).toBe('idle');
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });

  it('agent A retrieves user B by disconnecting the A–C call by its callId', async () => {
    const { helpCallId } = await helpAnswered(1);
    ok(await w.orchestrator.request({ kind: 'dropcall', workNo: A.workNo, callid: helpCallId }));
    await w.settle();
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.state(C.phone)).toBe('idle');
  });

  it('A turns a two-party help into a three-party one (confjoin with the held call)', async () => {
    const { callId } = await helpAnswered(1);
    ok(await w.orchestrator.request({ kind: 'confjoin', workNo: A.workNo, callid: callId }));
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone, CUSTOMER].sort());
    expect(w.hears(CUSTOMER)).toEqual([A.phone, C.phone].sort());
    expect(w.hears(C.phone)).toEqual([A.phone, CUSTOMER].sort());
    expect(w.eventsOf(A.workNo, 'AgentEvent_Conference')).toHaveLength(1);
  });

  it('the held customer cannot be released by number during two-party help', async () => {
    await helpAnswered(1);
    const reply = await w.orchestrator.request({ kind: 'disconnect', workNo: A.workNo, number: CUSTOMER });
    expect(reply).toMatchObject({ ok: false, code: 'CANNOT_RELEASE_HELD_CUSTOMER' });
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
  });
});

describe('three-party help', () => {
  it('while C rings, A and B go on talking; after C answers, A, B and C are in one call', async () => {
    await w.customerTalkingWithA();
    await askHelp(2);
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone, CUSTOMER].sort());
    expect(w.hears(CUSTOMER)).toEqual([A.phone, C.phone].sort());
    expect(w.hears(C.phone)).toEqual([A.phone, CUSTOMER].sort());
    expect(w.eventsOf(A.workNo, 'AgentEvent_Conference').at(-1)?.content).toMatchObject({ partner: C.workNo });
    expect(w.eventsOf(C.workNo, 'AgentEvent_Conference').at(-1)?.content).toMatchObject({ partner: A.workNo });
  });

  it('if agent A releases the call first, user B and agent C form a two-party call', async () => {
    await helpAnswered(2);
    await hangup(A.phone);
    expect(w.hears(CUSTOMER)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([CUSTOMER]);
  });

  it('if agent C releases the call first, user B and agent A form a two-party call', async () => {
    await helpAnswered(2);
    await hangup(C.phone);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
  });

  it('if user B releases the call first, agent A and agent C form an internal call', async () => {
    const { callId, helpCallId } = await helpAnswered(2);
    await hangup(CUSTOMER);
    expect(w.hears(A.phone)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([A.phone]);
    expect(w.eventsOf(A.workNo, 'AgentEvent_Customer_Release').at(-1)?.content).toEqual({ callid: callId, number: CUSTOMER });
    // The internal call goes on under the help call id: A can still end it by that id.
    ok(await w.orchestrator.request({ kind: 'dropcall', workNo: A.workNo, callid: helpCallId }));
    await w.settle();
    expect(w.state(A.phone)).toBe('idle');
    expect(w.state(C.phone)).toBe('idle');
  });

  it('agent A retrieves user B by releasing the number of agent C', async () => {
    await helpAnswered(2);
    ok(await w.orchestrator.request({ kind: 'disconnect', workNo: A.workNo, number: C.workNo }));
    await w.settle();
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.state(C.phone)).toBe('idle');
  });

  it('the last two then behave as an ordinary two-party call', async () => {
    await helpAnswered(2);
    await hangup(C.phone);
    await hangup(A.phone);
    expect(w.state(CUSTOMER)).toBe('idle');
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });
});

describe('failures of the help call: B always comes back to A', () => {
  for (const [what, act] of [
    ['busy (486)', () => w.backend.reject(C.phone, 486)],
    ['rejects (603)', () => w.backend.reject(C.phone, 603)],
    ['is unreachable (480)', () => w.backend.reject(C.phone, 480)],
    ['does not answer in time', () => w.timers.fireAll()],
  ] as const) {
    it(`C ${what}: A gets AgentEvent_Consult_Fail and talks with B again`, async () => {
      await w.customerTalkingWithA();
      const helpCallId = await askHelp(1);
      act();
      await w.settle();
      expect(w.eventsOf(A.workNo, 'AgentEvent_Consult_Fail').map((e) => e.content)).toEqual([helpCallId]);
      expect(w.hears(A.phone)).toEqual([CUSTOMER]);
      expect(w.hears(CUSTOMER)).toEqual([A.phone]);
      expect(w.state(C.phone)).toBe('idle');
    });
  }

  it('C already on a call: the help is refused at once and nothing changes', async () => {
    await w.customerTalkingWithA();
    const placed = await w.backend.placeCustomerCall('5550199', '4001');
    expect(placed.ok).toBe(true);
    await w.settle();
    w.backend.answer(C.phone);
    await w.settle();
    const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
    expect(reply).toMatchObject({ ok: false, code: 'HELPER_BUSY' });
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it('a skill queue finds the first free signed-in agent of the skill', async () => {
    await w.customerTalkingWithA();
    const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode: 1, helper: { kind: 'skill', skill: 'billing' }, callappdata: '' });
    expect(reply.ok).toBe(true);
    await w.settle();
    expect(w.state(D.phone)).toBe('ringing');
  });
});

describe('cases the seed leaves open (our decisions)', () => {
  it('B hangs up while held: A and C go on talking as an internal call', async () => {
    await helpAnswered(1);
    await hangup(CUSTOMER);
    expect(w.hears(A.phone)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([A.phone]);
  });

  it('B hangs up while C rings: C stops ringing and A’s call ends', async () => {
    await w.customerTalkingWithA();
    await askHelp(1);
    await hangup(CUSTOMER);
    expect(w.state(C.phone)).toBe('idle');
    expect(w.state(A.phone)).toBe('idle');
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });

  it('A hangs up while C rings, then C answers: B is handed to C', async () => {
    await w.customerTalkingWithA();
    await askHelp(1);
    await hangup(A.phone);
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([C.phone]);
  });

  it('A hangs up while C rings, then C fails: B waits with music and goes back to an agent', async () => {
    await w.customerTalkingWithA();
    await askHelp(2);
    await hangup(A.phone);
    w.backend.reject(C.phone, 486);
    await w.settle();
    // The route of DID 4000 is agent A, who is free again: A's phone rings with B.
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.state(A.phone)).toBe('ringing');
    w.backend.answer(A.phone);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it('a late answer from C after the help was cancelled is hung up, and B stays with A', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(1);
    ok(await w.orchestrator.request({ kind: 'dropcall', workNo: A.workNo, callid: helpCallId }));
    await w.settle();
    expect(w.state(C.phone)).toBe('idle');
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(callId).toBeTruthy();
  });

  it('two parties hanging up at once are decided one after the other', async () => {
    await helpAnswered(2);
    w.backend.hangup(A.phone);
    w.backend.hangup(C.phone);
    await w.settle();
    // A then C left: B–C, then C left that two-party call, which ends it.
    expect(w.state(CUSTOMER)).toBe('idle');
    expect(w.orchestrator.activeCallCount()).toBe(0);
    const releases = w.events.filter((e) => e.eventType === 'AgentEvent_Call_Release').map((e) => `${e.workNo}:${String(e.content)}`);
    expect(new Set(releases).size).toBe(releases.length);
  });

  it('the media server loses B’s channel: A’s call ends cleanly, no one is left half-open', async () => {
    await w.customerTalkingWithA();
    w.backend.loseChannel(CUSTOMER);
    await w.settle();
    expect(w.state(CUSTOMER)).toBe('idle');
    expect(w.state(A.phone)).toBe('idle');
    expect(w.eventsOf(A.workNo, 'AgentEvent_Call_Release')).toHaveLength(1);
  });

  it('a media operation that fails on C during help brings B back to A', async () => {
    await w.customerTalkingWithA();
    await askHelp(1);
    w.backend.failMediaFor(C.phone, 0);
    w.backend.answer(C.phone);
    w.backend.failMediaFor(C.phone, 1);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.state(C.phone)).toBe('idle');
  });
});
