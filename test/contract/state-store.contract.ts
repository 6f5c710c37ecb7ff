/**
 * The StateStore contract (src/ports/state-store.ts), as tests any adapter must pass: each adapter's test file calls
 * stateStoreContract() with a way to open stores on its backend.
 *
 * Two instances of the service are two store objects on one backend: `peer(store)` opens the second. An adapter
 * whose backend is its own object (memory) returns the store itself, and the cases "from another instance" then run
 * on that one object.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { compareEventIds, type AgentStateRecord, type CallRecordSnapshot, type ClusterMessage, type InstanceInfo, type SessionRecord, type StateStore, type StoredEvent } from '../../src/ports/state-store.js';

export interface ContractBackend<S extends StateStore = StateStore> {
  readonly name: string;
  /** A store on a fresh, empty backend (or namespace of one), keeping `eventLimit` events per agent. */
  open(options: { eventLimit: number }): Promise<S>;
  /** A second store object (another instance) on the same backend as `store`; memory: `store` itself. */
  peer(store: S): Promise<S>;
  /** True when peer() gives a separate object (then cross-instance cases really cross instances). */
  readonly separateInstances: boolean;
}

const EVENT_LIMIT = 5;
/** Short heartbeat and claim TTLs: the tests wait for them to expire, polling. */
const SHORT_TTL = 300;
const POLL = { timeout: 5000, interval: 50 };

