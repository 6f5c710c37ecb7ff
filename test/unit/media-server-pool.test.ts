/**
 * The media-server pool (issue 21) with fake fsmrf media servers: where new calls and their later legs go, what a
 * drained or silent server gets, and what happens to the calls of a server that dies (moved together to another,
 * or ended when none is up). No FreeSWITCH: the servers' connections are played by the test.
 */
import { EventEmitter } from 'node:events';
import type Mrf from 'drachtio-fsmrf';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { LegId } from '../../src/core/types.js';
import { LegTable } from '../../src/telephony/drachtio/legs.js';
import { MediaServerPool, type PoolServer } from '../../src/telephony/drachtio/media-server-pool.js';
import { TAG_HEADERS } from '../../src/telephony/drachtio/signalling.js';

function fakeMediaServer(name: string, sessions = 0): Mrf.MediaServer & { made: string[] } {
  const made: string[] = [];
  const ms = Object.assign(new EventEmitter(), {
    address: name,
    conn: Object.assign(new EventEmitter(), { reconnectOpts: {} }),
    maxSessions: 0,
    currentSessions: sessions,
    made,
    createEndpoint: async (opts?: { headers?: Record<string, string> }) => {
      const uuid = `${name}-${made.length + 1}`;
      made.push(opts?.headers?.[TAG_HEADERS.leg] ?? '?');
      return Object.assign(new EventEmitter(), { uuid, local: { sdp: 'v=0' }, remote: { sdp: '' }, dialog: null });
    },
    api: async () => '',
    disconnect: () => undefined,
    connected: () => true,
  });
  return ms as unknown as Mrf.MediaServer & { made: string[] };
}

interface Harness {
  pool: MediaServerPool;
  legs: LegTable;
  lost: string[];
  moved: LegId[][];
  moves: { legs: readonly LegId[]; to: string }[];
  calls: Map<LegId, string>;
  servers: (Mrf.MediaServer & { made: string[] })[];
}

function harness(count: number, options: { sessions?: number[]; mover?: (legs: readonly LegId[], to: PoolServer) => Promise<LegId[]> } = {}): Harness {
  const legs = new LegTable();
  const lost: string[] = [];
  const moved: LegId[][] = [];
  const moves: { legs: readonly LegId[]; to: string }[] = [];
  const calls = new Map<LegId, string>();
  const pool = new MediaServerPool({
    mrf: {} as Mrf,
    servers: Array.from({ length: count }, (_, i) => ({ host: '127.0.0.1', port: 9000 + i, secret: 'x', sessionLimit: 30 })),
    listenAddress: '127.0.0.1',
    listenPort: 1,
    owner: 'test',
    legs,
    logger: pino({ level: 'silent' }),
    mediaTimeoutMs: 100,
    reconcileIntervalMs: 0,
    onChannelLost: (legId) => lost.push(legId),
    onDigit: () => undefined,
    onEffect: () => undefined,
    onMoved: (legIds) => moved.push([...legIds]),
  });
  pool.setCallLookup({ callOfLeg: (legId) => calls.get(legId), legsOfCall: (callId) => [...calls].filter(([, c]) => c === callId).map(([l]) => l) });
  pool.setMover(
    options.mover ??
      (async (legIds, to) => {
        moves.push({ legs: legIds, to: to.id });
        for (const legId of legIds) pool.moved(legId, to);
        return [...legIds];
      }),
  );
  const servers = pool.servers.map((server, i) => {
    const ms = fakeMediaServer(`fs${i + 1}`, options.sessions?.[i] ?? 0);
    server.mediaServer = ms;
    server.endpointsUp = true;
    Object.defineProperty(server.control, 'up', { get: () => true });
    return ms;
  });
  return { pool, legs, lost, moved, moves, calls, servers };
}

/** A call of `legIds` whose first leg came in (no call id yet) and the others were dialled for `callId`. */
async function placeCall(h: Harness, callId: string, legIds: LegId[]): Promise<void> {
  for (const [i, legId] of legIds.entries()) {
    const headers: Record<string, string> = { [TAG_HEADERS.leg]: legId };
    if (i > 0) headers[TAG_HEADERS.call] = callId;
    const endpoint = await h.pool.makeEndpoint({ headers });
    h.pool.media.track(legId, endpoint.uuid);
    h.calls.set(legId, callId);
    h.legs.add({ id: legId, state: 'up', hangupRequested: false });
  }
}

