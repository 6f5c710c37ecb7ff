/**
 * Media commands that cross a hang-up, on the simulator made to fail as FreeSWITCH does: a command on a channel
 * that is going away is never answered, and fails only when the channel is gone. No request, event or other call
 * may wait for such a command; the call must end at once when its parties leave, and its agents be free again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reply } from '../../src/core/types.js';
import { A, C, CUSTOMER, createWorld, type World } from '../support/sim-world.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.stop();
});

function ok(reply: Reply): string {
  if (!reply.ok) throw new Error(`refused: ${reply.code} ${reply.message}`);
  return String(reply.result);
}

const askHelp = (mode: 1 | 2) =>
  w.orchestrator.request({ kind: 'innerhelp', workNo: A.workNo, mode, helper: { kind: 'agent', workNo: C.workNo }, callappdata: '' });

describe('media commands crossing hang-ups', () => {
  it('answers a help request at once although the customer\'s hold music is never answered, and ends cleanly when everyone leaves', async () => {
    await w.customerTalkingWithA();
    w.backend.stallMediaFor(CUSTOMER);
    const reply = await askHelp(1);
    ok(reply);
    await w.settle();
    expect(w.backend.stalledOperations).toBeGreaterThan(0);
    // C rings and answers although B's command is still pending.
    expect(w.state(C.phone)).toBe('ringing');
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone]);
    expect(w.eventsOf(C.workNo, 'AgentEvent_Talking')).toHaveLength(1);
    // B hangs up: its pending command fails, and A–C go on as an internal call.
    w.backend.hangup(CUSTOMER);
    await w.settle();
    expect(w.backend.stalledOperations).toBe(0);
    expect(w.hears(A.phone)).toEqual([C.phone]);
    w.backend.hangup(A.phone);
    await w.settle();
    expect(w.orchestrator.activeCallCount()).toBe(0);
    expect(w.directory.isBusy(A.workNo) || w.directory.isBusy(C.workNo)).toBe(false);
  });

  it('does not keep the helper busy when all three hang up while a room join is still pending', async () => {
    await w.customerTalkingWithA();
    ok(await askHelp(2));
    await w.settle();
    w.backend.stallMediaFor(C.phone);
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.backend.stalledOperations).toBeGreaterThan(0);
    for (const phone of [CUSTOMER, C.phone, A.phone]) w.backend.hangup(phone);
    await w.settle();
    expect(w.orchestrator.activeCallCount()).toBe(0);
    expect(w.backend.stalledOperations).toBe(0);
    for (const agent of [A, C]) expect(w.directory.isBusy(agent.workNo)).toBe(false);
    // The helper can be asked again straight away.
    await w.customerTalkingWithA();
    ok(await askHelp(1));
  });

  it('treats the leg of a stalled command as lost when its channel goes, and ends the call for the others at once', async () => {
    await w.customerTalkingWithA();
    ok(await askHelp(1));
    await w.settle();
    w.backend.answer(C.phone);
    await w.settle();
    const helpCallId = (w.eventsOf(C.workNo, 'AgentEvent_Talking')[0]?.content as { callid: string }).callid;
    // A drops the helper to get B back; the bridge back to B is never answered on A's side...
    w.backend.stallMediaFor(A.phone);
    expect((await w.orchestrator.request({ kind: 'dropcall', workNo: A.workNo, callid: helpCallId })).ok).toBe(true);
    await w.settle();
    expect(w.backend.stalledOperations).toBeGreaterThan(0);
    // ...and then A's channel is lost on the media server: the pending bridge fails, and the core ends A's call
    // with B at once (A leaving a call with a customer ends it), so nobody waits for a deadline.
    w.backend.loseChannel(A.phone);
    await w.settle();
    expect(w.backend.stalledOperations).toBe(0);
    expect(w.state(CUSTOMER)).toBe('idle');
    expect(w.orchestrator.activeCallCount()).toBe(0);
    expect(w.directory.isBusy(A.workNo)).toBe(false);
  });

  it('replies to requests without waiting for the media server, even when none of its commands is ever answered', async () => {
    await w.customerTalkingWithA();
    for (const phone of [A.phone, CUSTOMER]) w.backend.stallMediaFor(phone);
    ok(await askHelp(1));
    await w.settle();
    expect(w.backend.stalledOperations).toBeGreaterThan(0);
    w.backend.hangup(CUSTOMER);
    w.backend.hangup(A.phone);
    await w.settle();
    expect(w.orchestrator.activeCallCount()).toBe(0);
  });
});
