/**
 * Two instances on one shared store (issue 17), each with its own simulated telephony: a desk served by one while
 * its call is handled by the other, events resumed after a reconnect to the other instance, calls routed to agents
 * signed in elsewhere, one agent never rung by two instances' calls at once, and one instance killed without
 * warning: the other ends its calls (its phones hear BYE) within the heartbeat's expiry, and the agents stay
 * signed in. Run on the in-memory store (instances.test.ts) and on a real redis-server (instances-redis.test.ts).
 */
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StateStore } from '../../src/ports/state-store.js';
import { stopGracefully } from '../../src/shutdown.js';
import pino from 'pino';
import { until } from '../support/until.js';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

const B = '5550100';
const B2 = '5550101';
const HEARTBEAT = { everyMs: 100, ttlMs: 400 };

/** `makeStores`: a fresh store as each of the two instances reaches it (one object, or two connections to one server). */
export function instanceTests(makeStores: () => Promise<[StateStore, StateStore]>): void {
  let one: Service;
  let two: Service;
  const running: Service[] = [];

  async function twoInstances(config = testConfig()): Promise<void> {
    const [store, second] = await makeStores();
    one = await startService(config, {}, {}, { store, instanceId: 'one', heartbeat: HEARTBEAT });
    two = await startService(config, {}, {}, { store: second, instanceId: 'two', heartbeat: HEARTBEAT });
    running.push(one, two);
  }

  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop().catch(() => undefined);
  });

  /** Polls `via` until the agent's event of that type comes (other events skipped). */
  async function eventVia(via: Service, workNo: string, guid: string, eventType: string): Promise<{ eventType: string; content: unknown; eventId: string }> {
    for (let i = 0; i < 60; i++) {
      const event = (await via.http('GET', `${BASE}/agentevent/${workNo}`, { guid })).body.event as { eventType: string; content: unknown; eventId: string } | null;
      if (event?.eventType === eventType) return event;
    }
    throw new Error(`no ${eventType} for ${workNo} via ${via.url}`);
  }

  it('a desk on one instance follows and drives a call handled by the other', async () => {
    await twoInstances();
    // Signed in through one, polled and driven through two.
    const guidA = await one.signIn('101');
    const guidC = await one.signIn('102');
    await until(() => two.parts.directory.isSignedIn('101') && two.parts.directory.isSignedIn('102'), 'sign-ins replicated');
    // The customer's call reaches instance one (drachtio spreads INVITEs over the instances).
    expect((await one.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
    await eventVia(two, '101', guidA, 'AgentEvent_Ringing');
    one.sim.answer('2001');
    await eventVia(two, '101', guidA, 'AgentEvent_Talking');
    // The event comes through the store's stream, the directory's replica through a broadcast: both get there.
    await until(() => two.parts.directory.isBusy('101'), 'two sees 101 busy');
    // The wall served by two shows the call one holds.
    const board = await two.http('GET', `${BASE}/agentgroup/901/calls`, { guid: await two.signInSupervisor('901') });
    const calls = (board.body.result as { calls: unknown[] }).calls;
    expect(calls).toHaveLength(1);
    expect(JSON.stringify(calls)).toContain(B);
    // innerhelp asked of instance two: carried out by one, which holds the call.
    const help = await two.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', devicetype: 2, mode: 1 } });
    expect(help.body.retcode).toBe('0');
    await eventVia(two, '102', guidC, 'AgentEvent_Ringing');
    expect(await one.hears(B)).toEqual(['moh']);
    one.sim.answer('2002');
    await eventVia(two, '101', guidA, 'AgentEvent_Talking');
    expect(await one.hears('2001')).toEqual(['2002']);
    // A drops the helper, through two again.
    const drop = await two.http('POST', `${BASE}/voicecall/101/dropcall/${String(help.body.result)}`, { guid: guidA });
    expect(drop.body.retcode).toBe('0');
    await until(async () => (await one.hears('2001')).join() === B, 'A and B talk again');
  });

  it('a call arriving at one instance is offered to an agent signed in through the other', async () => {
    await twoInstances();
    const guidA = await two.signIn('101');
    await until(() => one.parts.directory.isSignedIn('101'), 'sign-in replicated');
    expect((await one.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
    await until(async () => (await one.phoneState('2001')) === 'ringing', "A's phone rings (instance one)");
    await eventVia(two, '101', guidA, 'AgentEvent_Ringing');
  });

  it('one agent is never rung by two instances at once: the later call goes to the next agent', async () => {
    await twoInstances();
    await one.signIn('101');
    await one.signIn('102');
    await until(() => two.parts.directory.isSignedIn('101') && two.parts.directory.isSignedIn('102'), 'sign-ins replicated');
    // Both customers call the skill at the same moment, one at each instance; both instances see 101 and 102 free.
    const [first, second] = await Promise.all([
      one.http('POST', '/sim/calls', { body: { from: B, to: '4001' } }),
      two.http('POST', '/sim/calls', { body: { from: B2, to: '4001' } }),
    ]);
    expect([first.body.retcode, second.body.retcode]).toEqual(['0', '0']);
    await until(async () => {
      const rung = [await one.phoneState('2001'), await one.phoneState('2002'), await two.phoneState('2001'), await two.phoneState('2002')];
      return rung.filter((state) => state === 'ringing').length === 2;
    }, 'two phones ringing');
    // Each agent's phone rings for one call only, whichever instance rings it.
    for (const phone of ['2001', '2002']) {
      const states = [await one.phoneState(phone), await two.phoneState(phone)];
      expect(states.filter((state) => state === 'ringing')).toHaveLength(1);
    }
  });

  it('a desk that reconnects to the other instance resumes after the last event it saw', async () => {
    await twoInstances();
    const guidA = await one.signIn('101');
    expect((await one.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
    const ringing = await eventVia(one, '101', guidA, 'AgentEvent_Ringing');
    // The desk's connection dies here; meanwhile the agent answers on the phone.
    one.sim.answer('2001');
    await until(() => one.parts.directory.isBusy('101') && one.orchestrator.callSnapshots()[0]?.state.phase.name === 'connected', 'connected');
    // It reconnects to instance two by WebSocket, after the last event it saw.
    const received: string[] = [];
    const socket = new WebSocket(`${two.url.replace('http', 'ws')}${BASE}/agentevent/101/stream?guid=${guidA}&after=${ringing.eventId}`);
    socket.on('message', (data: Buffer) => received.push((JSON.parse(data.toString()) as { event: { eventType: string } }).event.eventType));
    await until(() => received.includes('AgentEvent_Talking'), 'Talking replayed on the new connection');
    expect(received).not.toContain('AgentEvent_Ringing');
    socket.close();
  });

  it('one instance drains: its call goes on, new calls and desks go to the other, it leaves when its call ends', async () => {
    await twoInstances();
    const guidA = await one.signIn('101');
    await one.signIn('102');
    expect((await one.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
    await until(async () => (await one.phoneState('2001')) === 'ringing', 'A rings');
    one.sim.answer('2001');
    await until(async () => (await one.hears(B)).join() === '2001', 'A and B talk');
    const closes: number[] = [];
    const socket = new WebSocket(`${one.url.replace('http', 'ws')}${BASE}/agentevent/101/stream?guid=${guidA}`);
    socket.on('close', (code: number) => closes.push(code));
    await new Promise((resolve) => socket.on('open', resolve));

    const stopping = stopGracefully(
      { http: one.app, calls: one.orchestrator, signalling: one.sim.signalling, cluster: one.parts.cluster },
      { timeoutMs: 60_000, idleTimeoutMs: 1000, callsGraceMs: 50_000, retryAfterSeconds: 5, logger: pino({ level: 'silent' }), checkEveryMs: 10 },
    );
    // The desk is told to go elsewhere; the load balancer sees the drain.
    await until(() => closes.includes(1012), 'WebSocket closed with 1012');
    expect((await one.http('GET', '/health')).status).toBe(503);
    // A new call at the draining instance is refused (drachtio would not even send it); the other takes calls.
    expect((await one.sim.placeCustomerCall(B2, '4001')).ok).toBe(false);
    // The call in progress goes on, and the agent drives it through the other instance.
    const hold = await two.http('POST', `${BASE}/voicecall/101/hold`, { guid: guidA });
    expect(hold.body.retcode).toBe('0');
    await until(async () => (await one.hears(B)).join() === 'moh', 'B on hold');
    // The call ends: the instance leaves, its agents still signed in.
    one.sim.hangup(B);
    const report = await stopping;
    expect(report).toMatchObject({ callsAtSignal: 1, callsHungUp: 0, completed: true });
    expect((await two.parts.store.liveInstances()).map((i) => i.instanceId)).toEqual(['two']);
    expect(two.parts.directory.isSignedIn('101')).toBe(true);
    await eventVia(two, '101', guidA, 'AgentEvent_Call_Release');
  });

  it('one instance killed mid-help: the other ends its call (BYE to every phone) and frees the agents, who stay signed in', async () => {
    await twoInstances();
    const guidA = await one.signIn('101');
    const guidC = await one.signIn('102');
    expect((await one.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
    await until(async () => (await one.phoneState('2001')) === 'ringing', 'A rings');
    one.sim.answer('2001');
    await until(() => one.parts.directory.isBusy('101') && one.orchestrator.callSnapshots()[0]?.state.phase.name === 'connected', 'connected');
    expect((await one.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', devicetype: 2, mode: 1 } })).body.retcode).toBe('0');
    await until(async () => (await one.phoneState('2002')) === 'ringing', 'C rings');
    one.sim.answer('2002');
    await until(async () => (await one.hears('2001')).join() === '2002', 'A and C talk');
    await until(() => two.parts.directory.isBusy('101') && two.parts.directory.isBusy('102'), 'two sees them busy');

    // kill -9: no heartbeat any more, nothing ended, nothing more heard from it.
    const killedAt = Date.now();
    one.sim.crash();
    one.parts.cluster.halt();
    await one.app.close();
    await until(() => one.sim.phone(B).state === 'idle' && one.sim.phone('2001').state === 'idle' && one.sim.phone('2002').state === 'idle', 'every phone of the dead instance hears BYE', 5000);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    await until(() => !two.parts.directory.isBusy('101') && !two.parts.directory.isBusy('102'), 'agents free');
    // Still signed in, with their release events, at the surviving instance.
    await eventVia(two, '101', guidA, 'AgentEvent_Call_Release');
    await eventVia(two, '102', guidC, 'AgentEvent_Call_Release');
    expect(two.parts.directory.isSignedIn('101')).toBe(true);
    // And they take the next call at two.
    expect((await two.http('POST', '/sim/calls', { body: { from: B2, to: '4000' } })).body.retcode).toBe('0');
    await eventVia(two, '101', guidA, 'AgentEvent_Ringing');
  });

  it('an instance that misses its heartbeat but still runs (a starved host) keeps its call; once it is gone the other ends it', async () => {
    await twoInstances();
    await one.signIn('101');
    expect((await one.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
    await until(async () => (await one.phoneState('2001')) === 'ringing', "A's phone rings");
    one.sim.answer('2001');
    await until(async () => (await one.phoneState(B)) === 'talking', 'B talks with A');
    // No more heartbeats from one, but its process (its HTTP server) is still there.
    one.parts.cluster.halt();
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT.ttlMs * 4));
    expect(await one.phoneState(B)).toBe('talking');
    expect(await one.phoneState('2001')).toBe('talking');
    // Now it is gone for good: the other ends its call.
    one.sim.crash();
    await one.app.close();
    await until(() => one.sim.phone(B).state === 'idle' && one.sim.phone('2001').state === 'idle', 'the phones hear BYE from two', 5000);
  });

  /** A desk's WebSocket at `via`: its close code and reason once closed. */
  async function openDesk(via: Service, workNo: string, guid: string): Promise<{ closed: Promise<{ code: number; reason: string }> }> {
    const socket = new WebSocket(`${via.url.replace('http', 'ws')}${BASE}/agentevent/${workNo}/stream?guid=${guid}`);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
    await new Promise((resolve, reject) => {
      socket.on('open', resolve);
      socket.on('error', reject);
    });
    return { closed };
  }

  it('a forced sign-in on one instance closes the old desk on the other (4002) and its Guid stops working there', async () => {
    await twoInstances();
    const oldGuid = await one.signIn('101');
    // The old desk is served by two (which then knows its Guid), and reads its state there.
    const desk = await openDesk(two, '101', oldGuid);
    expect((await two.http('GET', `${BASE}/onlineagent/101/agentstatus`, { guid: oldGuid })).body.retcode).toBe('0');
    const taken = await one.http('PUT', `${BASE}/onlineagent/101/forcelogin`, { body: { password: 'pw101', phonenum: '2001' } });
    expect(taken.body.retcode).toBe('0');
    const newGuid = taken.headers.get('set-guid') ?? '';
    expect(await desk.closed).toEqual({ code: 4002, reason: 'taken over by another sign-in' });
    // The old Guid is refused on both instances, the new one works on both.
    expect((await two.http('GET', `${BASE}/onlineagent/101/agentstatus`, { guid: oldGuid })).body.retcode).toBe('000-003');
    expect((await one.http('GET', `${BASE}/onlineagent/101/agentstatus`, { guid: oldGuid })).body.retcode).toBe('000-003');
    expect((await two.http('GET', `${BASE}/onlineagent/101/agentstatus`, { guid: newGuid })).body.retcode).toBe('0');
    // A desk of the new session on two stays open when the agent signs out at one: then it is closed with 4001.
    const newDesk = await openDesk(two, '101', newGuid);
    expect((await one.http('DELETE', `${BASE}/onlineagent/101/logout`, { guid: newGuid })).body.retcode).toBe('0');
    expect(await newDesk.closed).toEqual({ code: 4001, reason: 'signed out' });
    expect((await two.http('GET', `${BASE}/onlineagent/101/agentstatus`, { guid: newGuid })).body.retcode).not.toBe('0');
  });

  it("wrong passwords through one instance slow the same address on the other (the throttle's count is shared)", async () => {
    await twoInstances(testConfig({ signIn: { maxFailures: 2, lockSeconds: 300, maxDelaySeconds: 0.5, maxWaiting: 1 } }));
    const wrong = (via: Service) => via.http('PUT', `${BASE}/onlineagent/102`, { body: { password: 'guess', phonenum: '2002' } });
    for (let i = 0; i < 3; i++) expect((await wrong(one)).body.retcode).toBe('100-001');
    // Two has seen no failure itself: with a count of its own only, all three would be checked at once.
    const answers = await Promise.all([1, 2, 3].map(() => wrong(two)));
    expect(answers.map((a) => a.body.retcode).sort()).toEqual(['100-001', '100-032', '100-032']);
    // Never a lock on the account: the agent's right password still works (after the address's wait).
    expect(await two.signIn('102')).toBeTruthy();
  });

  /** Instance one goes away with its timers' work unpublished (its directory no longer exported, nor its heartbeat). */
  async function stopOne(): Promise<void> {
    one.sim.crash();
    one.parts.cluster.halt();
    await one.stop();
  }

  it("an agent's rest started on an instance that dies is ended by the other when it runs out (AgentState_Ready there)", async () => {
    await twoInstances();
    const guid = await one.signIn('101');
    expect((await one.http('POST', `${BASE}/onlineagent/101/rest/1/3`, { guid })).body.retcode).toBe('0');
    await until(() => two.parts.directory.presenceOf('101')?.status === 'rest', 'two sees 101 resting');
    await stopOne();
    await until(() => two.parts.directory.presenceOf('101')?.status === 'ready', 'two made 101 ready when the rest ran out', 5000);
    await eventVia(two, '101', guid, 'AgentState_Rest_Timeout');
    await eventVia(two, '101', guid, 'AgentState_Ready');
  });

  it("an agent's wrap-up after a call of an instance that dies is ended by the other when it runs out", async () => {
    await twoInstances(testConfig({ presence: { initialState: 'ready', wrapUpSeconds: 1 } }));
    const guid = await one.signIn('101');
    expect((await one.http('POST', '/sim/calls', { body: { from: B, to: '4000' } })).body.retcode).toBe('0');
    await until(async () => (await one.phoneState('2001')) === 'ringing', 'A rings');
    one.sim.answer('2001');
    await until(async () => (await one.hears(B)).join() === '2001', 'A and B talk');
    one.sim.hangup(B);
    await until(() => two.parts.directory.presenceOf('101')?.status === 'wrap-up' && !two.parts.directory.isBusy('101'), 'two sees 101 in wrap-up');
    await stopOne();
    await until(() => two.parts.directory.presenceOf('101')?.status === 'ready', 'two made 101 ready when the wrap-up ran out', 5000);
    await eventVia(two, '101', guid, 'AgentState_Ready');
  });
}
