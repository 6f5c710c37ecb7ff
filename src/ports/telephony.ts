/**
 * The two ports through which the orchestrator moves real (or simulated) phones.
 *
 * A leg is one phone's single dialog with us; its media is anchored on the media server, so every change of who
 * hears whom is a media operation on legs, never a re-INVITE towards a phone. Leg ids are chosen by the core for
 * the legs it dials, and by the backend for incoming calls.
 */
import type { CallId, FailureReason, LegId } from '../core/types.js';

export interface DialRequest {
  readonly legId: LegId;
  readonly callId: CallId;
  /** The phone to ring: an agent's phone number or a customer's number. */
  readonly number: string;
  /** Set when the phone belongs to an agent (lets the backend find the agent's contact). */
  readonly workNo?: string;
  /** The number shown to the called phone. */
  readonly callerNumber: string;
}

/** How the backend reports what phones do. Every callback may be called at any time, also late or twice. */
export interface SignallingEvents {
  /** A phone we dial is ringing (180/183). */
  ringing(legId: LegId): void;
  /** A phone we dial answered, and its media is anchored on the media server. */
  answered(legId: LegId): void;
  /**
   * A phone we dial will not answer: busy, rejected, unreachable, or a set-up error. Also for an incoming call
   * that the caller cancelled (or that could not be anchored) after `incoming` accepted it.
   */
  failed(legId: LegId, reason: FailureReason): void;
  /** An established phone hung up (BYE), or its media channel was lost (`lost`). */
  hungUp(legId: LegId, lost: boolean): void;
  /**
   * A phone put its call on hold with its own button (a re-INVITE sendonly/inactive), or resumed it. Only what
   * the phone asked: the call's parties hear what the core decides (the backend already answered the phone).
   */
  phoneHeld(legId: LegId, held: boolean): void;
  /** A key the phone pressed (RFC 2833 telephone-event), one digit of 0-9, *, #, A-D. */
  dtmf(legId: LegId, digit: string): void;
  /**
   * The phone asked to transfer its call to `to` (a REFER's Refer-To user part: an agent's number or an outside
   * number). Accepted: the backend answers 202 and reports progress as `reportTransfer` is called; refused: the
   * backend answers the REFER with the status given, and the call goes on as it was.
   *
   * `replaces`: an attended transfer (the Refer-To carries a Replaces naming another of the phone's dialogs): the
   * leg whose dialog it names, or null when it names no dialog of ours.
   */
  transferRequested(legId: LegId, to: string, replaces?: LegId | null): Promise<IncomingDecision>;
  /**
   * A customer's call arrived for `to` (a DID). The backend has NOT answered it yet: it answers (anchoring it on the
   * media server) only when this resolves `accept`, and otherwise refuses with the SIP status given.
   */
  incoming(call: IncomingCall): Promise<IncomingDecision>;
  /** The incoming call was answered and anchored: from now on it is a leg like any other. */
  incomingAnswered(legId: LegId): void;
  /**
   * These legs' media server died and they now live on another one, hearing nothing yet: their media must be set
   * again from their calls' phases. The phones' dialogs went on (no hang-up, no event to the desks).
   */
  mediaMoved?(legIds: readonly LegId[]): void;
}

export interface IncomingCall {
  readonly legId: LegId;
  readonly from: string;
  readonly to: string;
  /**
   * The phone whose credentials the caller proved (SIP digest): a handset calling out by itself. Absent for a
   * call from a gateway (customers), which may only reach DIDs; the backend asks for credentials when it is
   * refused with status 401 and has a way to check them.
   */
  readonly caller?: string;
}

export type IncomingDecision =
  | { readonly accept: true }
  /** `retryAfterSeconds`: sent as Retry-After with the refusal (a 503 of admission control). */
  | { readonly accept: false; readonly status: number; readonly reason: string; readonly retryAfterSeconds?: number };

export interface SignallingPort {
  /** Start ringing a phone; the outcome arrives through SignallingEvents. Never throws: failures are reported. */
  dial(request: DialRequest): void;
  /**
   * Hang a leg up (CANCEL while it rings, BYE when up); a leg already gone is ignored. `sipStatus`: why, as a SIP
   * status (a skill queue's final treatment); an answered leg can no longer get it as a final response, so an
   * adapter may carry it in a Reason header (RFC 3326) or only log it.
   */
  hangup(legId: LegId, sipStatus?: number): Promise<void>;
  /**
   * The service is stopping: from now on every new incoming call is refused with 503 and a Retry-After of
   * `retryAfterSeconds`, before `SignallingEvents.incoming` is asked. Calls already taken go on; dial() still works.
   */
  drain(retryAfterSeconds: number, options?: { readonly othersTakeCalls: boolean }): void;
  /**
   * How a transfer the phone on `legId` asked for (transferRequested) goes: 100/180 on the way, 200 done, or the
   * failure's status; a final status ends the report. Ignored for a leg whose phone asked no transfer.
   */
  reportTransfer(legId: LegId, sipStatus: number): void;
  /** Where a leg lives on the servers (its dialog id, its media channel), for the call's record in the store. */
  locate(legId: LegId): { readonly dialogId?: string; readonly channelUuid?: string };
  /**
   * Ends legs another instance made and can no longer end (it died): a BYE by dialog id to each phone, and each
   * media channel killed. Never throws; resolves when every attempt has an answer or timed out.
   */
  releaseForeign(legs: readonly { readonly legId: LegId; readonly dialogId?: string; readonly channelUuid?: string }[]): Promise<void>;
}

export interface MediaPort {
  /** The two legs hear each other, and nothing else. */
  bridge(a: LegId, b: LegId): Promise<void>;
  /** The leg hears hold music that loops until the leg is moved elsewhere. */
  playHoldMusic(legId: LegId): Promise<void>;
  /** The leg hears a ringback tone that loops until the leg is moved elsewhere. */
  playRingback(legId: LegId): Promise<void>;
  /** The leg joins a mixing room by name; it survives the room's end. */
  joinRoom(room: string, legId: LegId): Promise<void>;
  /** The leg hears nothing (an agent whose customer is on hold). */
  park(legId: LegId): Promise<void>;
  /** A short error tone to this leg only, over whatever it hears (a keypad request that was refused). */
  playErrorTone(legId: LegId): Promise<void>;
}

/** A backend: the simulated one, or drachtio + FreeSWITCH. */
export interface TelephonyBackend {
  readonly name: 'sim' | 'drachtio';
  readonly signalling: SignallingPort;
  readonly media: MediaPort;
  /** Connects to servers (if any) and starts delivering events. */
  start(events: SignallingEvents): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A media operation failed because of one leg (its channel is gone, or the server refused it for that leg).
 * The orchestrator treats that leg as lost; any other error is logged and the call goes on.
 */
export class LegMediaError extends Error {
  constructor(
    readonly legId: LegId,
    message: string,
  ) {
    super(message);
    this.name = 'LegMediaError';
  }
}
