/**
 * Agent presence, the pure decider beside the call decider: whether a signed-in agent wants calls (ready, not ready,
 * rest, wrap-up), since when it has been idle, and the vendor's AgentState_* events for each change.
 *
 * Being on a call is not a presence state of its own: the shell derives it from the calls and tells the decider
 * (CallsChanged), so presence and calls can never disagree. Time only ever comes in with the events (`at`, ms).
 */
import type { AgentEvent, Reply } from '../types.js';

/** What the agent asked for (or was put in): the vendor's idle / busy / rest / wrap-up ("work") states. */
export type PresenceStatus = 'ready' | 'not-ready' | 'rest' | 'wrap-up';

export interface PresenceTimer {
  readonly id: string;
  readonly purpose: 'wrap-up' | 'rest';
  /**
   * When it runs out (ms since the epoch, from the time of the event that started it). Kept with the agent's state,
   * so any instance can end the wrap-up or rest of an agent whose timer's instance died (see AgentDirectory).
   */
  readonly dueAt: number;
}

export interface AgentPresence {
  readonly workNo: string;
  readonly status: PresenceStatus;
  /** The not-ready reason code (vendor's busy reasons: 0 none, 2 did not answer, 200–250 the site's own) or rest cause. */
  readonly reason: number;
  /** Holds a call (ringing or talking), as the shell derives it from the calls. */
  readonly onCall: boolean;
  /** When the agent last became ready with no call (ms); null while it is not. The longest idle gets the next call. */
  readonly idleSince: number | null;
  readonly timer: PresenceTimer | null;
  /** Counter for deterministic timer ids. */
  readonly seq: number;
}

/** The vendor's not-ready reason for an agent who let an offered call ring out ("forced to show busy"). */
export const NO_ANSWER_REASON = 2;

export type PresenceRequest =
  | { readonly kind: 'saybusy'; readonly reason: number }
  | { readonly kind: 'sayfree' }
  | { readonly kind: 'cancelbusy' }
  | { readonly kind: 'rest'; readonly seconds: number; readonly reason: number }
  | { readonly kind: 'cancelrest' };

export type PresenceEvent =
  | { readonly type: 'SignedIn'; readonly workNo: string; readonly at: number }
  | { readonly type: 'SignedOut'; readonly at: number }
  | { readonly type: 'CallsChanged'; readonly onCall: boolean; readonly at: number }
  /** An answered leg of this agent ended on a call that had a customer on it: wrap-up is due. */
  | { readonly type: 'CustomerCallEnded'; readonly at: number }
  /** A customer call offered to this agent rang out (or the phone could not be reached). */
  | { readonly type: 'OfferUnanswered'; readonly at: number }
  | { readonly type: 'TimerFired'; readonly timerId: string; readonly at: number }
  | { readonly type: 'Request'; readonly request: PresenceRequest; readonly at: number };

export type PresenceCommand =
  | { readonly kind: 'startTimer'; readonly timerId: string; readonly seconds: number }
  | { readonly kind: 'cancelTimer'; readonly timerId: string };

export interface PresenceDecision {
  /** null: the agent is not signed in. */
  readonly state: AgentPresence | null;
  readonly commands: readonly PresenceCommand[];
  readonly events: readonly AgentEvent[];
  /** Present exactly when the input was a request. */
  readonly reply?: Reply;
}

export interface PresenceConfig {
  /** The state a signed-in agent starts in. */
  readonly initialStatus: 'ready' | 'not-ready';
  /** Wrap-up after each customer call; 0: none, the agent is ready at once. */
  readonly wrapUpSeconds: number;
}
