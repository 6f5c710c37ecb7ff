/**
 * Which media server takes a new call, and whether the service may take a call or a help session at all
 * (issue 21). Pure: the shell passes what each server last reported and what this instance placed since.
 */

/** One media server as the shell sees it at the moment of choosing. */
export interface ServerLoad {
  readonly id: string;
  /** Its connections are up (a server that stopped answering is not, until it answers again). */
  readonly up: boolean;
  /** An operator drained it: no new calls; its calls end naturally. */
  readonly draining: boolean;
  /** Our session limit for it (configuration). */
  readonly limit: number;
  /** FreeSWITCH's own max-sessions from its heartbeat (0: not reported yet). */
  readonly maxSessions: number;
  /** Sessions FreeSWITCH reported in its last heartbeat (every instance's, and anybody else's). */
  readonly reportedSessions: number;
  /** Sessions this instance placed there since that heartbeat (not in the report yet). */
  readonly placedSinceReport: number;
}

/** What a server can carry: our limit, or FreeSWITCH's own max-sessions when that is lower. */
export function capacityOf(server: ServerLoad): number {
  return server.maxSessions > 0 ? Math.min(server.limit, server.maxSessions) : server.limit;
}

/** Sessions still free on a server (negative when over). */
export function roomOf(server: ServerLoad): number {
  return capacityOf(server) - server.reportedSessions - server.placedSinceReport;
}

/** A server new calls may go to. */
export function takesNewCalls(server: ServerLoad): boolean {
  return server.up && !server.draining;
}

/**
 * The server for a new call that needs `need` sessions: of those taking new calls and with that much room, the one
 * with the most room; on a tie the first in the configuration's order. Null when none fits. `exclude`: a server
 * the call must leave (it is dying).
 */
export function chooseServer(servers: readonly ServerLoad[], need = 1, exclude?: string): string | null {
  let best: ServerLoad | null = null;
  for (const server of servers) {
    if (!takesNewCalls(server) || server.id === exclude || roomOf(server) < need) continue;
    if (best === null || roomOf(server) > roomOf(best)) best = server;
  }
  return best?.id ?? null;
}

/**
 * The server a call lost with its server moves to: like a new call, but a full server is better than none (the
 * call was admitted; its parties must not be left in silence), so the one with most room among those up.
 */
export function chooseRefuge(servers: readonly ServerLoad[], need: number, dead: string): string | null {
  const fits = chooseServer(servers, need, dead);
  if (fits !== null) return fits;
  let best: ServerLoad | null = null;
  for (const server of servers) {
    if (!server.up || server.id === dead) continue;
    if (best === null || roomOf(server) > roomOf(best)) best = server;
  }
  return best?.id ?? null;
}

/** How long to wait before trying a server that stopped answering again, after `failures` failed attempts. */
export function retryDelayMs(failures: number, baseMs = 500, maxMs = 10_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures, 0), 20));
}

/* ------------------------------------------------------------------------------------------ admission */

/** Sessions each admitted call reserves: the customer, the agent, and a helper (a help session never lacks room). */
export const SESSIONS_PER_CALL = 3;

/** What the service can carry now, and what is taken. */
export interface CapacityView {
  /** Sum of the capacities of the servers taking new calls. */
  readonly capacity: number;
  /** Sessions on those servers that are not this instance's (other instances, or anyone else). */
  readonly othersSessions: number;
  /** Sessions this instance's admitted calls hold in reserve (SESSIONS_PER_CALL each). */
  readonly reserved: number;
}

export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly why: 'no-media-server' | 'over-capacity' };

/** A new call (a customer's, an internal or outbound one): admitted when its whole reservation fits. */
export function admitCall(view: CapacityView, need = SESSIONS_PER_CALL): Admission {
  if (view.capacity <= 0) return { admitted: false, why: 'no-media-server' };
  return view.othersSessions + view.reserved + need <= view.capacity ? { admitted: true } : { admitted: false, why: 'over-capacity' };
}

/**
 * A help request on an admitted call: its helper's session is in the call's reservation, so it is refused only
 * when the servers can no longer honour the reservations (a server was lost or drained, or others took the room).
 * A call without a reservation needs one free session.
 */
export function admitHelp(view: CapacityView, reservedForCall: boolean): Admission {
  if (view.capacity <= 0) return { admitted: false, why: 'no-media-server' };
  const extra = reservedForCall ? 0 : 1;
  return view.othersSessions + view.reserved + extra <= view.capacity ? { admitted: true } : { admitted: false, why: 'over-capacity' };
}
