/**
 * What the API (and anything else that drives calls) can ask of the orchestrator.
 */
import type { AgentEvent, ApiRequest, CallState, HelpMode, Reply } from '../core/types.js';

/** An agent request as the API makes it: the orchestrator adds the agent snapshots the core needs. */
export type CallControlRequest =
  | Exclude<ApiRequest, { kind: 'innerhelp' | 'transfer' }>
  | {
      readonly kind: 'transfer';
      readonly workNo: string;
      /** An agent's work number, an outside number (through the gateway), or a skill queue. */
      readonly to: { readonly kind: 'agent'; readonly workNo: string } | { readonly kind: 'number'; readonly number: string } | { readonly kind: 'skill'; readonly skill: string };
      readonly fromPhone: boolean;
    }
  | {
      readonly kind: 'innerhelp';
      readonly workNo: string;
      readonly mode: HelpMode;
      readonly helper: { readonly kind: 'agent'; readonly workNo: string } | { readonly kind: 'skill'; readonly skill: string };
      readonly callappdata: string;
    };

export interface TimedAgentEvent extends AgentEvent {
  /** Milliseconds since the epoch, when the event was generated. */
  readonly eventGenTime: number;
}

/** A call in progress as it stands, for views (the supervisor's wall). */
export interface CallSnapshot {
  readonly state: CallState;
  /** When the call began (ms since the epoch): the customer's arrival, or the agent's request. */
  readonly startedAt: number;
}

export interface CallControl {
  /** An agent's request about the call it is on. Replies with a refusal when the agent has no call. */
  request(request: CallControlRequest): Promise<Reply>;
  /** callinner: ring the agent's phone, then the other agent's. Result: the new call's id. */
  callInner(workNo: string, calledWorkNo: string): Promise<Reply>;
  /** callout: ring the agent's phone, then the customer's number. Result: the new call's id. */
  callOut(workNo: string, number: string): Promise<Reply>;
  /** Every agent event, as it is generated. Returns an unsubscribe function. */
  onAgentEvent(listener: (event: TimedAgentEvent) => void): () => void;
  /** Calls in progress (for /health, metrics and the simulator). */
  activeCallCount(): number;
  /** Every call in progress, as it stands now. */
  callSnapshots(): CallSnapshot[];
}
