/**
 * The desk's picture of an agent's calls (web/src/desk-model.ts), folded from the events the real orchestrator
 * emits on the simulator: at each step of the seed's help sessions it must say what is true of the calls.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyEvent, describeAgentState, describeLine, emptyDesk, formatDuration, fromAgentStatus, helpLine, mainLine, type DeskState } from '../../web/src/desk-model.js';
import { BASE, startService, type Service } from './api-harness.js';

const B = '5550100';
let s: Service;
let guidA: string;
const desks = new Map<string, DeskState>();
const phones: Record<string, string> = { '101': '2001', '102': '2002', '103': '2003' };

beforeEach(async () => {
  s = await startService();
  desks.clear();
  s.orchestrator.onAgentEvent((event) => {
    const before = desks.get(event.workNo) ?? emptyDesk;
    desks.set(event.workNo, applyEvent(before, event, { workNo: event.workNo, phone: phones[event.workNo] ?? '' }));
  });
  guidA = await s.signIn('101');
  await s.signIn('102');
  await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
  await s.hears(B);
  expect(view('101')).toEqual([`ringing Ringing: call from ${B}`]);
  await s.http('POST', '/sim/phones/2001/answer');
  await s.hears(B);
});
afterEach(async () => {
  await s.stop();
});

/** Each line of the agent's desk: its state and how the desk words it. */
function view(workNo: string): string[] {
  return (desks.get(workNo) ?? emptyDesk).lines.map((l) => `${l.state} ${describeLine(l)}`);
}

async function help(mode: 1 | 2): Promise<string> {
  const r = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', mode, callappdata: 'ticket 7' } });
  expect(r.body.retcode).toBe('0');
  await s.hears(B);
  return r.body.result as string;
}

async function act(action: () => Promise<unknown>): Promise<void> {
  await action();
  await s.hears(B);
}

describe('the desk model, fed by the real events', () => {
  it('two-party help; C leaves first; then the customer', async () => {
    expect(view('101')).toEqual([`talking Talking with ${B}`]);
    const helpId = await help(1);
    expect(view('101')).toEqual([`talking Talking with ${B} (customer on hold)`, 'alerting Asking 102 for help: ringing']);
    expect(helpLine(desks.get('101') ?? emptyDesk)?.callid).toBe(helpId);
    expect(view('102')).toEqual(['ringing Help requested by 101']);
    expect(desks.get('102')?.lines[0]).toMatchObject({ callappdata: 'ticket 7', mode: 1, help: true });
    await act(() => s.http('POST', '/sim/phones/2002/answer'));
    expect(view('101')).toEqual([`talking Talking with ${B} (customer on hold)`, 'talking Help call with 102']);
    expect(view('102')).toEqual(['talking Help call with 101']);
    await act(() => s.http('POST', '/sim/phones/2002/hangup'));
    expect(view('101')).toEqual([`talking Talking with ${B}`]);
    expect(view('102')).toEqual([]);
    await act(() => s.http('POST', `/sim/phones/${B}/hangup`));
    expect(view('101')).toEqual([]);
  });

  it('two-party help; A leaves first: C gets the customer', async () => {
    await help(1);
    await act(() => s.http('POST', '/sim/phones/2002/answer'));
    await act(() => s.http('POST', '/sim/phones/2001/hangup'));
    expect(view('101')).toEqual([]);
    expect(view('102')).toEqual([`talking Talking with ${B}`]);
  });

  it('two-party made three-party; C released by number', async () => {
    await help(1);
    await act(() => s.http('POST', '/sim/phones/2002/answer'));
    const main = mainLine(desks.get('101') ?? emptyDesk);
    await act(() => s.http('POST', `${BASE}/voicecall/101/confjoin`, { guid: guidA, body: { callid: main?.callid } }));
    expect(view('101')).toEqual([`conference Three-party call with ${B} and 102`, 'conference Help call with 102: joined the three-party call']);
    expect(view('102')).toEqual(['conference Help call with 101: joined the three-party call']);
    await act(() => s.http('POST', `${BASE}/voicecall/101/disconnect/102`, { guid: guidA }));
    expect(view('101')).toEqual([`talking Talking with ${B}`]);
    expect(view('102')).toEqual([]);
  });

  it('three-party help; the customer leaves first: A and C go on', async () => {
    await help(2);
    expect(view('101')).toEqual([`talking Talking with ${B}`, 'alerting Asking 102 for help: ringing']);
    await act(() => s.http('POST', '/sim/phones/2002/answer'));
    expect(view('101')).toEqual([`conference Three-party call with ${B} and 102`, 'conference Help call with 102: joined the three-party call']);
    await act(() => s.http('POST', `/sim/phones/${B}/hangup`));
    expect(view('101')).toEqual(['talking Help call with 102']);
    // C is not told that the customer left (no event says so): its desk still shows the three-party call.
    expect(view('102')).toEqual(['conference Help call with 101: joined the three-party call']);
    await act(() => s.http('POST', '/sim/phones/2002/hangup'));
    expect(view('101')).toEqual([]);
    expect(view('102')).toEqual([]);
  });

  it('a help request that fails tells the agent and gives the customer back', async () => {
    await help(1);
    await act(() => s.http('POST', '/sim/phones/2002/reject', { body: {} }));
    expect(view('101')).toEqual([`talking Talking with ${B}`]);
    expect(desks.get('101')?.notice).toMatch(/help request failed/);
    expect(desks.get('101')?.log[0]?.eventType).toBe('AgentEvent_Talking');
  });
});

