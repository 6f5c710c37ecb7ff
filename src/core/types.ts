/**
 * The pure call core: types of its state, its inputs (events) and its outputs (commands, agent events, replies).
 *
 * One CallState describes one "call": a customer call (inbound from a gateway, or an agent's outbound call to a
 * customer) or an internal agent-to-agent call, together with the help session around it. Every phone of a call is
 * one Leg: a single dialog with us, its media anchored on the media server. Who hears whom is never stored: it is
 * derived from the phase (see media-plan.ts), so state and media can never disagree.
 */

export type LegId = string;
export type CallId = string;

/** customer: the external party (B). agent: an agent's phone (A, or the helper C). */
export type LegRole = 'customer' | 'agent';

export type LegStatus = 'dialing' | 'ringing' | 'up' | 'gone';

export interface Leg {
  readonly id: LegId;
  readonly role: LegRole;
  /** The phone number: the customer's caller number, or the agent's phone. */
  readonly number: string;
  /** The agent's work number, for agent legs. */
  readonly workNo?: string;
  readonly status: LegStatus;
  /** Whether the leg was ever up (answered): decides between "cancelled" and "released" wording. */
  readonly answered: boolean;
  /** The call ids this agent's desktop knows this leg by: each gets exactly one AgentEvent_Call_Release. */
  readonly callIds: readonly CallId[];
}

/** Where a customer call is routed: a fixed agent, or a skill queue. */
export type Route = { readonly kind: 'agent'; readonly workNo: string } | { readonly kind: 'skill'; readonly skill: string };

/** What the shell tells the core about an agent when the core must choose one. */
export interface AgentSnapshot {
  readonly workNo: string;
  readonly phone: string;
  readonly signedIn: boolean;
  /** On a call (any call, this one included) or otherwise not available. */
  readonly busy: boolean;
  /** In the ready state (not "not ready", resting or in wrap-up): only ready agents get customer calls and help. */
  readonly ready: boolean;
}

export type HelpMode = 1 | 2;

export type HelpStage = 'ringing' | 'talking' | 'conference';

export interface HelpSession {
  readonly helpCallId: CallId;
  readonly mode: HelpMode;
  readonly stage: HelpStage;
  /** A: the agent who asked for help. */
  readonly owner: LegId;
  /** B: the customer. */
  readonly customer: LegId;
  /** C: the helper. */
  readonly helper: LegId;
  /** A left while C was still ringing: if C answers, B is handed to C; if C fails, B goes back to the queue. */
  readonly ownerGone: boolean;
  readonly callappdata: string;
}

export type Phase =
  /** Nothing has happened yet: the first event decides what kind of call this is. */
  | { readonly name: 'new' }
  /** The API asked for an agent-initiated call: the agent's own phone is being rung first. */
  | { readonly name: 'originating'; readonly origin: LegId; readonly target: DialTarget }
  /** `waiting` is up (hearing ringback, or music if it had been held), `target` is being rung. */
  | { readonly name: 'offering'; readonly waiting: LegId; readonly target: LegId; readonly waitingHears: 'ringback' | 'moh' }
  /** A customer waits for a free agent, hearing music. */
  | { readonly name: 'queued'; readonly customer: LegId }
  /** Two parties talk. `held`: the agent put the other party (a customer) on hold. */
  | { readonly name: 'connected'; readonly agent: LegId; readonly other: LegId; readonly held: boolean }
  | { readonly name: 'help'; readonly help: HelpSession }
  /** A blind transfer: the customer hears ringback while `target` rings; see BlindTransfer. */
  | { readonly name: 'transferring'; readonly transfer: BlindTransfer }
  /** After a blind transfer to an outside number: the customer and that number talk, no agent is left on the call. */
  | { readonly name: 'trunked'; readonly customer: LegId; readonly outside: LegId }
  | { readonly name: 'ended' };

/**
 * An agent hands the customer to another agent or an outside number without talking to them first (a handset's
 * REFER, or the transfer API). The agent leaves as soon as the target answers; if the target fails, an agent still
 * on the line gets the customer back (held, as before, if it was held), and one who already hung up leaves the
 * customer to the queue: the customer is never dropped.
 */
