/**
 * Roles (issue 20): an agent sees its own calls only; group views, other agents' states and customers' numbers go
 * to the supervisors of those agents; everything else is 403 with a retcode; supervisor actions are audited.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentView, CallView } from '../../src/api/board.js';
import type { WallFigures } from '../../src/api/wall-figures.js';
import { until } from '../support/until.js';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

const B = '5550100';
let s: Service | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

describe('agents: their own calls and nothing of the others', () => {
  it("an agent's Guid gets 403 (000-012) on every group view: agents, calls, queues, the wall's stream", async () => {
    s = await startService();
    const guid = await s.signIn('102');
    await s.signIn('101');
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
    for (const view of ['agents', 'calls', 'queues']) {
      for (const id of ['102', '101', '901']) {
        const r = await s.http('GET', `${BASE}/agentgroup/${id}/${view}`, { guid });
        expect([view, id, r.status, r.body.retcode]).toEqual([view, id, 403, '000-012']);
        expect(JSON.stringify(r.body)).not.toContain(B);
      }
    }
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}${BASE}/agentgroup/102/stream?guid=${guid}`);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_q, response) => resolve(response.statusCode ?? 0)));
    expect(status).toBe(403);
    ws.on('error', () => undefined);
    ws.terminate();
  });

  it("another agent's state and calls: 403 (000-007)", async () => {
    s = await startService();
    const guid = await s.signIn('102');
    await s.signIn('101');
    for (const [method, path] of [
      ['GET', '/onlineagent/101/agentstatus'],
      ['GET', '/agentevent/101'],
      ['POST', '/voicecall/101/hold'],
    ] as const) {
      const r = await s.http(method, `${BASE}${path}`, { guid });
      expect([path, r.status, r.body.retcode]).toEqual([path, 403, '000-007']);
    }
  });

  it("the helper picker's view: work numbers, skills and free or not; no phones, states or reasons", async () => {
    s = await startService();
    const guid = await s.signIn('101');
    await s.signIn('102');
    await s.http('POST', `${BASE}/onlineagent/102/saybusy?reason=201`, { guid: await s.signIn('103') }).catch(() => undefined);
    const r = await s.http('GET', `${BASE}/agentgroup/101/helpers`, { guid });
    expect(r.body.result).toEqual([
      { workNo: '102', skills: ['support'], free: true },
      { workNo: '103', skills: ['support', 'billing'], free: true },
    ]);
    expect(JSON.stringify(r.body)).not.toMatch(/200[0-9]|state|reason|since/);
  });
});

describe('supervisors', () => {
  it('sign in on their own path, not as agents: a supervisor Guid is not an agent session, an agent password is not a supervisor', async () => {
    s = await startService();
    const guid = await s.signInSupervisor('901');
    expect((await s.http('PUT', `${BASE}/onlinesupervisor/901`, { body: { password: 'pw101' } })).body.retcode).toBe('100-001');
    expect((await s.http('PUT', `${BASE}/onlinesupervisor/101`, { body: { password: 'pw101' } })).body.retcode).toBe('100-001');
    expect((await s.http('PUT', `${BASE}/onlineagent/901`, { body: { password: 'pw901' } })).body.retcode).toBe('100-001');
    expect((await s.http('PUT', `${BASE}/onlinesupervisor/901`, { body: { password: 'pw901' } })).body.retcode).toBe('100-002');
    await s.signIn('101');
    const r = await s.http('POST', `${BASE}/voicecall/101/hold`, { guid });
    expect([r.status, r.body.retcode]).toEqual([403, '000-007']);
    expect((await s.http('DELETE', `${BASE}/onlinesupervisor/901/logout`, { guid })).body.retcode).toBe('0');
    expect((await s.http('GET', `${BASE}/agentgroup/901/agents`, { guid })).body.retcode).toBe('100-006');
  });

  it('see only the agents they supervise and their calls, customer numbers included', async () => {
    s = await startService();
    const support = await s.signInSupervisor('901');
    const billing = await s.signInSupervisor('902');
    await s.signIn('101');
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
    await s.hears(B);
    const agents = async (id: string, guid: string) => ((await s!.http('GET', `${BASE}/agentgroup/${id}/agents`, { guid })).body.result as AgentView[]).map((a) => a.workNo);
    const calls = async (id: string, guid: string) => ((await s!.http('GET', `${BASE}/agentgroup/${id}/calls`, { guid })).body.result as { calls: CallView[] }).calls;
    expect(await agents('901', support)).toEqual(['101', '102', '103']);
    expect(await agents('902', billing)).toEqual(['103']);
    expect((await calls('901', support)).flatMap((c) => c.parties.map((p) => p.number))).toContain(B);
    expect(await calls('902', billing)).toEqual([]);
  });

  it('queue figures: calls waiting per skill, the longest wait, agents by state, the service level', async () => {
    s = await startService();
    const guid = await s.signInSupervisor('901');
    // Nobody signed in: two customers wait in the support queue.
    await s.http('POST', '/sim/calls', { body: { from: '5550101', to: '4001' } });
    await s.http('POST', '/sim/calls', { body: { from: '5550102', to: '4001' } });
    const figures = async () => (await s!.http('GET', `${BASE}/agentgroup/901/queues`, { guid })).body.result as WallFigures;
    await until(async () => (await figures()).queues.find((q) => q.skill === 'support')?.waiting === 2, 'two waiting');
    const waiting = await figures();
    // 901 supervises the support skill, so every agent, and sees their skills' queues (103's billing too).
    expect(waiting.queues.map((q) => q.skill)).toEqual(['billing', 'support']);
    expect(waiting.queues[1]).toMatchObject({ skill: 'support', waiting: 2, serviceLevel15: null });
    expect(waiting.serviceLevelSeconds).toBe(20);
    // An agent signs in and answers one: answered within 20 s, the service level is 100 %.
    const agent = await s.signIn('102');
    await until(async () => (await s!.phoneState('2002')) === 'ringing', '2002 rings');
    await s.http('POST', '/sim/phones/2002/answer');
    await until(async () => (await figures()).queues[1]?.waiting === 1, 'one left waiting');
    const after = await figures();
    expect(after.queues[1]).toMatchObject({ skill: 'support', waiting: 1, serviceLevel15: 100, serviceLevel60: 100, answered60: 1 });
    expect(after.agents).toEqual({ onCall: 1, ready: 0, notReady: 0, rest: 0, wrapUp: 0 });
    expect(agent).toBeTruthy();
  });

  it("the wall's stream pushes a change when the calls change, and is closed with 4001 at sign-out", async () => {
    s = await startService();
    const guid = await s.signInSupervisor('901');
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}${BASE}/agentgroup/901/stream?guid=${guid}`);
    const messages: string[] = [];
    ws.on('message', (data: Buffer) => messages.push(data.toString()));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.on('open', resolve));
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4001' } });
    await until(() => messages.some((m) => m.includes('Supervisor_BoardChanged')), 'a board change pushed');
    await s.http('DELETE', `${BASE}/onlinesupervisor/901/logout`, { guid });
    expect(await closed).toBe(4001);
  });

  it('every supervisor action is in the audit log: who, what, which calls, when', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    s = await startService(testConfig(), {}, {}, {}, pino({ level: 'info' }, sink));
    const guid = await s.signInSupervisor('901');
    await s.signIn('101');
    await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } });
    await s.hears(B);
    const calls = (await s.http('GET', `${BASE}/agentgroup/901/calls`, { guid })).body.result as { calls: CallView[] };
    await s.http('DELETE', `${BASE}/onlinesupervisor/901/logout`, { guid });
    await s.http('PUT', `${BASE}/onlinesupervisor/902`, { body: { password: 'nope' } });
    const audit = lines.filter((l) => l.component === 'audit');
    expect(audit.map((l) => [l.who, l.action])).toEqual([
      ['901', 'sign-in'],
      ['901', 'read-calls'],
      ['901', 'sign-out'],
      ['902', 'sign-in-refused'],
    ]);
    expect(audit[1]).toMatchObject({ callids: [calls.calls[0]?.callid] });
    for (const l of audit) expect(l.at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
