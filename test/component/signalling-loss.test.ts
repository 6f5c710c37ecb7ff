/**
 * drachtio-server restarts (or stays away) mid-call: every dialog it held is gone. Every call that used it must end
 * at once, in every phase: agents freed with their release events, no call left in the service, and the next call
 * works (issue 17, item 5). The simulator loses its signalling as the real adapter does (dialogsLost).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { A, C, CUSTOMER, D, createWorld, type World } from '../support/sim-world.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.stop();
});

async function askHelp(mode: 1 | 2): Promise<void> {
  const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
  if (!reply.ok) throw new Error(reply.code);
  await w.settle();
}

function expectNothingLeft(): void {
  expect(w.orchestrator.activeCallCount()).toBe(0);
  for (const agent of [A, C, D]) expect(w.directory.isBusy(agent.workNo)).toBe(false);
  for (const phone of [CUSTOMER, A.phone, C.phone, D.phone]) expect(w.state(phone)).toBe('idle');
}

async function loseSignallingThenCallAgain(): Promise<void> {
  w.backend.loseSignalling();
  await w.settle();
  expectNothingLeft();
  // The agents stay signed in, and the next call is offered and talks.
  for (const agent of [A, C]) expect(w.directory.isSignedIn(agent.workNo)).toBe(true);
  await w.customerTalkingWithA();
  expect(w.hears(A.phone)).toEqual([CUSTOMER]);
}

describe('drachtio-server lost mid-call', () => {
  it('ends a call while the agent rings', async () => {
    const placed = await w.backend.placeCustomerCall(CUSTOMER, '4000');
    expect(placed.ok).toBe(true);
    await w.settle();
    expect(w.state(A.phone)).toBe('ringing');
    await loseSignallingThenCallAgain();
  });

  it('ends a call in talk, and tells the agent its call was released', async () => {
    await w.customerTalkingWithA();
    const releasesBefore = w.eventsOf(A.workNo, 'AgentEvent_Call_Release').length;
    w.backend.loseSignalling();
    await w.settle();
    expect(w.eventsOf(A.workNo, 'AgentEvent_Call_Release').length).toBeGreaterThan(releasesBefore);
    expectNothingLeft();
  });

  it('ends two-party help while C rings, and after C answered', async () => {
    await w.customerTalkingWithA();
    await askHelp(1);
    expect(w.state(C.phone)).toBe('ringing');
    await loseSignallingThenCallAgain();
    w.backend.hangup(A.phone);
    await w.settle();
    await askHelpAnsweredThenLose(1);
  });

  it('ends a three-party room', async () => {
    await askHelpAnsweredThenLose(2);
  });

  it('ends a customer waiting in a queue with music', async () => {
    for (const agent of [A, C, D]) w.directory.signOut(agent.workNo);
    const placed = await w.backend.placeCustomerCall(CUSTOMER, '4001');
    expect(placed.ok).toBe(true);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    w.backend.loseSignalling();
    await w.settle();
    expect(w.orchestrator.activeCallCount()).toBe(0);
    expect(w.state(CUSTOMER)).toBe('idle');
  });
});

async function askHelpAnsweredThenLose(mode: 1 | 2): Promise<void> {
  await w.customerTalkingWithA();
  await askHelp(mode);
  w.backend.answer(C.phone);
  await w.settle();
  expect(w.state(C.phone)).toBe('talking');
  const releases = (workNo: string): number => w.eventsOf(workNo, 'AgentEvent_Call_Release').length;
  const before = { a: releases(A.workNo), c: releases(C.workNo) };
  w.backend.loseSignalling();
  await w.settle();
  expectNothingLeft();
  expect(releases(A.workNo)).toBeGreaterThan(before.a);
  expect(releases(C.workNo)).toBeGreaterThan(before.c);
}