export interface BlindTransfer {
  /** A: the agent who transfers. */
  readonly transferor: LegId;
  /** B: the customer. */
  readonly customer: LegId;
  /** The agent's phone or the outside number being rung. */
  readonly target: LegId;
  /** A hung up (or released) while the target rang. */
  readonly transferorGone: boolean;
  /** The customer was on hold when the transfer began: a failed transfer gives it back on hold. */
  readonly wasHeld: boolean;
}

/** What the agent dials in an agent-initiated call. */
export type DialTarget =
  | { readonly kind: 'agent'; readonly workNo: string; readonly phone: string }
  | { readonly kind: 'customer'; readonly number: string };

export type CallKind = 'customer' | 'internal' | 'outbound';

export interface PendingTimer {
  readonly id: string;
  readonly purpose: 'offer-answer' | 'help-answer' | 'requeue' | 'origin-answer' | 'queue-wait' | 'transfer-answer';
}

/** What a skill queue does with a customer who waited its maximum time. */
export type QueueTreatment = { readonly kind: 'overflow'; readonly skill: string } | { readonly kind: 'reject'; readonly sipStatus: number };

export interface QueuePolicy {
  readonly maxWaitSeconds: number;
  readonly treatment: QueueTreatment;
}

export interface CallState {
  readonly callId: CallId;
  readonly kind: CallKind;
  /** For customer calls: the number they dialled (DID) and how it routes. */
  readonly called: string;
  readonly route: Route | null;
  readonly legs: Readonly<Record<LegId, Leg>>;
  readonly phase: Phase;
  readonly timer: PendingTimer | null;
  /** The customer's maximum wait in a skill queue; runs beside `timer`, from arrival until an agent answers. */
  readonly queueTimer: PendingTimer | null;
  /** The maximum wait ran out while an agent was being rung: if that agent does not answer, the treatment applies. */
  readonly waitedTooLong: boolean;
  /** Agents who let this call ring out or rejected it: not offered it again until the queue retries. */
  readonly declinedBy: readonly string[];
  /** Counter for deterministic ids (legs, help calls, timers). */
  readonly seq: number;
}

/* ----------------------------------------------------------------------------------------------------------------
 * Inputs
 * -------------------------------------------------------------------------------------------------------------- */

export type FailureReason = 'busy' | 'rejected' | 'no-answer' | 'unreachable' | 'error';

export type ApiRequest =
  | {
      readonly kind: 'innerhelp';
      readonly workNo: string;
      readonly mode: HelpMode;
      /** The helper as asked: an agent id (devicetype 2) or a skill (devicetype 1). */
      readonly helper: { readonly kind: 'agent'; readonly workNo: string } | { readonly kind: 'skill'; readonly skill: string };
      /** Snapshots of the agents that could help, in the shell's order of preference. */
      readonly candidates: readonly AgentSnapshot[];
      readonly callappdata: string;
    }
  | { readonly kind: 'dropcall'; readonly workNo: string; readonly callid: CallId }
  | { readonly kind: 'disconnect'; readonly workNo: string; readonly number: string }
  | { readonly kind: 'confjoin'; readonly workNo: string; readonly callid: CallId }
  | { readonly kind: 'hold'; readonly workNo: string }
  | { readonly kind: 'gethold'; readonly workNo: string; readonly callid: CallId | null }
  | { readonly kind: 'release'; readonly workNo: string }
  | {
      readonly kind: 'transfer';
      readonly workNo: string;
      /** An agent (with a snapshot taken as the request is decided; undefined: no such agent) or an outside number. */
      readonly to:
        | { readonly kind: 'agent'; readonly workNo: string; readonly snapshot: AgentSnapshot | undefined }
        | { readonly kind: 'number'; readonly number: string }
        /** A skill queue: the agents who have that skill (none: no such skill), longest idle first. */
        | { readonly kind: 'skill'; readonly skill: string; readonly candidates: readonly AgentSnapshot[] };
      /** The agent's handset asked (REFER), rather than its desktop. */
      readonly fromPhone: boolean;
    };

