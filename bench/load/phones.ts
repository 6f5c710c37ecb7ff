/**
 * The phones around the service, as the driver sees them. Two implementations: the simulator's phones played
 * through /sim (sim-phones.ts) and SIPp processes on a real stack (sipp-phones.ts). Either way each phone acts by
 * its pool (plan.ts) and leaves time stamps the driver turns into latencies.
 */
import type { AgentEvent } from './api.js';
import type { Agent, SessionPlan } from './plan.js';

/**
 * One thing a phone did, on the driver's machine clock (ms since the epoch).
 * who customer: invite (INVITE sent), answered (200 received), bye-sent, bye-received;
 * who phone: invite (INVITE received; sim: the agent's AgentEvent_Ringing), answered (200 sent), rejected,
 * cancelled, bye-sent, bye-received.
 */
export interface Stamp {
  readonly who: 'customer' | 'phone';
  readonly what: string;
  readonly number: string;
  readonly t: number;
}

export interface Leftover {
  readonly what: string;
  readonly count: number;
  readonly detail?: string;
}

export interface Phones {
  readonly name: string;
  /** Starts the agents' phones (before anyone signs in). */
  startPhones(agents: readonly Agent[]): Promise<void>;
  /** Starts the customers' calls: `plans` in order, `rate` per second. */
  startCustomers(plans: readonly SessionPlan[], rate: number): Promise<void>;
  /** Every agent event, as it arrives (the simulator's phones act on them: ring, answer). */
  onAgentEvent(event: AgentEvent, agent: Agent): void;
  /** The customer's phone hangs up now, if it can be told to (the simulator's can; SIPp's follow their script). */
  abandon(customer: string): Promise<void>;
  /** Resolves when every customer call has been placed (and, for SIPp, its process has ended). */
  customersDone(timeoutMs: number): Promise<void>;
  /** Every stamp so far (SIPp: read from its logs, complete once the processes have ended). */
  stamps(): Promise<Stamp[]>;
  /** Calls, channels, rooms, dialogs left on the telephony side. */
  leftovers(): Promise<Leftover[]>;
  /** Failures the phones saw themselves (SIPp's failed calls), by phone kind. */
  failures(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
