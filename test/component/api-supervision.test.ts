/**
 * A supervisor on a live call (issue 20), through the API on the simulator: who hears whom in monitor, coach and
 * barge (GET of the simulated phones), switching without ringing the supervisor's phone again, leaving without
 * disturbing the call, the call's end hanging the supervisor up, help in progress, and the refusals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

const B = '5550100';
const SUP = '2901';
let s: Service;
let guidA: string;
let guidSup: string;

const config = (tell = false) =>
  testConfig({
    supervisors: [
      { id: '901', password: 'pw901', skills: ['support'], groups: [], phone: SUP },
      { id: '902', password: 'pw902', skills: ['billing'], groups: [] },
      { id: '903', password: 'pw903', skills: ['support'], groups: [] },
    ],
    wall: { serviceLevelSeconds: 20, tellAgentWhenSupervised: tell },
  });

async function quiet(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await s.orchestrator.settle();
    await s.parts.supervision.settle();
  }
}

async function hears(number: string): Promise<string[]> {
  await quiet();
  return s.sim.phone(number).hears;
}

/** Who hears whom among B (customer), A (2001) and the supervisor. */
async function picture(): Promise<Record<string, string[]>> {
  return { B: await hears(B), A: await hears('2001'), sup: await hears(SUP) };
}

async function callId(): Promise<string> {
  const call = s.orchestrator.callStates()[0];
  if (!call) throw new Error('no call');
  return call.callId;
}