export type CallEvent =
  /** A customer's call reached us; its leg is already answered by the media server. */
  | {
      readonly type: 'CustomerArrived';
      readonly leg: { readonly id: LegId; readonly number: string };
      readonly called: string;
      readonly route: Route;
      /** Agents the route may reach, in order of preference (snapshots taken as the call arrived). */
      readonly candidates: readonly AgentSnapshot[];
    }
  /** An agent started a call from the API: callinner (target agent) or callout (target customer). */
  | {
      readonly type: 'AgentDialled';
      readonly agent: { readonly workNo: string; readonly phone: string };
      readonly target: DialTarget;
    }
  /**
   * An agent's handset called out by itself (an INVITE from the phone, answered and anchored): the same call as
   * callinner / callout, except that the agent's own leg is already up instead of being rung first.
   */
  | {
      readonly type: 'AgentPhoneCalled';
      readonly agent: { readonly workNo: string; readonly phone: string };
      readonly leg: { readonly id: LegId };
      readonly target: DialTarget;
    }
  /** Fresh agent snapshots for a call that waits for an agent (answer to the findAgent command, or a change). */
  | { readonly type: 'AgentsAvailable'; readonly candidates: readonly AgentSnapshot[] }
  | { readonly type: 'LegRinging'; readonly legId: LegId }
  | { readonly type: 'LegAnswered'; readonly legId: LegId }
  | { readonly type: 'LegFailed'; readonly legId: LegId; readonly reason: FailureReason }
  /** The phone hung up (BYE), or its channel was lost (`lost`: we must still hang the phone up). */
  | { readonly type: 'LegHungUp'; readonly legId: LegId; readonly lost?: boolean }
  | { readonly type: 'TimerFired'; readonly timerId: string }
  | { readonly type: 'Api'; readonly request: ApiRequest };

/* ----------------------------------------------------------------------------------------------------------------
 * Outputs
 * -------------------------------------------------------------------------------------------------------------- */

/** What a phone hears, as the media server must arrange it. */
export type LegMedia =
  | { readonly kind: 'bridge'; readonly peer: LegId }
  | { readonly kind: 'moh' }
  | { readonly kind: 'ringback' }
  | { readonly kind: 'room'; readonly room: string }
  | { readonly kind: 'park' };

export type Command =
  | { readonly kind: 'dial'; readonly legId: LegId; readonly number: string; readonly workNo?: string; readonly callerNumber: string; readonly callId: CallId }
  /** `sipStatus`: the queue's final status for the customer (the adapter reports it when it hangs up). */
  | { readonly kind: 'hangup'; readonly legId: LegId; readonly sipStatus?: number }
  | { readonly kind: 'bridge'; readonly a: LegId; readonly b: LegId }
  | { readonly kind: 'playHoldMusic'; readonly legId: LegId }
  | { readonly kind: 'playRingback'; readonly legId: LegId }
  | { readonly kind: 'joinRoom'; readonly room: string; readonly legId: LegId }
  | { readonly kind: 'park'; readonly legId: LegId }
  | { readonly kind: 'startTimer'; readonly timerId: string; readonly seconds: number }
  | { readonly kind: 'cancelTimer'; readonly timerId: string }
  | { readonly kind: 'findAgent'; readonly route: Route; readonly exclude: readonly string[] }
  /**
   * How a blind transfer asked for by the agent's handset goes, as a SIP status (100/180/200, or the failure):
   * the adapter tells the phone with a NOTIFY of its REFER. Nothing to do when the transfer did not come by REFER.
   */
  | { readonly kind: 'reportTransfer'; readonly legId: LegId; readonly sipStatus: number };