describe("the agent's state on the desk", () => {
  const state = (): string => {
    const desk = desks.get('101') ?? emptyDesk;
    return describeAgentState(desk.agent ?? null, desk.lines.length > 0);
  };
  const post = async (path: string) => (await s.http('POST', `${BASE}/onlineagent/101/${path}`, { guid: guidA })).body.retcode;

  it('follows the AgentState_* events the service emits, through a call, not ready, rest and back', async () => {
    // Sign-in emits no state event: the desk asks agentstatus (7: on a call, the state under it is kept or ready).
    expect(desks.get('101')?.agent ?? null).toBeNull();
    expect(describeAgentState(fromAgentStatus(null, { agentState: 7, reason: 0 }), true)).toBe('Talking');
    expect(await post('saybusy?reason=201')).toBe('0');
    expect(state()).toBe('Talking (then Not ready (Paperwork))');
    await s.http('POST', `/sim/phones/${B}/hangup`);
    await s.hears(B);
    expect(state()).toBe('Not ready (Paperwork)');
    expect(await post('sayfree')).toBe('0');
    expect(state()).toBe('Ready');
    expect(await post('rest/600/0')).toBe('0');
    const agent = desks.get('101')?.agent;
    expect(agent).toMatchObject({ status: 'rest', reason: 0 });
    expect(agent?.until).toBe((desks.get('101')?.log[0]?.at ?? 0) + 600_000);
    expect(state()).toMatch(/^Rest \(until \d\d:\d\d\)$/);
    expect(await post('cancelrest')).toBe('0');
    expect(state()).toBe('Ready');
    expect(desks.get('101')?.log.slice(0, 2).map((e) => e.eventType)).toEqual(['AgentState_Ready', 'AgentState_CancelRest_Success']);
  });

  it('agentstatus codes: 3 not ready with its reason, 4 ready, 5 wrap-up, 8 rest (keeping a known end)', () => {
    expect(describeAgentState(fromAgentStatus(null, { agentState: 3, reason: 202 }), false)).toBe('Not ready (Training)');
    expect(describeAgentState(fromAgentStatus(null, { agentState: 3, reason: 2 }), false)).toBe('Not ready (did not answer a call)');
    expect(describeAgentState(fromAgentStatus(null, { agentState: 4, reason: 0 }), false)).toBe('Ready');
    expect(describeAgentState(fromAgentStatus(null, { agentState: 5, reason: 0 }), false)).toBe('Wrap-up');
    expect(describeAgentState(fromAgentStatus(null, { agentState: 8, reason: 0 }), false)).toBe('Rest');
    const resting = { status: 'rest', reason: 0, until: 1234 } as const;
    expect(fromAgentStatus(resting, { agentState: 8, reason: 0 })?.until).toBe(1234);
    expect(fromAgentStatus(resting, { agentState: 4, reason: 0 })).toEqual({ status: 'ready', reason: 0, until: null });
  });
});

describe('formatDuration', () => {
  it('minutes and seconds, never negative', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65_400)).toBe('1:05');
    expect(formatDuration(-5)).toBe('0:00');
  });
});

describe('the desk during a blind transfer', () => {
  it('says the transfer is under way, then that it was done, and drops the call line', async () => {
    const r = await s.http('POST', '/sim/phones/2001/transfer', { body: { to: '102' } });
    expect(r.body.result).toMatchObject({ status: 202 });
    await s.hears(B);
    expect(desks.get('101')?.notice).toBe('Your phone is transferring the call to 102.');
    await s.http('POST', '/sim/phones/2002/answer');
    await s.hears(B);
    expect(desks.get('101')?.notice).toBe('The call was transferred.');
    expect(view('101')).toEqual([]);
    expect(view('102')).toEqual([`talking Talking with ${B}`]);
  });

  it('says a failed transfer failed, and shows the customer back on hold', async () => {
    await s.http('POST', '/sim/phones/2001/hold', { body: { held: true } });
    await s.http('POST', '/sim/phones/2001/transfer', { body: { to: '102' } });
    await s.http('POST', '/sim/phones/2002/reject', { body: { status: 486 } });
    await s.hears(B);
    expect(desks.get('101')?.notice).toMatch(/transfer failed \(the target answered 486\)/);
    expect(mainLine(desks.get('101') ?? emptyDesk)?.held).toBe(true);
  });
});

describe("the desk's supervisor notice (when the site tells agents)", () => {
  it('says listening, coaching, joined, and left, from AgentEvent_Supervisor', () => {
    const me = { workNo: '101', phone: '2001' };
    const notices = ['monitor', 'coach', 'barge', 'none'].map(
      (mode) => applyEvent(emptyDesk, { eventType: 'AgentEvent_Supervisor', workNo: '101', eventGenTime: 1, content: { callid: 'c1', mode } }, me).notice,
    );
    expect(notices).toEqual([
      'Supervisor listening to your call (nobody hears them).',
      'Supervisor coaching you: only you hear them, the customer does not.',
      'Supervisor joined your call: the customer hears them too.',
      'The supervisor has left your call.',
    ]);
  });
});