describe('where legs go', () => {
  it('new calls go to the server with most room, and every later leg of a call to its call\'s server', async () => {
    const h = harness(2);
    await placeCall(h, 'c1', ['in-1', 'c1-L2']);
    await placeCall(h, 'c2', ['in-2', 'c2-L2', 'c2-L5']);
    await placeCall(h, 'c3', ['in-3', 'c3-L2']);
    expect(h.servers.map((s) => s.made)).toEqual([
      ['in-1', 'c1-L2', 'in-3', 'c3-L2'],
      ['in-2', 'c2-L2', 'c2-L5'],
    ]);
    expect(h.pool.status().map((s) => s.ourLegs)).toEqual([4, 3]);
  });

  it('counts what FreeSWITCH reports of others: a busy server gets no new call until it has more room', async () => {
    const h = harness(2, { sessions: [10, 0] });
    await placeCall(h, 'c1', ['in-1', 'c1-L2']);
    expect(h.servers[1]?.made).toEqual(['in-1', 'c1-L2']);
  });

  it('a drained server and a server that is down get no new calls; with none left, making a channel fails', async () => {
    const h = harness(2);
    expect(h.pool.drain('fs1', true)).toBe(true);
    await placeCall(h, 'c1', ['in-1']);
    expect(h.servers[1]?.made).toEqual(['in-1']);
    (h.pool.servers[1] as PoolServer).endpointsUp = false;
    await expect(h.pool.makeEndpoint({ headers: { [TAG_HEADERS.leg]: 'in-2' } })).rejects.toThrow(/no FreeSWITCH server/);
    expect(h.pool.drain('fs9', true)).toBe(false);
    expect(h.pool.capacity()).toEqual({ capacity: 0, othersSessions: 0 });
  });
});

describe('a server dies', () => {
  it('each of its calls moves, legs together, to a server that is up; the moved legs are reported; others stay', async () => {
    const h = harness(3);
    await placeCall(h, 'c1', ['in-1', 'c1-L2']); // fs1
    await placeCall(h, 'c2', ['in-2', 'c2-L2']); // fs2
    await placeCall(h, 'c3', ['in-3', 'c3-L2']); // fs3
    h.pool.serverLost(h.pool.servers[1] as PoolServer, 'test');
    await new Promise((r) => setImmediate(r));
    expect(h.moves).toEqual([
      { legs: ['in-2'], to: 'fs1' },
      { legs: ['c2-L2'], to: 'fs1' },
    ]);
    expect(h.moved).toEqual([['in-2'], ['c2-L2']]);
    expect(h.lost).toEqual([]);
    expect(h.pool.serverOfLeg('in-2')?.id).toBe('fs1');
    expect(h.pool.status()[1]).toMatchObject({ up: false, callsMovedAway: 1 });
  });

  it('while a leg moves, its channel\'s loss is the pool\'s, and its media commands are not sent', async () => {
    const pending = new Map<LegId, (moved: LegId[]) => void>();
    let target: PoolServer | null = null;
    const h = harness(2, {
      mover: (legs, to) =>
        new Promise((resolve) => {
          target = to;
          pending.set(legs[0] as LegId, resolve);
        }),
    });
    await placeCall(h, 'c1', ['in-1', 'c1-L2']);
    h.pool.serverLost(h.pool.servers[0] as PoolServer, 'test');
    expect(h.pool.lossDeferred('in-1', 'per-channel socket closed')).toBe(true);
    await expect(h.pool.media.bridge('in-1', 'c1-L2')).resolves.toBeUndefined();
    // in-1 moved and is reported at once; the phone of c1-L2 did not answer its re-INVITE: it is given up (its
    // phone hung up), later.
    h.pool.moved('in-1', target as unknown as PoolServer);
    pending.get('in-1')?.(['in-1']);
    await new Promise((r) => setImmediate(r));
    expect(h.moved).toEqual([['in-1']]);
    expect(h.lost).toEqual([]);
    pending.get('c1-L2')?.([]);
    await new Promise((r) => setImmediate(r));
    expect(h.lost).toEqual(['c1-L2']);
    expect(h.pool.lossDeferred('in-1', 'x')).toBe(false);
  });

  it('with no other server up, its calls end as with one server', async () => {
    const h = harness(2);
    await placeCall(h, 'c1', ['in-1', 'c1-L2']);
    (h.pool.servers[1] as PoolServer).endpointsUp = false;
    h.pool.serverLost(h.pool.servers[0] as PoolServer, 'test');
    await new Promise((r) => setImmediate(r));
    expect(h.moves).toEqual([]);
    expect(h.lost.sort()).toEqual(['c1-L2', 'in-1']);
  });

  it('one server configured: a channel lost is ended at once (nothing to ask)', async () => {
    const h = harness(1);
    await placeCall(h, 'c1', ['in-1']);
    expect(h.pool.lossDeferred('in-1', 'per-channel socket closed')).toBe(false);
  });
});