export type AgentEventType =
  | 'AgentEvent_Ringing'
  | 'AgentEvent_Customer_Alerting'
  | 'AgentEvent_Talking'
  | 'AgentEvent_Hold'
  | 'AgentEvent_Conference'
  | 'AgentEvent_Customer_Release'
  | 'AgentEvent_Call_Release'
  | 'AgentEvent_Consult_Fail'
  | 'AgentEvent_Inside_Call_Fail'
  /** The agent is transferring its call with its phone (REFER): content {callid, addrOut, addrSelf}. */
  | 'AgentEvent_linkagePhoneTransferOut'
  /** How a transfer ended: content {callId, result}, result 0 on success, else the target's SIP status. */
  | 'AgentEvent_SuccTransResult'
  /** The API kept the agent signed in although its desk stopped polling, because it is on a call: {reason, missedSeconds}. */
  | 'AgentState_KeptSignedIn'
  /** A supervisor joined the agent's call, switched mode, or left (when configured): content {callid, mode}, mode 'none' on leaving. */
  | 'AgentEvent_Supervisor'
  | PresenceEventType;

/** The vendor's agent state events (presence decider, src/core/presence). */
export type PresenceEventType =
  | 'AgentState_SetNotReady_Success'
  | 'AgentState_CancelNotReady_Success'
  | 'AgentState_SetRest_Success'
  | 'AgentState_CancelRest_Success'
  | 'AgentState_Rest_Timeout'
  | 'AgentState_Work'
  | 'AgentState_Ready';

export type EventContent = string | Readonly<Record<string, string | number>> | null;

export interface AgentEvent {
  readonly workNo: string;
  readonly eventType: AgentEventType;
  readonly content: EventContent;
}

export interface Refusal {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

export type Reply = { readonly ok: true; readonly result: string | null } | Refusal;

export type ErrorCode =
  | 'NO_CUSTOMER_CALL'
  | 'HELP_IN_PROGRESS'
  | 'HELPER_UNKNOWN'
  | 'HELPER_NOT_SIGNED_IN'
  | 'HELPER_BUSY'
  | 'HELPER_IS_SELF'
  | 'NO_FREE_HELPER'
  | 'NO_SUCH_CALL'
  | 'NOT_A_PARTY'
  | 'CANNOT_RELEASE_HELD_CUSTOMER'
  | 'NO_HELP_IN_PROGRESS'
  | 'NOT_ALLOWED_NOW'
  | 'ALREADY_HELD'
  | 'NOT_HELD'
  | 'AGENT_NOT_SIGNED_IN'
  | 'AGENT_BUSY'
  | 'CALLED_UNKNOWN'
  | 'CALLED_NOT_SIGNED_IN'
  | 'CALLED_BUSY'
  | 'INVALID_NUMBER'
  | 'HELPER_NOT_READY'
  | 'CALLED_NOT_READY'
  | 'TRANSFER_NOT_ALLOWED'
  | 'SKILL_UNKNOWN'
  | 'AGENT_NOT_BUSY'
  | 'AGENT_NOT_RESTING'
  /** Admission control (issue 21): the media servers cannot honour the call's reserved room now. */
  | 'NO_MEDIA_ROOM';

/** What a call's decision means for its agents' presence (the shell hands these to the presence decider). */
export type PresenceNotice =
  /** The agent's answered leg ended on a call that had a customer: wrap-up. */
  | { readonly kind: 'customer-call-ended'; readonly workNo: string }
  /** A customer call offered to the agent rang out: the agent goes not ready. */
  | { readonly kind: 'offer-unanswered'; readonly workNo: string };

export interface Decision {
  readonly state: CallState;
  readonly commands: readonly Command[];
  readonly events: readonly AgentEvent[];
  /** Present exactly when the input was an API request. */
  readonly reply?: Reply;
  readonly presence: readonly PresenceNotice[];
}

export interface CoreConfig {
  readonly helpAnswerTimeoutSeconds: number;
  readonly offerAnswerTimeoutSeconds: number;
  readonly requeueSeconds: number;
  /** Skill queues with a maximum wait, by skill; a skill not listed waits as long as it takes. */
  readonly queues?: Readonly<Record<string, QueuePolicy>>;
}
