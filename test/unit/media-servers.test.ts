/** The choice of media server and admission control (core/media-servers.ts): examples, then properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admitCall, admitHelp, capacityOf, chooseRefuge, chooseServer, retryDelayMs, roomOf, SESSIONS_PER_CALL, takesNewCalls, type ServerLoad } from '../../src/core/media-servers.js';

const server = (id: string, over: Partial<ServerLoad> = {}): ServerLoad => ({ id, up: true, draining: false, limit: 100, maxSessions: 0, reportedSessions: 0, placedSinceReport: 0, ...over });

const arbServer = (id: string): fc.Arbitrary<ServerLoad> =>
  fc.record({
    id: fc.constant(id),
    up: fc.boolean(),
    draining: fc.boolean(),
    limit: fc.integer({ min: 1, max: 50 }),
    maxSessions: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 })),
    reportedSessions: fc.integer({ min: 0, max: 60 }),
    placedSinceReport: fc.integer({ min: 0, max: 20 }),
  });
const arbServers = fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbServer(`fs${i + 1}`))));

describe('chooseServer, by example', () => {
  it('takes the server with most room; a tie goes to the first listed', () => {
    expect(chooseServer([server('fs1'), server('fs2')])).toBe('fs1');
    expect(chooseServer([server('fs1', { placedSinceReport: 2 }), server('fs2')])).toBe('fs2');
    expect(chooseServer([server('fs1', { reportedSessions: 10 }), server('fs2', { placedSinceReport: 5 })])).toBe('fs2');
  });
  it('counts FreeSWITCH max-sessions when it is below our limit', () => {
    expect(capacityOf(server('x', { limit: 100, maxSessions: 10 }))).toBe(10);
    expect(chooseServer([server('fs1', { maxSessions: 10, reportedSessions: 5 }), server('fs2', { reportedSessions: 50 })])).toBe('fs2');
  });
  it('skips servers that are down, drained, excluded or full; none: null', () => {
    expect(chooseServer([server('fs1', { up: false }), server('fs2', { draining: true })])).toBeNull();
    expect(chooseServer([server('fs1'), server('fs2', { reportedSessions: 50 })], 1, 'fs1')).toBe('fs2');
    expect(chooseServer([server('fs1', { limit: 3, reportedSessions: 1 })], 3)).toBeNull();
  });
  it('a dying server\'s call goes to a full server rather than nowhere', () => {
    expect(chooseRefuge([server('fs1'), server('fs2', { limit: 1, reportedSessions: 1 })], 3, 'fs1')).toBe('fs2');
    expect(chooseRefuge([server('fs1'), server('fs2', { up: false })], 3, 'fs1')).toBeNull();
  });
});

describe('chooseServer, properties', () => {
  it('returns an eligible server with the most room, or null exactly when none fits', () => {
    fc.assert(
      fc.property(arbServers, fc.integer({ min: 1, max: 4 }), (servers, need) => {
        const chosen = chooseServer(servers, need);
        const eligible = servers.filter((s) => takesNewCalls(s) && roomOf(s) >= need);
        if (eligible.length === 0) return chosen === null;
        const best = Math.max(...eligible.map(roomOf));
        const first = eligible.find((s) => roomOf(s) === best);
        return chosen === first?.id;
      }),
    );
  });

  it('never picks a server that is down, drained or excluded', () => {
    fc.assert(
      fc.property(arbServers, fc.integer({ min: 1, max: 5 }), (servers, excluded) => {
        const chosen = servers.find((s) => s.id === chooseServer(servers, 1, `fs${excluded}`));
        return chosen === undefined || (chosen.up && !chosen.draining && chosen.id !== `fs${excluded}`);
      }),
    );
  });

  it('placing calls one by one never goes over any server\'s capacity, and refuses only when no server has room', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 3, max: 40 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 60 }), (limits, calls) => {
        let servers = limits.map((limit, i) => server(`fs${i + 1}`, { limit }));
        for (let n = 0; n < calls; n++) {
          const id = chooseServer(servers, SESSIONS_PER_CALL);
          if (id === null) return servers.every((s) => roomOf(s) < SESSIONS_PER_CALL);
          servers = servers.map((s) => (s.id === id ? { ...s, placedSinceReport: s.placedSinceReport + SESSIONS_PER_CALL } : s));
        }
        return servers.every((s) => roomOf(s) >= 0);
      }),
    );
  });

  it('servers of equal size share the calls: their loads end within one call of each other', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 60 }), (count, calls) => {
        let servers = Array.from({ length: count }, (_, i) => server(`fs${i + 1}`, { limit: 1000 }));
        for (let n = 0; n < calls; n++) {
          const id = chooseServer(servers, SESSIONS_PER_CALL);
          servers = servers.map((s) => (s.id === id ? { ...s, placedSinceReport: s.placedSinceReport + SESSIONS_PER_CALL } : s));
        }
        const loads = servers.map((s) => s.placedSinceReport);
        return Math.max(...loads) - Math.min(...loads) <= SESSIONS_PER_CALL;
      }),
    );
  });

  it('a refuge is never the dead server nor one that is down; there is one whenever another server is up', () => {
    fc.assert(
      fc.property(arbServers, fc.integer({ min: 1, max: 3 }), (servers, need) => {
        const dead = servers[0]?.id ?? 'fs1';
        const chosen = servers.find((s) => s.id === chooseRefuge(servers, need, dead));
        const anyOther = servers.some((s) => s.up && s.id !== dead);
        return anyOther ? chosen !== undefined && chosen.up && chosen.id !== dead : chosen === undefined;
      }),
    );
  });

  it('the retry delay grows with each failure and stays within its bound', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 100 }), (n) => retryDelayMs(n) <= retryDelayMs(n + 1) && retryDelayMs(n + 1) <= 10_000 && retryDelayMs(0) === 500));
  });
});

describe('admission', () => {
  it('a call is admitted when its whole reservation (customer, agent, helper) fits', () => {
    expect(admitCall({ capacity: 6, othersSessions: 0, reserved: 3 })).toEqual({ admitted: true });
    expect(admitCall({ capacity: 6, othersSessions: 1, reserved: 3 })).toEqual({ admitted: false, why: 'over-capacity' });
    expect(admitCall({ capacity: 0, othersSessions: 0, reserved: 0 })).toEqual({ admitted: false, why: 'no-media-server' });
  });
  it('help on an admitted call fits in its reservation unless the servers lost room', () => {
    expect(admitHelp({ capacity: 6, othersSessions: 0, reserved: 6 }, true)).toEqual({ admitted: true });
    expect(admitHelp({ capacity: 3, othersSessions: 0, reserved: 6 }, true)).toEqual({ admitted: false, why: 'over-capacity' });
    expect(admitHelp({ capacity: 6, othersSessions: 0, reserved: 6 }, false)).toEqual({ admitted: false, why: 'over-capacity' });
  });
  it('admitting calls until refused never reserves more than the capacity, and a help request is then always admitted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 30 }), (capacity, othersSessions) => {
        let reserved = 0;
        while (admitCall({ capacity, othersSessions, reserved }).admitted) reserved += SESSIONS_PER_CALL;
        const view = { capacity, othersSessions, reserved };
        return othersSessions + reserved <= Math.max(capacity, othersSessions) && (reserved === 0 || admitHelp(view, true).admitted);
      }),
    );
  });
});