async function talking(tell = false): Promise<void> {
  s = await startService(config(tell));
  guidA = await s.signIn('101');
  await s.signIn('102');
  guidSup = await s.signInSupervisor('901');
  expect((await s.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
  await s.waitForEvent('101', guidA, 'AgentEvent_Ringing');
  expect((await s.http('PUT', `${BASE}/voicecall/101/answer`, { guid: guidA })).body.retcode).toBe('0');
  await s.waitForEvent('101', guidA, 'AgentEvent_Talking');
  expect(await hears(B)).toEqual(['2001']);
}

const supervise = async (mode: string, id = '901', guid = guidSup) => (await s.http('PUT', `${BASE}/supervisor/${id}/monitor/${await callId()}`, { guid, body: { mode } })).body;

async function joined(mode: string): Promise<void> {
  expect((await supervise(mode)).retcode).toBe('0');
  await quiet();
  expect(s.sim.phone(SUP).state).toBe('ringing');
  expect((await s.http('POST', `/sim/phones/${SUP}/answer`)).body.retcode).toBe('0');
}

afterEach(async () => {
  await s.stop();
});

describe('a supervisor on a live call, by ear (simulator)', () => {
  it('monitor: the supervisor hears A and B; neither hears the supervisor', async () => {
    await talking();
    // The supervisor's phone is dialled with the call's id: the media-server pool places its channel on the call's server.
    const dials: { legId: string; callId: string; number: string }[] = [];
    const dial = s.sim.signalling.dial.bind(s.sim.signalling);
    (s.sim.signalling as { dial: typeof dial }).dial = (request) => {
      dials.push({ legId: request.legId, callId: request.callId, number: request.number });
      dial(request);
    };
    await joined('monitor');
    const id = await callId();
    expect(dials.filter((d) => d.number === SUP).map((d) => d.callId)).toEqual([id]);
    expect(s.parts.supervision.callOfLeg(dials.find((d) => d.number === SUP)?.legId ?? '')).toBe(id);
    expect(await picture()).toEqual({ B: ['2001'], A: [B], sup: ['2001', B] });
  });

  it('coach: only the agent hears the supervisor', async () => {
    await talking();
    await joined('coach');
    expect(await picture()).toEqual({ B: ['2001'], A: [SUP, B].sort(), sup: ['2001', B] });
  });

  it('barge: all three hear each other', async () => {
    await talking();
    await joined('barge');
    expect(await picture()).toEqual({ B: ['2001', SUP].sort(), A: [SUP, B].sort(), sup: ['2001', B] });
  });

  it('switching monitor -> coach -> barge -> monitor changes who hears the supervisor, without ringing its phone again', async () => {
    await talking();
    await joined('monitor');
    const dialled = new Set(s.sim.phones() ? Object.keys(s.sim.phones()) : []);
    const legBefore = s.sim.legOf(SUP);
    expect((await supervise('coach')).retcode).toBe('0');
    expect(await picture()).toEqual({ B: ['2001'], A: [SUP, B].sort(), sup: ['2001', B] });
    expect((await supervise('barge')).retcode).toBe('0');
    expect(await picture()).toEqual({ B: ['2001', SUP].sort(), A: [SUP, B].sort(), sup: ['2001', B] });
    expect((await supervise('monitor')).retcode).toBe('0');
    expect(await picture()).toEqual({ B: ['2001'], A: [B], sup: ['2001', B] });
    expect(s.sim.legOf(SUP)).toBe(legBefore);
    expect(Object.keys(s.sim.phones()).sort()).toEqual([...dialled].sort());
    const view = await s.http('GET', `${BASE}/supervisor/901/monitor/${await callId()}`, { guid: guidSup });
    expect(view.body.result).toEqual({ supervisorId: '901', mode: 'monitor', stage: 'joined' });
  });

  it('a switch while the phone rings counts: it joins in the mode asked last', async () => {
    await talking();
    expect((await supervise('monitor')).retcode).toBe('0');
    expect((await supervise('barge')).retcode).toBe('0');
    expect(await hears(B)).toEqual(['2001']);
    await s.http('POST', `/sim/phones/${SUP}/answer`);
    expect(await picture()).toEqual({ B: ['2001', SUP].sort(), A: [SUP, B].sort(), sup: ['2001', B] });
  });

  it('leaving (DELETE) hangs up the supervisor only: A and B go on talking', async () => {
    await talking();
    await joined('barge');
    const id = await callId();
    expect((await s.http('DELETE', `${BASE}/supervisor/901/monitor/${id}`, { guid: guidSup })).body.retcode).toBe('0');
    expect(s.sim.phone(SUP).state).toBe('idle');
    expect(await picture()).toEqual({ B: ['2001'], A: [B], sup: [] });
    expect(s.orchestrator.callStates()[0]?.phase.name).toBe('connected');
    // And once more: not supervising any more.
    expect((await s.http('DELETE', `${BASE}/supervisor/901/monitor/${id}`, { guid: guidSup })).body.retcode).toBe('200-053');
  });

  it("the supervisor's phone hanging up leaves the call as it was", async () => {
    await talking();
    await joined('coach');
    await s.http('POST', `/sim/phones/${SUP}/hangup`);
    expect(await picture()).toEqual({ B: ['2001'], A: [B], sup: [] });
    expect((await s.http('GET', `${BASE}/supervisor/901/monitor/${await callId()}`, { guid: guidSup })).body.result).toBeNull();
  });

  it('the call ending hangs the supervisor up', async () => {
    await talking();
    await joined('monitor');
    await s.http('POST', `/sim/phones/${B}/hangup`);
    await quiet();
    expect(s.sim.phone(SUP).state).toBe('idle');
    expect(s.orchestrator.callStates()).toEqual([]);
  });

  it('hold and back during monitor: the supervisor hears them again after the hold', async () => {
    await talking();
    await joined('coach');
    expect((await s.http('POST', `${BASE}/voicecall/101/hold`, { guid: guidA })).body.retcode).toBe('0');
    expect(await hears(B)).toEqual(['moh']);
    expect((await s.http('POST', `${BASE}/voicecall/101/gethold`, { guid: guidA })).body.retcode).toBe('0');
    expect(await picture()).toEqual({ B: ['2001'], A: [SUP, B].sort(), sup: ['2001', B] });
  });

  it('during three-party help: coach is heard by A and C, not by B', async () => {
    await talking();
    await joined('coach');
    expect((await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dsttype: 2, dstaddress: '102', mode: 2 } })).body.retcode).toBe('0');
    await s.http('POST', '/sim/phones/2002/answer');
    expect(await hears(B)).toEqual(['2001', '2002']);
    expect(await hears('2001')).toEqual(['2002', SUP, B].sort());
    expect(await hears('2002')).toEqual(['2001', SUP, B].sort());
    expect(await hears(SUP)).toEqual(['2001', '2002', B].sort());
  });

  it("the desk is told when configured (AgentEvent_Supervisor with the mode, 'none' on leaving)", async () => {
    await talking(true);
    await joined('monitor');
    const event = await s.waitForEvent('101', guidA, 'AgentEvent_Supervisor');
    expect(event.content).toEqual({ callid: await callId(), mode: 'monitor' });
    await s.http('DELETE', `${BASE}/supervisor/901/monitor/${await callId()}`, { guid: guidSup });
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_Supervisor')).content).toEqual({ callid: await callId(), mode: 'none' });
  });

  it('refusals: not their agent (403), an agent Guid (403), unknown call, a second supervisor, bad mode, no phone', async () => {
    await talking();
    const guid902 = await s.signInSupervisor('902');
    const id = await callId();
    let r = await s.http('PUT', `${BASE}/supervisor/902/monitor/${id}`, { guid: guid902, body: { mode: 'monitor', phone: '2902' } });
    expect([r.status, r.body.retcode]).toEqual([403, '000-012']);
    r = await s.http('PUT', `${BASE}/supervisor/901/monitor/${id}`, { guid: guidA, body: { mode: 'monitor' } });
    expect([r.status, r.body.retcode]).toEqual([403, '000-012']);
    r = await s.http('PUT', `${BASE}/supervisor/901/monitor/nosuchcall`, { guid: guidSup, body: { mode: 'monitor' } });
    expect(r.body.retcode).toBe('200-050');
    r = await s.http('PUT', `${BASE}/supervisor/901/monitor/${id}`, { guid: guidSup, body: { mode: 'shout' } });
    expect([r.status, r.body.retcode]).toEqual([400, '000-002']);
    expect(s.sim.phone(SUP).state).toBe('idle');
    const guid903 = await s.signInSupervisor('903');
    r = await s.http('PUT', `${BASE}/supervisor/903/monitor/${id}`, { guid: guid903, body: { mode: 'monitor' } });
    expect(r.body.retcode).toBe('200-055');
    await joined('monitor');
    r = await s.http('PUT', `${BASE}/supervisor/903/monitor/${id}`, { guid: guid903, body: { mode: 'barge', phone: '2903' } });
    expect(r.body.retcode).toBe('200-052');
    expect(s.sim.phone('2903').state).toBe('idle');
    expect(await hears(B)).toEqual(['2001']);
  });
});
