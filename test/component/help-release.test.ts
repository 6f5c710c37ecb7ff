/**
 * No stale call ids on the desktops: every call id an agent's desktop was shown (AgentEvent_Ringing,
 * _Customer_Alerting, _Talking, _Conference) is ended for that agent by one AgentEvent_Call_Release, in every way
 * a help session can end. These are the load driver's event anomalies, replayed on the simulated backend.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/core/types.js';
import type { TimedAgentEvent } from '../../src/orchestrator/call-control.js';
import { A, C, CUSTOMER, createWorld, type World } from '../support/sim-world.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.stop();
});

const SHOWING = ['AgentEvent_Ringing', 'AgentEvent_Customer_Alerting', 'AgentEvent_Talking', 'AgentEvent_Conference'];

function callIdOf(e: TimedAgentEvent): string | undefined {
  if (typeof e.content === 'string') return e.content;
  if (e.content === null) return undefined;
  return e.content.callid === undefined ? undefined : String(e.content.callid);
}

/** A desktop that tracks calls by id: the ids it was shown and has not seen released (a release must follow a show). */
function openCallIds(workNo: string): string[] {
  const open = new Set<string>();
  for (const e of w.eventsOf(workNo)) {
    const id = callIdOf(e);
    if (id === undefined) continue;
    if (SHOWING.includes(e.eventType)) open.add(id);
    else if (e.eventType === 'AgentEvent_Call_Release') {
      expect(open.has(id), `${workNo} released ${id}, which it was not on`).toBe(true);
      open.delete(id);
    }
  }
  return [...open];
}

/** The events an agent got about one call id, by type, from the index-th event on. */
function eventsAbout(workNo: string, callid: string, from = 0): string[] {
  return w
    .eventsOf(workNo)
    .slice(from)
    .filter((e) => callIdOf(e) === callid)
    .map((e) => e.eventType);
}

function ok(reply: Reply): string | null {
  if (!reply.ok) throw new Error(`refused: ${reply.code} ${reply.message}`);
  return reply.result;
}

async function askHelp(mode: 1 | 2): Promise<string> {
  const reply = await w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });
  await w.settle();
  return ok(reply) as string;
}

async function act(what: () => unknown): Promise<void> {
  await what();
  await w.settle();
}

/** Everyone still on a call hangs up: after that, no desktop may still hold a call id. */
async function everyoneHangsUp(): Promise<void> {
  for (const number of [A.phone, C.phone, CUSTOMER]) if (w.state(number) === 'talking') await act(() => w.backend.hangup(number));
  expect(w.orchestrator.activeCallCount()).toBe(0);
  expect(openCallIds(A.workNo)).toEqual([]);
  expect(openCallIds(C.workNo)).toEqual([]);
}

