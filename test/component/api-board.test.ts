/**
 * The views behind the supervisor's wall and the desk's helper picker (GET /agentgroup/{agentid}/agents and
 * /calls), and the simulator's phone list: checked against what the simulated phones really hear.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentView, CallView } from '../../src/api/board.js';
import { BASE, startService, type Service } from './api-harness.js';

const B = '5550100';
let s: Service;
let guidA: string;
let guidS: string;

beforeEach(async () => {
  s = await startService();
  guidA = await s.signIn('101');
  guidS = await s.signInSupervisor('901');
});
afterEach(async () => {
  await s.stop();
});

async function calls(): Promise<CallView[]> {
  await s.hears(B); // lets the orchestrator settle
  const r = await s.http('GET', `${BASE}/agentgroup/901/calls`, { guid: guidS });
  expect(r.body.retcode).toBe('0');
  return (r.body.result as { calls: CallView[] }).calls;
}

async function agents(): Promise<AgentView[]> {
  const r = await s.http('GET', `${BASE}/agentgroup/901/agents`, { guid: guidS });
  expect(r.body.retcode).toBe('0');
  return r.body.result as AgentView[];
}

async function hearsOnBoard(number: string): Promise<readonly string[] | undefined> {
  return (await calls()).flatMap((c) => c.parties).find((p) => p.number === number)?.hears;
}

describe('agentgroup views', () => {
  it("need a current Guid of the supervisor in the path; an agent's Guid gets 403 (000-012)", async () => {
    expect((await s.http('GET', `${BASE}/agentgroup/901/calls`)).body.retcode).toBe('000-003');
    expect((await s.http('GET', `${BASE}/agentgroup/902/agents`)).body.retcode).toBe('100-006');
    const guidC = await s.signIn('102');
    expect((await s.http('GET', `${BASE}/agentgroup/902/agents`, { guid: guidS })).body.retcode).toBe('000-007');
    const denied = await s.http('GET', `${BASE}/agentgroup/102/agents`, { guid: guidC });
    expect([denied.status, denied.body.retcode]).toEqual([403, '000-012']);
    expect((await s.http('GET', `${BASE}/agentgroup/901/agents`, { guid: guidS })).body.retcode).toBe('0');
  });

  it('agents: presence and since when, from sign-in through a call', async () => {
    const before = await agents();
    expect(before.map((a) => [a.workNo, a.presence])).toEqual([
      ['101', 'idle'],
      ['102', 'signed-out'],
      ['103', 'signed-out'],
    ]);
    expect(before[0]?.since).toEqual(expect.any(Number));
    expect(before[1]?.since).toBeNull();
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
    await s.hears(B);
    const ringing = await agents();
    expect(ringing[0]?.presence).toBe('busy');
    expect(ringing[0]?.since).toBeGreaterThanOrEqual(before[0]?.since ?? Infinity);
  });

  it("agents: each signed-in agent's state (ready, not-ready, rest), its reason and since when", async () => {
    const before = await agents();
    expect(before.map((a) => [a.workNo, a.state, a.reason])).toEqual([
      ['101', 'ready', 0],
      ['102', null, null],
      ['103', null, null],
    ]);
    expect(before[0]?.stateSince).toEqual(expect.any(Number));
    expect(before[1]?.stateSince).toBeNull();

    expect((await s.http('POST', `${BASE}/onlineagent/101/saybusy?reason=201`, { guid: guidA })).body.retcode).toBe('0');
    const notReady = (await agents())[0];
    expect(notReady).toMatchObject({ presence: 'idle', state: 'not-ready', reason: 201 });
    expect(notReady?.stateSince).toBeGreaterThanOrEqual(before[0]?.stateSince ?? Infinity);

    expect((await s.http('POST', `${BASE}/onlineagent/101/sayfree`, { guid: guidA })).body.retcode).toBe('0');
    expect((await s.http('POST', `${BASE}/onlineagent/101/rest/600/3`, { guid: guidA })).body.retcode).toBe('0');
    const resting = (await agents())[0];
    expect(resting).toMatchObject({ state: 'rest', reason: 3 });
    expect(resting?.stateSince).toBeGreaterThanOrEqual(notReady?.stateSince ?? Infinity);

    await s.http('DELETE', `${BASE}/onlineagent/101/logout`, { guid: guidA });
    await s.signIn('102');
    const after = await agents();
    expect(after.map((a) => [a.workNo, a.presence, a.state, a.stateSince === null])).toEqual([
      ['101', 'signed-out', null, true],
      ['102', 'idle', 'ready', false],
      ['103', 'signed-out', null, true],
    ]);
  });

  it('calls: parties and who hears whom, the same as the simulated phones, through two- and three-party help', async () => {
    expect(await calls()).toEqual([]);
    await s.signIn('102');
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
    expect(await calls()).toMatchObject([{ kind: 'customer', called: '4000', phase: 'offering', help: null, parties: [{ number: B, hears: ['ringback'] }, { number: '2001', status: 'ringing', hears: [] }] }]);
    await s.http('POST', '/sim/phones/2001/answer');
    expect(await hearsOnBoard(B)).toEqual(['2001']);

    const help = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', mode: 1 } });
    await s.http('POST', '/sim/phones/2002/answer');
    const [call] = await calls();
    expect(call).toMatchObject({ phase: 'help', help: { callid: help.body.result, mode: 1, stage: 'talking', helper: '102' } });
    for (const number of [B, '2001', '2002']) expect(await hearsOnBoard(number)).toEqual(await s.hears(number));

    await s.http('POST', `${BASE}/voicecall/101/confjoin`, { guid: guidA, body: { callid: call?.callid } });
    expect((await calls())[0]?.help?.stage).toBe('conference');
    for (const number of [B, '2001', '2002']) expect(await hearsOnBoard(number)).toEqual(await s.hears(number));
    expect(await hearsOnBoard(B)).toEqual(['2001', '2002']);

    await s.http('POST', `/sim/phones/${B}/hangup`);
    expect(await calls()).toMatchObject([{ kind: 'internal', phase: 'connected', parties: [{ number: '2001', hears: ['2002'] }, { number: '2002', hears: ['2001'] }] }]);
    await s.http('POST', '/sim/phones/2002/hangup');
    expect(await calls()).toEqual([]);
  });

  it('a held customer hears music and the agent nothing', async () => {
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
    await s.http('POST', '/sim/phones/2001/answer');
    await s.http('POST', `${BASE}/voicecall/101/hold`, { guid: guidA });
    expect(await calls()).toMatchObject([{ phase: 'connected', held: true, parties: [{ number: B, hears: ['moh'] }, { number: '2001', hears: [] }] }]);
  });
});

describe('GET /sim/phones', () => {
  it("lists every agent's phone and every phone that had a call, and the DIDs", async () => {
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
    await s.hears(B);
    const r = await s.http('GET', '/sim/phones');
    expect(r.body.result).toEqual({
      phones: [
        { number: '2001', agent: '101', state: 'ringing', hears: [] },
        { number: '2002', agent: '102', state: 'idle', hears: [] },
        { number: '2003', agent: '103', state: 'idle', hears: [] },
        { number: B, agent: null, state: 'talking', hears: ['ringback'] },
      ],
      dids: [
        { did: '4000', to: 'agent 101' },
        { did: '4001', to: 'skill support' },
      ],
    });
  });
});
