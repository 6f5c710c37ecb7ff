/**
 * A media server dies mid-call while another is up (issue 21): every call on it moves and goes on. In each phase
 * the phones hear the right parties again, the desks are told nothing (no release), and the call goes on working
 * afterwards. A phone that does not answer its re-INVITE is hung up and its call goes on as if that party had left.
 * Without another server the calls end as before. The simulator loses its media server as the real pool reports it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { A, C, CUSTOMER, createWorld, type World } from '../support/sim-world.js';

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

/** Loses the media server; returns the agent events emitted meanwhile. */
async function lose(options: { spare?: boolean; unanswered?: string[] } = {}): Promise<string[]> {
  const from = w.events.length;
  w.backend.loseMediaServer(options);
  await w.settle();
  return w.events.slice(from).map((e) => `${e.workNo}:${e.eventType}`);
}

describe('a media server dies mid-call and another is up', () => {
  it('plain call: A and B hear each other again, nobody is told anything, and the call goes on', async () => {
    await w.customerTalkingWithA();
    expect(await lose()).toEqual([]);
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
    expect(w.backend.mediaMoves).toBe(2);
    // Still a working call: help and hold work on it afterwards.
    await askHelp(1);
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone]);
  });

  it('customer on hold: B hears music again, A hears nothing; resuming brings them together', async () => {
    await w.customerTalkingWithA();
    expect((await w.orchestrator.request({ kind: 'hold', workNo: A.workNo })).ok).toBe(true);
    await w.settle();
    expect(await lose()).toEqual([]);
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual([]);
    expect((await w.orchestrator.request({ kind: 'gethold', workNo: A.workNo, callid: null })).ok).toBe(true);
    await w.settle();
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it('two-party help while C rings: B hears music, A ringback; C answers on the new server', async () => {
    await w.customerTalkingWithA();
    await askHelp(1);
    expect(await lose()).toEqual([]);
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    expect(w.hears(A.phone)).toEqual(['ringback']);
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone]);
  });

  it('two-party help, A–C talking: A and C hear each other, B music; C leaves: A–B again', async () => {
    await w.customerTalkingWithA();
    await askHelp(1);
    w.backend.answer(C.phone);
    await w.settle();
    expect(await lose()).toEqual([]);
    expect(w.hears(A.phone)).toEqual([C.phone]);
    expect(w.hears(C.phone)).toEqual([A.phone]);
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    w.backend.hangup(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
  });

  it('three-party room: A, B and C hear each other again', async () => {
    await w.customerTalkingWithA();
    await askHelp(2);
    w.backend.answer(C.phone);
    await w.settle();
    expect(await lose()).toEqual([]);
    expect(w.hears(A.phone)).toEqual([C.phone, CUSTOMER].sort());
    expect(w.hears(CUSTOMER)).toEqual([A.phone, C.phone].sort());
    expect(w.hears(C.phone)).toEqual([A.phone, CUSTOMER].sort());
  });

  it('a phone that does not answer its re-INVITE is hung up: in the room, C gone leaves A–B talking', async () => {
    await w.customerTalkingWithA();
    await askHelp(2);
    w.backend.answer(C.phone);
    await w.settle();
    const told = await lose({ unanswered: [C.phone] });
    expect(told).toContain(`${C.workNo}:AgentEvent_Call_Release`);
    // What C hanging up would have told (the help call's release), and the customer's call goes on.
    expect(w.orchestrator.activeCallCount()).toBe(1);
    expect(w.state(C.phone)).toBe('idle');
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it('the customer does not answer its re-INVITE: the call ends as if B had hung up', async () => {
    await w.customerTalkingWithA();
    await lose({ unanswered: [CUSTOMER] });
    expect(w.orchestrator.activeCallCount()).toBe(0);
    expect(w.state(A.phone)).toBe('idle');
    expect(w.directory.isBusy(A.workNo)).toBe(false);
  });
});

describe('a media server dies and no other is up', () => {
  it('every call it carried ends, as with one server', async () => {
    await w.customerTalkingWithA();
    const told = await lose({ spare: false });
    expect(told).toContain(`${A.workNo}:AgentEvent_Call_Release`);
    expect(w.orchestrator.activeCallCount()).toBe(0);
    expect(w.state(CUSTOMER)).toBe('idle');
  });
});