describe.each([1, 2] as const)('mode %i help', (mode) => {
  it('A leaves while C rings, then C answers: C gets the help call id released before it talks with B', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(mode);
    await act(() => w.orchestrator.request({ kind: 'release', workNo: A.workNo }));
    await act(() => w.backend.answer(C.phone));
    expect(w.hears(C.phone)).toEqual([CUSTOMER]);
    expect(eventsAbout(C.workNo, helpCallId)).toEqual(['AgentEvent_Ringing', 'AgentEvent_Customer_Release', 'AgentEvent_Call_Release']);
    expect(w.eventsOf(C.workNo, 'AgentEvent_Customer_Release').at(-1)?.content).toEqual({ callid: helpCallId, number: A.workNo });
    expect(w.eventsOf(C.workNo).at(-1)).toMatchObject({ eventType: 'AgentEvent_Talking', content: { callid: callId } });
    expect(openCallIds(C.workNo)).toEqual([callId]);
    await everyoneHangsUp();
  });

  it('A leaves while C rings, after A was told C is ringing: A gets both call ids released', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(mode);
    expect(eventsAbout(A.workNo, helpCallId)).toEqual(['AgentEvent_Customer_Alerting']);
    await act(() => w.backend.hangup(A.phone));
    expect(eventsAbout(A.workNo, helpCallId)).toEqual(['AgentEvent_Customer_Alerting', 'AgentEvent_Call_Release']);
    expect(openCallIds(A.workNo)).toEqual([]);
    expect(eventsAbout(A.workNo, callId).at(-1)).toBe('AgentEvent_Call_Release');
    await act(() => w.backend.answer(C.phone));
    await everyoneHangsUp();
  });

  it('A drops C while C rings: A gets the help call id released, then talks with B again', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(mode);
    const request = mode === 1 ? { kind: 'dropcall' as const, workNo: A.workNo, callid: helpCallId } : { kind: 'disconnect' as const, workNo: A.workNo, number: C.workNo };
    const from = w.eventsOf(A.workNo).length;
    await act(async () => ok(await w.orchestrator.request(request)));
    expect(w.state(C.phone)).toBe('idle');
    expect(eventsAbout(A.workNo, helpCallId, from)).toEqual(['AgentEvent_Call_Release']);
    expect(w.eventsOf(A.workNo).at(-1)).toMatchObject({ eventType: 'AgentEvent_Talking', content: { callid: callId } });
    expect(openCallIds(A.workNo)).toEqual([callId]);
    await everyoneHangsUp();
  });

  it('C fails: A gets AgentEvent_Consult_Fail, then the help call id released, then talks with B again', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(mode);
    const from = w.eventsOf(A.workNo).length;
    await act(() => w.backend.reject(C.phone, 486));
    expect(eventsAbout(A.workNo, helpCallId, from)).toEqual(['AgentEvent_Consult_Fail', 'AgentEvent_Call_Release']);
    expect(w.eventsOf(A.workNo).at(-1)).toMatchObject({ eventType: 'AgentEvent_Talking', content: { callid: callId } });
    expect(openCallIds(A.workNo)).toEqual([callId]);
    await everyoneHangsUp();
  });

  it('C leaves after answering: A gets C’s leaving and the help call id released, then talks with B again', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(mode);
    await act(() => w.backend.answer(C.phone));
    const from = w.eventsOf(A.workNo).length;
    await act(() => w.backend.hangup(C.phone));
    expect(eventsAbout(A.workNo, helpCallId, from)).toEqual(['AgentEvent_Customer_Release', 'AgentEvent_Call_Release']);
    expect(w.eventsOf(A.workNo).at(-1)).toMatchObject({ eventType: 'AgentEvent_Talking', content: { callid: callId } });
    expect(openCallIds(A.workNo)).toEqual([callId]);
    expect(openCallIds(C.workNo)).toEqual([]);
    await everyoneHangsUp();
  });

  it('A leaves after C answered: C gets A’s leaving and the help call id released, then talks with B', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(mode);
    await act(() => w.backend.answer(C.phone));
    const from = w.eventsOf(C.workNo).length;
    await act(() => w.backend.hangup(A.phone));
    expect(w.hears(C.phone)).toEqual([CUSTOMER]);
    expect(eventsAbout(C.workNo, helpCallId, from)).toEqual(['AgentEvent_Customer_Release', 'AgentEvent_Call_Release']);
    expect(w.eventsOf(C.workNo).at(-1)).toMatchObject({ eventType: 'AgentEvent_Talking', content: { callid: callId } });
    expect(openCallIds(A.workNo)).toEqual([]);
    expect(openCallIds(C.workNo)).toEqual([callId]);
    await everyoneHangsUp();
  });

  it('B leaves after C answered: A and C go on under the help call id, and it is released when they hang up', async () => {
    const callId = await w.customerTalkingWithA();
    const helpCallId = await askHelp(mode);
    await act(() => w.backend.answer(C.phone));
    await act(() => w.backend.hangup(CUSTOMER));
    expect(eventsAbout(A.workNo, callId).slice(-2)).toEqual(['AgentEvent_Customer_Release', 'AgentEvent_Call_Release']);
    expect(openCallIds(A.workNo)).toEqual([helpCallId]);
    expect(openCallIds(C.workNo)).toEqual([helpCallId]);
    await everyoneHangsUp();
  });
});