export function stateStoreContract<S extends StateStore>(backend: ContractBackend<S>): void {
  describe(`StateStore contract: ${backend.name}`, () => {
    const opened = new Set<S>();

    afterEach(async () => {
      for (const store of opened) await store.close();
      opened.clear();
    });

    async function open(): Promise<S> {
      const store = await backend.open({ eventLimit: EVENT_LIMIT });
      opened.add(store);
      return store;
    }
    /** Two instances on one backend (memory: the same object twice). */
    async function pair(): Promise<[S, S]> {
      const a = await open();
      const b = await backend.peer(a);
      opened.add(b);
      if (backend.separateInstances) expect(b).not.toBe(a);
      return [a, b];
    }

    function session(workNo: string, phone: string, token: string = randomUUID(), instanceId = 'i-1'): SessionRecord {
      return { workNo, token, phone, instanceId, signedInAt: 1_700_000_000_123 };
    }
    function call(callId: string, instanceId: string, agents: string[] = []): CallRecordSnapshot {
      return {
        callId,
        instanceId,
        signallingSession: 'ds-1',
        phase: 'ringing',
        agents,
        legs: [{ legId: `${callId}-a`, dialogId: 'cid;tag', channelUuid: 'uuid-1', workNo: agents[0] }, { legId: `${callId}-b` }],
        updatedAt: 1_700_000_000_456,
      };
    }
    function instance(instanceId: string, mode: InstanceInfo['mode'] = 'serving'): InstanceInfo {
      return { instanceId, mode, calls: 2, httpUrl: `http://10.0.0.1:8080/${instanceId}` };
    }

    it('is available once open', async () => {
      const store = await open();
      expect(store.available).toBe(true);
    });

    /* ------------------------------------------------------------------------------------------ sessions */
    describe('sessions', () => {
      it('signs an agent in: the session is found by agent and by token, and listed', async () => {
        const store = await open();
        const s = session('1001', '2001');
        expect(await store.signIn(s, false)).toEqual({ ok: true, replaced: null });
        expect(await store.sessionOf('1001')).toEqual(s);
        expect(await store.sessionByToken(s.token)).toEqual(s);
        expect(await store.sessionOf('1002')).toBeNull();
        expect(await store.sessionByToken('no-such-token')).toBeNull();
        const t = session('1002', '2002');
        await store.signIn(t, false);
        expect((await store.sessions()).sort((x, y) => x.workNo.localeCompare(y.workNo))).toEqual([s, t]);
      });

      it('refuses an agent who is signed in, naming the holder, and keeps the session', async () => {
        const store = await open();
        const first = session('1001', '2001');
        await store.signIn(first, false);
        expect(await store.signIn(session('1001', '2002'), false)).toEqual({ ok: false, reason: 'agent-signed-in', holder: '1001' });
        // Even on the same phone.
        expect(await store.signIn(session('1001', '2001'), false)).toEqual({ ok: false, reason: 'agent-signed-in', holder: '1001' });
        expect(await store.sessionOf('1001')).toEqual(first);
        expect(await store.sessionByToken(first.token)).toEqual(first);
      });

      it('a forced sign-in replaces the session and returns it; the old token finds nothing', async () => {
        const store = await open();
        const first = session('1001', '2001', 'old-token', 'i-1');
        await store.signIn(first, false);
        const second = session('1001', '2001', 'new-token', 'i-2');
        expect(await store.signIn(second, true)).toEqual({ ok: true, replaced: first });
        expect(await store.sessionOf('1001')).toEqual(second);
        expect(await store.sessionByToken('old-token')).toBeNull();
        expect(await store.sessionByToken('new-token')).toEqual(second);
        expect(await store.sessions()).toEqual([second]);
      });

      it('a forced sign-in with nothing to replace replaces nothing', async () => {
        const store = await open();
        const s = session('1001', '2001');
        expect(await store.signIn(s, true)).toEqual({ ok: true, replaced: null });
        expect(await store.sessionOf('1001')).toEqual(s);
      });

      it("refuses a phone another agent's session holds, force or not", async () => {
        const store = await open();
        await store.signIn(session('1001', '2001'), false);
        expect(await store.signIn(session('1002', '2001'), false)).toEqual({ ok: false, reason: 'phone-taken', holder: '1001' });
        expect(await store.signIn(session('1002', '2001'), true)).toEqual({ ok: false, reason: 'phone-taken', holder: '1001' });
        expect(await store.sessionOf('1002')).toBeNull();
        // The agent already signed in elsewhere and asking for a taken phone: still refused, session kept.
        const own = session('1003', '2003');
        await store.signIn(own, false);
        expect(await store.signIn(session('1003', '2001'), true)).toEqual({ ok: false, reason: 'phone-taken', holder: '1001' });
        expect(await store.sessionOf('1003')).toEqual(own);
        expect(await store.sessionByToken(own.token)).toEqual(own);
      });

      it('an agent not signed in but asking without force for a taken phone: phone-taken', async () => {
        const store = await open();
        await store.signIn(session('1001', '2001'), false);
        expect(await store.signIn(session('1002', '2001'), false)).toMatchObject({ ok: false, reason: 'phone-taken' });
      });

      it('a forced sign-in onto another phone frees the old one', async () => {
        const store = await open();
        const first = session('1001', '2001');
        await store.signIn(first, false);
        expect(await store.signIn(session('1001', '2002'), true)).toEqual({ ok: true, replaced: first });
        // 2001 is free now, 2002 is taken.
        expect(await store.signIn(session('1002', '2001'), false)).toEqual({ ok: true, replaced: null });
        expect(await store.signIn(session('1003', '2002'), false)).toEqual({ ok: false, reason: 'phone-taken', holder: '1001' });
      });

      it('two agents signing in on one phone at once (two instances): exactly one gets it', async () => {
        const [a, b] = await pair();
        const results = await Promise.all([a.signIn(session('1001', '2001'), false), b.signIn(session('1002', '2001'), false)]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        const loser = results.find((r) => !r.ok);
        const winner = results[0]?.ok ? '1001' : '1002';
        expect(loser).toEqual({ ok: false, reason: 'phone-taken', holder: winner });
        expect((await a.sessions()).map((s) => s.workNo)).toEqual([winner]);
      });

      it('one agent signing in twice at once (two instances): exactly one gets it', async () => {
        const [a, b] = await pair();
        const results = await Promise.all([a.signIn(session('1001', '2001', 'tok-a'), false), b.signIn(session('1001', '2002', 'tok-b'), false)]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.find((r) => !r.ok)).toEqual({ ok: false, reason: 'agent-signed-in', holder: '1001' });
        const held = await b.sessionOf('1001');
        expect(held?.token).toBe(results[0]?.ok ? 'tok-a' : 'tok-b');
      });

      it('signOut ends the session: token and phone are free, and it says whether one ended', async () => {
        const store = await open();
        const s = session('1001', '2001');
        await store.signIn(s, false);
        expect(await store.signOut('1001')).toBe(true);
        expect(await store.sessionOf('1001')).toBeNull();
        expect(await store.sessionByToken(s.token)).toBeNull();
        expect(await store.sessions()).toEqual([]);
        expect(await store.signOut('1001')).toBe(false);
        expect(await store.signIn(session('1002', '2001'), false)).toEqual({ ok: true, replaced: null });
      });

      it('signOut with the current token ends the session; with a stale token it does nothing', async () => {
        const store = await open();
        await store.signIn(session('1001', '2001', 'old-token'), false);
        const current = session('1001', '2001', 'new-token');
        await store.signIn(current, true);
        expect(await store.signOut('1001', 'old-token')).toBe(false);
        expect(await store.sessionOf('1001')).toEqual(current);
        expect(await store.sessionByToken('new-token')).toEqual(current);
        expect(await store.signOut('1001', 'new-token')).toBe(true);
        expect(await store.sessionOf('1001')).toBeNull();
        expect(await store.signOut('1001', 'new-token')).toBe(false);
      });

      it("a session written by one instance is another's too", async () => {
        const [a, b] = await pair();
        const s = session('1001', '2001');
        await a.signIn(s, false);
        expect(await b.sessionByToken(s.token)).toEqual(s);
        expect(await b.signIn(session('1002', '2001'), false)).toEqual({ ok: false, reason: 'phone-taken', holder: '1001' });
        expect(await b.signOut('1001', s.token)).toBe(true);
        expect(await a.sessionOf('1001')).toBeNull();
      });
    });

    /* ------------------------------------------------------------------------------------------ agents on calls */
    describe('desk activity and the long poll position', () => {
      it('touchSession notes when the desk was seen and how far its poll got, for every instance; a stale token changes nothing', async () => {
        const [a, b] = await pair();
        const first = session('1001', '2001');
        expect((await a.signIn({ ...first, cursor: '0', lastSeenAt: 1 }, false)).ok).toBe(true);
        await a.touchSession('1001', first.token, 5000, '7-1');
        expect(await b.sessionOf('1001')).toMatchObject({ lastSeenAt: 5000, cursor: '7-1' });
        // Seen again without moving the cursor: it stays.
        await b.touchSession('1001', first.token, 6000);
        expect(await a.sessionByToken(first.token)).toMatchObject({ lastSeenAt: 6000, cursor: '7-1' });
        await a.touchSession('1001', 'not-the-token', 9000, '9-9');
        expect(await a.sessionOf('1001')).toMatchObject({ lastSeenAt: 6000, cursor: '7-1' });
        await a.touchSession('1999', first.token, 9000);
        expect(await a.sessionOf('1999')).toBeNull();
      });
    });

    describe("the directory's replicas", () => {
      const record = (workNo: string, version: number, instanceId = 'i-1'): AgentStateRecord => ({ workNo, version, instanceId, callsHere: [`c-${version}`], state: { phone: '2001', v: version } });

      it('keeps the newest state of each agent, whichever instance wrote it; an older one is ignored', async () => {
        const [a, b] = await pair();
        await a.saveAgentState(record('1001', 10));
        await b.saveAgentState(record('1001', 30, 'i-2'));
        await a.saveAgentState(record('1001', 20));
        await a.saveAgentState(record('1002', 5));
        const states = (await b.agentStates()).sort((x, y) => x.workNo.localeCompare(y.workNo));
        expect(states).toEqual([record('1001', 30, 'i-2'), record('1002', 5)]);
      });

      it('a broadcast reaches the other instances (and the sender\'s own subscription); unsubscribed, nothing more', async () => {
        const [a, b] = await pair();
        const atB: ClusterMessage[] = [];
        const atA: ClusterMessage[] = [];
        const offB = b.onBroadcast((m) => atB.push(m));
        a.onBroadcast((m) => atA.push(m));
        const message: ClusterMessage = { kind: 'instance-gone', from: 'i-1', instanceId: 'i-9' };
        await a.broadcast(message);
        await expect.poll(() => atB, POLL).toEqual([message]);
        await expect.poll(() => atA, POLL).toEqual([message]);
        offB();
        await a.broadcast({ kind: 'instance-gone', from: 'i-1', instanceId: 'i-8' });
        await expect.poll(() => atA.length, POLL).toBe(2);
        expect(atB).toHaveLength(1);
      });

      it('event ids order as the store makes them', async () => {
        const store = await open();
        const ids = [await store.appendEvent('1001', 1), await store.appendEvent('1002', 2), await store.appendEvent('1001', 3)];
        expect(compareEventIds(ids[0] as string, ids[2] as string)).toBeLessThan(0);
        expect(compareEventIds(ids[2] as string, ids[0] as string)).toBeGreaterThan(0);
        expect(compareEventIds('0', ids[0] as string)).toBeLessThan(0);
        expect(compareEventIds('garbage', ids[0] as string)).toBeLessThan(0);
        expect(compareEventIds(ids[1] as string, ids[1] as string)).toBe(0);
      });
    });

    describe('agent reservations', () => {
      it('reserves a free agent, again for the same call, never for another', async () => {
        const store = await open();
        expect(await store.callOfAgent('1001')).toBeNull();
        expect(await store.reserveAgent('1001', 'c1')).toBe(true);
        expect(await store.callOfAgent('1001')).toBe('c1');
        expect(await store.reserveAgent('1001', 'c1')).toBe(true);
        expect(await store.reserveAgent('1001', 'c2')).toBe(false);
        expect(await store.callOfAgent('1001')).toBe('c1');
      });

      it('two calls reserving one agent at once (two instances): exactly one wins', async () => {
        const [a, b] = await pair();
        const results = await Promise.all([a.reserveAgent('1001', 'c1'), b.reserveAgent('1001', 'c2')]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? 'c1' : 'c2';
        expect(await a.callOfAgent('1001')).toBe(winner);
        expect(await b.callOfAgent('1001')).toBe(winner);
        expect(await b.reserveAgent('1001', winner)).toBe(true);
      });

      it('release by the holding call frees the agent; by another call does nothing', async () => {
        const store = await open();
        await store.reserveAgent('1001', 'c1');
        await store.releaseAgent('1001', 'c2');
        expect(await store.callOfAgent('1001')).toBe('c1');
        expect(await store.reserveAgent('1001', 'c2')).toBe(false);
        await store.releaseAgent('1001', 'c1');
        expect(await store.callOfAgent('1001')).toBeNull();
        await store.releaseAgent('1001', 'c1');
        expect(await store.reserveAgent('1001', 'c2')).toBe(true);
      });

      it('deleteCall frees every agent the call held, listed in its record or not, and no other', async () => {
        const store = await open();
        await store.reserveAgent('1001', 'c1');
        await store.reserveAgent('1002', 'c1');
        await store.reserveAgent('1003', 'c2');
        await store.saveCall(call('c1', 'i-1', ['1001']));
        await store.deleteCall('c1');
        expect(await store.callOfAgent('1001')).toBeNull();
        expect(await store.callOfAgent('1002')).toBeNull();
        expect(await store.callOfAgent('1003')).toBe('c2');
        expect(await store.reserveAgent('1001', 'c3')).toBe(true);
      });

      it('deleteCall of a call with no record still frees its agents', async () => {
        const store = await open();
        await store.reserveAgent('1001', 'c1');
        await store.deleteCall('c1');
        expect(await store.callOfAgent('1001')).toBeNull();
      });

      it('an agent released then reserved by another call is not freed when the first call is deleted', async () => {
        const store = await open();
        await store.reserveAgent('1001', 'c1');
        await store.releaseAgent('1001', 'c1');
        await store.reserveAgent('1001', 'c2');
        await store.deleteCall('c1');
        expect(await store.callOfAgent('1001')).toBe('c2');
      });
    });

    /* ------------------------------------------------------------------------------------------ call records */
    describe('call records', () => {
      it('saves, reads, overwrites and deletes a record', async () => {
        const store = await open();
        expect(await store.callRecord('c1')).toBeNull();
        const record = call('c1', 'i-1', ['1001', '1002']);
        await store.saveCall(record);
        expect(await store.callRecord('c1')).toEqual(record);
        const later = { ...record, phase: 'talking', updatedAt: record.updatedAt + 1000 };
        await store.saveCall(later);
        expect(await store.callRecord('c1')).toEqual(later);
        await store.deleteCall('c1');
        expect(await store.callRecord('c1')).toBeNull();
        await store.deleteCall('c1');
        expect(await store.callRecord('c1')).toBeNull();
      });

      it('lists the calls an instance owns, following the latest owner', async () => {
        const [a, b] = await pair();
        await a.saveCall(call('c1', 'i-1'));
        await a.saveCall(call('c2', 'i-1'));
        await b.saveCall(call('c3', 'i-2'));
        const ids = async (instanceId: string): Promise<string[]> => (await b.callsOwnedBy(instanceId)).map((c) => c.callId).sort();
        expect(await ids('i-1')).toEqual(['c1', 'c2']);
        expect(await ids('i-2')).toEqual(['c3']);
        expect(await ids('i-3')).toEqual([]);
        expect(await a.callsOwnedBy('i-2')).toEqual([call('c3', 'i-2')]);
        // c2 taken over by i-2.
        await b.saveCall(call('c2', 'i-2'));
        expect(await ids('i-1')).toEqual(['c1']);
        expect(await ids('i-2')).toEqual(['c2', 'c3']);
        await a.deleteCall('c1');
        expect(await ids('i-1')).toEqual([]);
      });
    });

    /* ------------------------------------------------------------------------------------------ events */
    describe('events', () => {
      it('append returns distinct ids; eventsAfter("0") gives them oldest first, each agent its own', async () => {
        const store = await open();
        const ids = [await store.appendEvent('1001', { n: 1 }), await store.appendEvent('1001', { n: 2, nested: { s: 'x' } })];
        await store.appendEvent('1002', { n: 99 });
        ids.push(await store.appendEvent('1001', { n: 3 }));
        expect(new Set(ids).size).toBe(3);
        expect(await store.eventsAfter('1001', '0', 10)).toEqual([
          { id: ids[0], workNo: '1001', event: { n: 1 } },
          { id: ids[1], workNo: '1001', event: { n: 2, nested: { s: 'x' } } },
          { id: ids[2], workNo: '1001', event: { n: 3 } },
        ]);
        expect((await store.eventsAfter('1002', '0', 10)).map((e) => e.event)).toEqual([{ n: 99 }]);
        expect(await store.eventsAfter('1003', '0', 10)).toEqual([]);
      });

      it('eventsAfter an id gives only the newer ones; the limit is honoured', async () => {
        const store = await open();
        const ids: string[] = [];
        for (let n = 1; n <= 4; n++) ids.push(await store.appendEvent('1001', { n }));
        const numbers = (events: StoredEvent[]): unknown[] => events.map((e) => (e.event as { n: number }).n);
        expect(numbers(await store.eventsAfter('1001', ids[1] as string, 10))).toEqual([3, 4]);
        expect(numbers(await store.eventsAfter('1001', ids[3] as string, 10))).toEqual([]);
        expect(numbers(await store.eventsAfter('1001', '0', 2))).toEqual([1, 2]);
        expect(numbers(await store.eventsAfter('1001', ids[0] as string, 2))).toEqual([2, 3]);
        expect(numbers(await store.eventsAfter('1001', '0', 0))).toEqual([]);
        // Reading on from the last id read gets the rest, nothing twice.
        const first = await store.eventsAfter('1001', '0', 3);
        const rest = await store.eventsAfter('1001', first.at(-1)?.id as string, 3);
        expect(numbers([...first, ...rest])).toEqual([1, 2, 3, 4]);
        // An id the store could not have made: from the oldest.
        expect(numbers(await store.eventsAfter('1001', 'not-an-id', 10))).toEqual([1, 2, 3, 4]);
      });

      it(`keeps the newest ${EVENT_LIMIT} events of an agent, dropping the oldest`, async () => {
        const store = await open();
        const ids: string[] = [];
        for (let n = 1; n <= EVENT_LIMIT + 3; n++) ids.push(await store.appendEvent('1001', { n }));
        const kept = await store.eventsAfter('1001', '0', 100);
        expect(kept.map((e) => (e.event as { n: number }).n)).toEqual([4, 5, 6, 7, 8]);
        expect(kept.map((e) => e.id)).toEqual(ids.slice(3));
        // An id older than the oldest kept: everything kept.
        expect(await store.eventsAfter('1001', ids[0] as string, 100)).toEqual(kept);
        // Other agents' streams are capped on their own.
        await store.appendEvent('1002', { n: 1 });
        expect(await store.eventsAfter('1002', '0', 100)).toHaveLength(1);
        expect(await store.eventsAfter('1001', '0', 100)).toHaveLength(EVENT_LIMIT);
      });

      it("lastEventId is the agent's newest id, '0' when none", async () => {
        const [a, b] = await pair();
        expect(await a.lastEventId('1001')).toBe('0');
        await a.appendEvent('1001', { n: 1 });
        const newest = await b.appendEvent('1001', { n: 2 });
        await a.appendEvent('1002', { n: 3 });
        expect(await a.lastEventId('1001')).toBe(newest);
        expect(await a.eventsAfter('1001', await b.lastEventId('1001'), 10)).toEqual([]);
      });

      it('ids stay in order across instances appending to one agent', async () => {
        const [a, b] = await pair();
        const ids = [await a.appendEvent('1001', { n: 1 }), await b.appendEvent('1001', { n: 2 }), await a.appendEvent('1001', { n: 3 })];
        expect((await b.eventsAfter('1001', '0', 10)).map((e) => e.id)).toEqual(ids);
        expect((await b.eventsAfter('1001', ids[0] as string, 10)).map((e) => e.id)).toEqual(ids.slice(1));
      });

      it(`onEvent delivers what ${backend.separateInstances ? 'another instance' : 'the store'} appends, in order, once; unsubscribe stops it`, async () => {
        const [a, b] = await pair();
        const seen: StoredEvent[] = [];
        const unsubscribe = b.onEvent((stored) => seen.push(stored));
        const id1 = await a.appendEvent('1001', { n: 1 });
        const id2 = await a.appendEvent('1002', { n: 2 });
        const id3 = await a.appendEvent('1001', { n: 3 });
        await expect.poll(() => seen.length, POLL).toBe(3);
        expect(seen).toEqual([
          { id: id1, workNo: '1001', event: { n: 1 } },
          { id: id2, workNo: '1002', event: { n: 2 } },
          { id: id3, workNo: '1001', event: { n: 3 } },
        ]);
        unsubscribe();
        await a.appendEvent('1001', { n: 4 });
        // A subscriber still there sees the next one: by then the unsubscribed one would have too.
        const later: StoredEvent[] = [];
        b.onEvent((stored) => later.push(stored));
        await a.appendEvent('1001', { n: 5 });
        await expect.poll(() => later.map((e) => e.event), POLL).toContainEqual({ n: 5 });
        expect(seen).toHaveLength(3);
      });

      it('onEvent delivers the events the store itself appends, to every subscriber', async () => {
        const store = await open();
        const first: unknown[] = [];
        const second: unknown[] = [];
        store.onEvent((stored) => first.push(stored.event));
        store.onEvent((stored) => second.push(stored.event));
        await store.appendEvent('1001', 'a string event');
        await expect.poll(() => [first, second], POLL).toEqual([['a string event'], ['a string event']]);
      });

      it('a listener that throws stops neither the others nor later deliveries', async () => {
        const [a, b] = await pair();
        const seen: unknown[] = [];
        b.onEvent(() => {
          throw new Error('listener failure (expected by the test)');
        });
        b.onEvent((stored) => seen.push(stored.event));
        await a.appendEvent('1001', { n: 1 });
        await a.appendEvent('1001', { n: 2 });
        await expect.poll(() => seen, POLL).toEqual([{ n: 1 }, { n: 2 }]);
      });

      it('onEvent replays nothing from before', async () => {
        const [a, b] = await pair();
        await a.appendEvent('1001', { n: 'old' });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const seen: unknown[] = [];
        b.onEvent((stored) => seen.push(stored.event));
        await a.appendEvent('1001', { n: 'new' });
        await expect.poll(() => seen, POLL).toContainEqual({ n: 'new' });
        expect(seen).toEqual([{ n: 'new' }]);
      });
    });

    /* ------------------------------------------------------------------------------------------ instances */
    describe("handsets' registrations", () => {
      const binding = (contact: string, lastsMs: number, cseq = 1) => ({ contact, expiresAt: Date.now() + lastsMs, callId: 'reg-1', cseq });

      it('a registration saved by one instance is read by another; a newer one replaces it; none left removes it', async () => {
        const [a, b] = await pair();
        const first = { phone: '2001', bindings: [binding('sip:2001@10.0.0.5:5060', 60_000)] };
        await a.saveRegistration(first);
        await a.saveRegistration({ phone: '2002', bindings: [{ ...binding('sip:2002@10.0.0.6:5062', 60_000), via: 'sip:192.0.2.1:40000' }] });
        const byPhone = async () => Object.fromEntries((await b.registrations()).map((r) => [r.phone, r]));
        expect((await byPhone())['2001']).toEqual(first);
        expect((await byPhone())['2002']?.bindings[0]?.via).toBe('sip:192.0.2.1:40000');
        const second = { phone: '2001', bindings: [binding('sip:2001@10.0.0.5:5060', 60_000, 2), binding('sip:2001@10.0.0.7:5060', 30_000, 2)] };
        await b.saveRegistration(second);
        expect((await byPhone())['2001']).toEqual(second);
        await a.saveRegistration({ phone: '2001', bindings: [] });
        expect(Object.keys(await byPhone())).toEqual(['2002']);
      });

      it('a registration is gone once its last binding has expired', async () => {
        const store = await open();
        await store.saveRegistration({ phone: '2003', bindings: [binding('sip:2003@10.0.0.8:5060', SHORT_TTL)] });
        expect((await store.registrations()).map((r) => r.phone)).toEqual(['2003']);
        await expect.poll(async () => (await store.registrations()).length, POLL).toBe(0);
      });
    });

    describe('failure counts (shared by every instance)', () => {
      it('counts failures under a key across instances, one at a time, each key apart', async () => {
        const [a, b] = await pair();
        expect(await a.failureCount('acct:101')).toEqual({ count: 0, expiresInMs: 0 });
        expect((await a.countFailure('acct:101', 60_000)).count).toBe(1);
        expect((await b.countFailure('acct:101', 60_000)).count).toBe(2);
        expect((await b.countFailure('acct:102', 60_000)).count).toBe(1);
        const seen = await b.failureCount('acct:101');
        expect(seen.count).toBe(2);
        expect(seen.expiresInMs).toBeGreaterThan(50_000);
        expect(seen.expiresInMs).toBeLessThanOrEqual(60_000);
      });

      it('failures counted at the same moment on two instances are all counted (atomic increment)', async () => {
        const [a, b] = await pair();
        const counts = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).countFailure('src:10.0.0.1', 60_000)));
        expect(counts.map((c) => c.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect((await a.failureCount('src:10.0.0.1')).count).toBe(20);
      });

      it('a count is forgotten its window after the last failure; each failure starts the window over', async () => {
        const store = await open();
        await store.countFailure('acct:201', SHORT_TTL);
        await store.countFailure('acct:201', SHORT_TTL);
        await expect.poll(async () => (await store.failureCount('acct:201')).count, POLL).toBe(0);
        expect(await store.failureCount('acct:201')).toEqual({ count: 0, expiresInMs: 0 });
        expect((await store.countFailure('acct:201', 60_000)).count).toBe(1);
      });

      it('clearFailures forgets the count (for every instance)', async () => {
        const [a, b] = await pair();
        await a.countFailure('acct:301', 60_000);
        await a.countFailure('acct:301', 60_000);
        await b.clearFailures('acct:301');
        expect(await a.failureCount('acct:301')).toEqual({ count: 0, expiresInMs: 0 });
        expect((await a.countFailure('acct:301', 60_000)).count).toBe(1);
        await b.clearFailures('acct:never-counted');
      });
    });

    describe('instances', () => {
      it('a heartbeat makes an instance live until its TTL runs out; a renewed one lives on', async () => {
        const [a, b] = await pair();
        await a.heartbeat(instance('i-short'), SHORT_TTL);
        await b.heartbeat(instance('i-long', 'draining'), 60_000);
        const live = async (): Promise<InstanceInfo[]> => (await b.liveInstances()).sort((x, y) => x.instanceId.localeCompare(y.instanceId));
        expect(await live()).toEqual([instance('i-long', 'draining'), instance('i-short')]);
        await expect.poll(async () => (await live()).map((i) => i.instanceId), POLL).toEqual(['i-long']);
        // A heartbeat after expiry makes it live again, with what it says now.
        await a.heartbeat(instance('i-short', 'draining'), 60_000);
        expect(await live()).toEqual([instance('i-long', 'draining'), instance('i-short', 'draining')]);
      });

      it('renewing a heartbeat before expiry keeps the instance live past the first TTL', async () => {
        const store = await open();
        const started = Date.now();
        await store.heartbeat(instance('i-1'), SHORT_TTL);
        while (Date.now() - started < SHORT_TTL * 3) {
          await store.heartbeat(instance('i-1'), SHORT_TTL);
          expect((await store.liveInstances()).map((i) => i.instanceId)).toEqual(['i-1']);
          await new Promise((resolve) => setTimeout(resolve, SHORT_TTL / 4));
        }
      });

      it('leave removes the heartbeat at once', async () => {
        const [a, b] = await pair();
        await a.heartbeat(instance('i-1'), 60_000);
        await a.heartbeat(instance('i-2'), 60_000);
        await b.leave('i-1');
        expect((await a.liveInstances()).map((i) => i.instanceId)).toEqual(['i-2']);
        await b.leave('i-unknown');
        expect((await a.liveInstances()).map((i) => i.instanceId)).toEqual(['i-2']);
      });

      it('deadOwners: instances owning call records with no live heartbeat', async () => {
        const [a, b] = await pair();
        expect(await a.deadOwners()).toEqual([]);
        await a.heartbeat(instance('i-live'), 60_000);
        await a.heartbeat(instance('i-expiring'), SHORT_TTL);
        await a.heartbeat(instance('i-idle'), 60_000);
        await a.saveCall(call('c1', 'i-live'));
        await a.saveCall(call('c2', 'i-expiring'));
        await b.saveCall(call('c3', 'i-gone'));
        await b.saveCall(call('c4', 'i-gone'));
        expect(await b.deadOwners()).toEqual(['i-gone']);
        await expect.poll(async () => (await b.deadOwners()).sort(), POLL).toEqual(['i-expiring', 'i-gone']);
        // An orderly exit with records left: dead too.
        await a.leave('i-live');
        expect((await b.deadOwners()).sort()).toEqual(['i-expiring', 'i-gone', 'i-live']);
        // Once its records are gone (ended by a survivor, or taken over), it is no one's concern.
        await b.deleteCall('c3');
        expect((await b.deadOwners()).sort()).toEqual(['i-expiring', 'i-gone', 'i-live']);
        await b.saveCall(call('c4', 'i-idle'));
        await b.deleteCall('c2');
        await b.deleteCall('c1');
        expect(await a.deadOwners()).toEqual([]);
      });

      it('claimCleanup: of two survivors claiming at once exactly one wins; it may claim again; after the TTL anyone may', async () => {
        const [a, b] = await pair();
        const results = await Promise.all([a.claimCleanup('i-dead', 'i-a', SHORT_TTL), b.claimCleanup('i-dead', 'i-b', SHORT_TTL)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const [winner, winnerStore, loser, loserStore] = results[0] ? (['i-a', a, 'i-b', b] as const) : (['i-b', b, 'i-a', a] as const);
        expect(await loserStore.claimCleanup('i-dead', loser, SHORT_TTL)).toBe(false);
        expect(await winnerStore.claimCleanup('i-dead', winner, SHORT_TTL)).toBe(true);
        // Another dead instance is a claim of its own.
        expect(await loserStore.claimCleanup('i-dead-2', loser, 60_000)).toBe(true);
        await expect.poll(() => loserStore.claimCleanup('i-dead', loser, 60_000), POLL).toBe(true);
        expect(await winnerStore.claimCleanup('i-dead', winner, 60_000)).toBe(false);
      });
    });
  });
}
