/**
 * How much the media servers can carry now (issue 21's admission control): a port of its own, so that the
 * orchestrator asks it without knowing the backend. The simulator's is unlimited unless a test sets a limit.
 */
export interface MediaCapacity {
  /**
   * Sessions the servers taking new calls can carry (our limits, or FreeSWITCH's max-sessions when lower), and
   * the sessions on them that are not this instance's (as FreeSWITCH last reported them).
   */
  snapshot(): { readonly capacity: number; readonly othersSessions: number };
}

/** One server's state, for /health and the admin routes. */
export interface MediaServerStatus {
  readonly id: string;
  readonly address: string;
  readonly up: boolean;
  readonly draining: boolean;
  readonly sessionLimit: number;
  /** From FreeSWITCH's last heartbeat (null before the first). */
  readonly maxSessions: number | null;
  readonly reportedSessions: number | null;
  readonly cpuIdle: number | null;
  /** This instance's legs there now. */
  readonly ourLegs: number;
  /** Calls moved away from it since the service started (it died under them). */
  readonly callsMovedAway: number;
}

