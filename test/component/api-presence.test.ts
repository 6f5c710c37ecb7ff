/**
 * Agent states over HTTP, on the vendor's paths: saybusy / sayfree / cancelbusy / rest / cancelrest / agentstatus,
 * the AgentState_* events on the long poll and the WebSocket, the retcodes, and wrap-up running out (manual timers).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ManualTimers } from '../support/sim-world.js';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

let s: Service;
afterEach(async () => {
  await s.stop();
});

const post = (path: string, guid: string) => s.http('POST', `${BASE}${path}`, { guid });
const status = async (workNo: string, guid: string) => (await s.http('GET', `${BASE}/onlineagent/${workNo}/agentstatus`, { guid })).body.result;

describe('agent states through the API', () => {
  it('saybusy with a reason, then sayfree: state, events with the vendor names, and agentstatus', async () => {
    s = await startService();
    const guid = await s.signIn('101');
    expect(await status('101', guid)).toEqual({ agentState: 4, isWorking: false, status: 'ready', reason: 0 });
    expect((await post('/onlineagent/101/saybusy?reason=205', guid)).body).toMatchObject({ retcode: '0' });
    expect((await s.waitForEvent('101', guid, 'AgentState_SetNotReady_Success')).content).toEqual({ reason: 205 });
    expect(await status('101', guid)).toMatchObject({ agentState: 3, status: 'not-ready', reason: 205 });
    // A customer for 101 waits with music while 101 is not ready.
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    expect(await s.phoneState('2001')).toBe('idle');
    expect((await post('/onlineagent/101/sayfree', guid)).body.retcode).toBe('0');
    await s.waitForEvent('101', guid, 'AgentState_CancelNotReady_Success');
    await s.waitForEvent('101', guid, 'AgentState_Ready');
    expect(await s.phoneState('2001')).toBe('ringing');
  });

  it('rest and cancelrest; refusals carry their own retcodes', async () => {
    s = await startService();
    const guid = await s.signIn('101');
    expect((await post('/onlineagent/101/cancelrest', guid)).body).toMatchObject({ retcode: '100-021', message: 'the agent is not resting' });
    expect((await post('/onlineagent/101/cancelbusy', guid)).body).toMatchObject({ retcode: '100-020' });
    expect((await post('/onlineagent/101/rest/600/3', guid)).body.retcode).toBe('0');
    expect((await s.waitForEvent('101', guid, 'AgentState_SetRest_Success')).content).toEqual({ reason: 3, time: 600 });
    expect(await status('101', guid)).toMatchObject({ agentState: 8, status: 'rest', reason: 3 });
    expect((await post('/onlineagent/101/cancelrest', guid)).body.retcode).toBe('0');
    await s.waitForEvent('101', guid, 'AgentState_CancelRest_Success');
    expect(await status('101', guid)).toMatchObject({ agentState: 4 });
  });

  it('bad values are refused as bad parameters; another agent’s session cannot change my state', async () => {
    s = await startService();
    const guid = await s.signIn('101');
    const guidC = await s.signIn('102');
    for (const path of ['/onlineagent/101/saybusy?reason=199', '/onlineagent/101/saybusy?reason=abc', '/onlineagent/101/rest/0/1', '/onlineagent/101/rest/86400/1', '/onlineagent/101/rest/60/256']) {
      const r = await post(path, guid);
      expect({ path, status: r.status, retcode: r.body.retcode }).toEqual({ path, status: 400, retcode: '000-002' });
    }
    expect((await post('/onlineagent/101/saybusy', guidC)).body.retcode).toBe('000-007');
    expect((await post('/onlineagent/103/sayfree', guidC)).body.retcode).toBe('000-007');
    expect(await status('101', guid)).toMatchObject({ status: 'ready' });
  });

  it('agents start not ready when the configuration says so', async () => {
    s = await startService(testConfig({ presence: { initialState: 'not-ready', wrapUpSeconds: 0 } }));
    const guid = await s.signIn('101');
    expect(await status('101', guid)).toMatchObject({ agentState: 3, status: 'not-ready' });
  });

  it('help by agent id to a not-ready agent is refused with 200-022', async () => {
    s = await startService();
    const guidA = await s.signIn('101');
    const guidC = await s.signIn('102');
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    await s.waitForEvent('101', guidA, 'AgentEvent_Ringing');
    await s.http('PUT', `${BASE}/voicecall/101/answer`, { guid: guidA });
    await s.waitForEvent('101', guidA, 'AgentEvent_Talking');
    await post('/onlineagent/102/saybusy', guidC);
    const r = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', devicetype: 2, mode: 1 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ retcode: '200-022', message: 'the helper is not ready (not ready, resting or in wrap-up)' });
    expect(await s.phoneState('2002')).toBe('idle');
  });

  it('wrap-up after a customer call ends when its time runs out; the WebSocket gets the events', async () => {
    const timers = new ManualTimers();
    s = await startService(testConfig({ presence: { initialState: 'ready', wrapUpSeconds: 45 } }), {}, { timers });
    const guid = await s.signIn('101');
    const socket = new WebSocket(`${s.url.replace('http', 'ws')}${BASE}/agentevent/101/stream?guid=${guid}`);
    const received: string[] = [];
    socket.on('message', (data: Buffer) => received.push((JSON.parse(data.toString()) as { event: { eventType: string } }).event.eventType));
    await new Promise((resolve) => socket.once('open', resolve));
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    await s.phoneState('2001');
    await s.http('PUT', `${BASE}/voicecall/101/answer`, { guid });
    await s.phoneState('2001');
    await s.http('POST', '/sim/phones/5550100/hangup');
    await s.phoneState('2001');
    expect(await status('101', guid)).toMatchObject({ agentState: 5, status: 'wrap-up', isWorking: false });
    // Only the wrap-up timer (45 s) is fired, by hand.
    expect(timers.fireSetFor(45)).toBe(1);
    expect(await status('101', guid)).toMatchObject({ agentState: 4, status: 'ready' });
    await s.phoneState('2001');
    socket.close();
    expect(received).toEqual(expect.arrayContaining(['AgentEvent_Talking', 'AgentEvent_Call_Release', 'AgentState_Work', 'AgentState_Ready']));
    expect(received.indexOf('AgentState_Work')).toBeLessThan(received.indexOf('AgentState_Ready'));
  });
});
