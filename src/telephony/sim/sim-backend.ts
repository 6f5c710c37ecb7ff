/**
 * A telephony backend in memory: phones that ring, answer, reject and hang up on command, and a media server that
 * keeps a graph of who hears whom. It implements the same ports as the real drachtio + FreeSWITCH backend and
 * copies its behaviour where it matters: bridging a leg takes it away from its former partner (who is then
 * parked and hears nothing, like FreeSWITCH's park_after_bridge), room members survive each other, and any media
 * operation on a leg that has gone fails.
 */
import type { LegId } from '../../core/types.js';
import { failureReasonForStatus } from '../sip-status.js';
import type { MediaCapacity } from '../../ports/media-capacity.js';
import type { SupervisionMediaPort } from '../../ports/supervision-media.js';
import { LegMediaError, type DialRequest, type MediaPort, type SignallingEvents, type SignallingPort, type TelephonyBackend } from '../../ports/telephony.js';

export type SimPhoneState = 'idle' | 'ringing' | 'talking';

type SimMedia =
  | { kind: 'none' }
  | { kind: 'bridge'; peer: LegId }
  | { kind: 'moh' }
  | { kind: 'ringback' }
  | { kind: 'room'; room: string };

interface SimLeg {
  readonly id: LegId;
  readonly number: string;
  readonly direction: 'in' | 'out';
  status: 'ringing' | 'up' | 'gone';
  media: SimMedia;
  /** A supervisor's leg in a room: the room members that hear it (null: all, as any member). */
  heardOnlyBy?: ReadonlySet<LegId> | null;
}

export interface SimPhoneView {
  readonly state: SimPhoneState;
  /** Phone numbers this phone hears, "moh" for hold music, "ringback" for ringback. */
  readonly hears: string[];
  /** Idle phone whose last call we ended with a status (a queue's final treatment): that status. */
  readonly endedWith?: number;
}

export { failureReasonForStatus };

export type PlaceCallResult =
  | { readonly ok: true; readonly id: LegId }
  | { readonly ok: false; readonly status: number; readonly reason: string; readonly retryAfterSeconds?: number };

export class SimError extends Error {
  constructor(
    message: string,
    readonly code: 'NO_CALL' | 'NOT_RINGING' | 'BUSY' | 'LEG_GONE' | 'NOT_STARTED',
  ) {
    super(message);
  }
}

/**
 * Every simulated backend of this process: the phones' side of several instances' dialogs. Another instance's
 * BYE (releaseForeign, after a crash) reaches a phone through it, as drachtio-server carries a BYE named by dialog id.
 */
const running = new Set<SimBackend>();

export class SimBackend implements TelephonyBackend {
  readonly name = 'sim' as const;
  private events: SignallingEvents | null = null;
  private readonly legs = new Map<LegId, SimLeg>();
  private incomingSeq = 0;
  /** number -> the SIP status its last call was ended with by us, when one was given. */
  private readonly endedWith = new Map<string, number>();
  /** Media operations to fail on purpose (tests of media-server failures): legId -> remaining failures. */
  private readonly mediaFaults = new Map<LegId, number>();

  /** Error tones each phone has heard (keypad refusals). */
  private readonly errorTones = new Map<string, number>();

  /** Set by drain(): new customer calls are refused with 503 and this Retry-After. */
  private retryAfterSeconds: number | null = null;

  readonly signalling: SignallingPort = {
    dial: (request: DialRequest) => this.dial(request),
    hangup: async (legId: LegId, sipStatus?: number) => this.hangupLeg(legId, sipStatus),
    drain: (retryAfterSeconds: number) => {
      this.retryAfterSeconds = retryAfterSeconds;
    },
    reportTransfer: (legId: LegId, sipStatus: number) => {
      // Like a REFER's subscription: only a leg whose phone asked for a transfer hears, until a final status.
      const reports = this.transferReports.get(legId);
      if (!reports || (reports.at(-1) ?? 0) >= 200) return;
      reports.push(sipStatus);
    },
    // The leg id stands for both the dialog and the media channel here.
    locate: (legId: LegId) => (this.legs.has(legId) ? { dialogId: legId, channelUuid: legId } : {}),
    releaseForeign: async (legs) => {
      for (const { dialogId } of legs) {
        if (dialogId === undefined) continue;
        for (const backend of running) backend.byeFromElsewhere(dialogId);
      }
    },
  };

  /** Legs whose phone asked for a transfer (REFER accepted) -> the statuses reported to it (NOTIFY), 100 first. */
  private readonly transferReports = new Map<LegId, number[]>();

  readonly media: MediaPort = {
    bridge: (a, b) =>
      this.operate([a, b], () => {
        const la = this.mediaLeg(a);
        const lb = this.mediaLeg(b);
        this.detach(la);
        this.detach(lb);
        la.media = { kind: 'bridge', peer: b };
        lb.media = { kind: 'bridge', peer: a };
      }),
    playHoldMusic: (legId) => this.operate([legId], () => this.setMedia(legId, { kind: 'moh' })),
    playRingback: (legId) => this.operate([legId], () => this.setMedia(legId, { kind: 'ringback' })),
    joinRoom: (room, legId) => this.operate([legId], () => this.setMedia(legId, { kind: 'room', room })),
    playErrorTone: async (legId) => {
      const leg = this.mediaLeg(legId);
      this.errorTones.set(leg.number, (this.errorTones.get(leg.number) ?? 0) + 1);
    },
    park: (legId) => this.operate([legId], () => this.setMedia(legId, { kind: 'none' })),
  };

  /** A supervisor's leg in a call's room, heard by `heardBy` only (see SupervisionMediaPort). */
  readonly supervision: SupervisionMediaPort = {
    superviseAudio: (room, legId, _inRoom, heardBy) =>
      this.operate([legId], () => {
        const leg = this.mediaLeg(legId);
        if (leg.media.kind !== 'room' || leg.media.room !== room) this.setMedia(legId, { kind: 'room', room });
        leg.heardOnlyBy = new Set(heardBy);
      }),
  };

  /**
   * Legs whose media operations get no answer, as FreeSWITCH gives none to a command sent on a channel that is
   * going away: each waits until its leg is gone and then fails (the real adapter fails it the same way, at once).
   */
  private readonly stalled = new Map<LegId, { fail: () => void }[]>();

  async start(events: SignallingEvents): Promise<void> {
    this.events = events;
    running.add(this);
  }

  /** Like the real backend, stopping hangs up every phone still on a call. */
  async stop(): Promise<void> {
    for (const leg of this.legs.values()) if (leg.status !== 'gone') this.goneWithMedia(leg);
    this.events = null;
    running.delete(this);
  }

  /**
   * The instance behind this backend dies (kill -9): nothing it made is ended and nothing more reaches it. The
   * phones stay in their calls, as real phones do, until another instance sends them BYE (releaseForeign).
   */
  crash(): void {
    const nobody = (): void => undefined;
    this.events = {
      ringing: nobody,
      answered: nobody,
      failed: nobody,
      hungUp: nobody,
      phoneHeld: nobody,
      dtmf: nobody,
      incomingAnswered: nobody,
      transferRequested: async () => ({ accept: false, status: 503, reason: 'Service Unavailable' }),
      incoming: async () => ({ accept: false, status: 503, reason: 'Service Unavailable' }),
    };
  }

  /** A BYE from another instance for one of this backend's dialogs: the phone hangs up its side. */
  private byeFromElsewhere(legId: LegId): void {
    const leg = this.legs.get(legId);
    if (!leg || leg.status === 'gone') return;
    this.goneWithMedia(leg);
    this.events?.hungUp(leg.id, false);
  }

  /* ------------------------------------------------------------------ the phones, as a person or a test plays them */

  /**
   * A phone dials: a customer dials a DID; with `asHandset`, the phone calls as a handset that proved who it is
   * (the simulator stands for SIP digest there). Resolves once the call is answered (anchored) or refused.
   */
  async placeCustomerCall(from: string, to: string, asHandset = false): Promise<PlaceCallResult> {
    const events = this.requireEvents();
    if (this.retryAfterSeconds !== null) return { ok: false, status: 503, reason: 'the service is stopping', retryAfterSeconds: this.retryAfterSeconds };
    // A handset with every call of its established may call on a second line (a consultation); anything else is busy.
    const lines = this.activeLegsOf(from);
    if (lines.length > 0 && !(asHandset && lines.every((l) => l.status === 'up'))) return { ok: false, status: 486, reason: `phone ${from} is already on a call` };
    const legId = `sim-in-${++this.incomingSeq}`;
    this.endedWith.delete(from);
    // Reserve the phone while routing is decided, as a real INVITE in progress would.
    const leg: SimLeg = { id: legId, number: from, direction: 'in', status: 'ringing', media: { kind: 'none' } };
    this.legs.set(legId, leg);
    const decision = await events.incoming({ legId, from, to, ...(asHandset ? { caller: from } : {}) });
    if (!decision.accept) {
      leg.status = 'gone';
      return { ok: false, status: decision.status, reason: decision.reason, ...(decision.retryAfterSeconds !== undefined ? { retryAfterSeconds: decision.retryAfterSeconds } : {}) };
    }
    leg.status = 'up';
    events.incomingAnswered(legId);
    return { ok: true, id: legId };
  }

  answer(number: string): void {
    const leg = this.activeLegOf(number);
    if (!leg) throw new SimError(`phone ${number} has no call`, 'NO_CALL');
    if (leg.status !== 'ringing' || leg.direction !== 'out') throw new SimError(`phone ${number} is not ringing`, 'NOT_RINGING');
    leg.status = 'up';
    this.requireEvents().answered(leg.id);
  }

  reject(number: string, status = 486): void {
    const leg = this.activeLegOf(number);
    if (!leg) throw new SimError(`phone ${number} has no call`, 'NO_CALL');
    if (leg.status !== 'ringing' || leg.direction !== 'out') throw new SimError(`phone ${number} is not ringing`, 'NOT_RINGING');
    leg.status = 'gone';
    this.requireEvents().failed(leg.id, failureReasonForStatus(status));
  }

  /** The phone hangs up (its first line, or the line of `legId`): BYE when talking; a ringing phone declines (603). */
  hangup(number: string, legId?: LegId): void {
    const leg = legId === undefined ? this.activeLegOf(number) : this.activeLegsOf(number).find((l) => l.id === legId);
    if (!leg) throw new SimError(`phone ${number} has no call`, 'NO_CALL');
    if (leg.status === 'ringing') {
      this.reject(number, 603);
      return;
    }
    this.goneWithMedia(leg);
    this.requireEvents().hungUp(leg.id, false);
  }

  /** The phone presses keys (RFC 2833 digits), one after the other. */
  pressKeys(number: string, digits: string): void {
    const leg = this.activeLegOf(number);
    if (!leg || leg.status !== 'up') throw new SimError(`phone ${number} has no established call`, 'NO_CALL');
    for (const digit of digits) this.requireEvents().dtmf(leg.id, digit);
  }

  /**
   * The phone's transfer button (a REFER with Refer-To `to`): resolves with the answer to the REFER, 202 when
   * accepted (the phone is then told how it goes: transferNotices) or the refusal's status.
   */
  async transferButton(number: string, to: string, attended?: { readonly onLeg?: LegId; readonly replaces: LegId | null }): Promise<{ status: number; reason: string }> {
    // An attended transfer (Replaces) is sent on the line the phone chooses (the held call by default: its first).
    const leg = attended?.onLeg === undefined ? this.activeLegOf(number) : this.activeLegsOf(number).find((l) => l.id === attended.onLeg);
    if (!leg || leg.status !== 'up') throw new SimError(`phone ${number} has no established call`, 'NO_CALL');
    // Reports may come before the answer is sent (the target rings at once): they wait behind the 100.
    this.transferReports.set(leg.id, [100]);
    // The leg id stands for the dialog: a Replaces naming a dialog this backend does not have is `null`.
    const replaces = attended === undefined ? undefined : attended.replaces !== null && this.legs.get(attended.replaces)?.status === 'up' ? attended.replaces : null;
    const decision = await this.requireEvents().transferRequested(leg.id, to, replaces);
    if (decision.accept) return { status: 202, reason: 'Accepted' };
    this.transferReports.delete(leg.id);
    return { status: decision.status, reason: decision.reason };
  }

  /** The statuses the phone's last accepted transfer was reported with (NOTIFY sipfrag), in order. */
  transferNotices(number: string): number[] {
    const legs = [...this.legs.values()].filter((l) => l.number === number && this.transferReports.has(l.id));
    const last = legs.at(-1);
    return last ? [...(this.transferReports.get(last.id) ?? [])] : [];
  }

  /** How many error tones the phone has heard. */
  errorTonesHeard(number: string): number {
    return this.errorTones.get(number) ?? 0;
  }

  /** The phone's own hold button (a re-INVITE sendonly) or its resume: the media server is not told. */
  holdButton(number: string, held: boolean): void {
    const leg = this.activeLegOf(number);
    if (!leg || leg.status !== 'up') throw new SimError(`phone ${number} has no established call`, 'NO_CALL');
    this.requireEvents().phoneHeld(leg.id, held);
  }

  /** The media server loses a leg's channel (as when FreeSWITCH restarts): the phone is still up. */
  loseChannel(number: string): void {
    const leg = this.activeLegOf(number);
    if (!leg || leg.status !== 'up') throw new SimError(`phone ${number} has no established call`, 'NO_CALL');
    this.detach(leg);
    leg.media = { kind: 'none' };
    this.failStalled(leg.id);
    this.requireEvents().hungUp(leg.id, true);
  }

  /**
   * The media server under the calls dies (kill -9), as the real media-server pool sees it (issue 21). With another
   * server up (`spare`, the default) every established leg moves there: its phone gets a re-INVITE; a phone listed
   * in `unanswered` does not answer it and is hung up (BYE), as if that party had left; the others hear nothing
   * until the service sets their media again (mediaMoved). Without a spare, every channel is lost, as with one
   * server. Returns the legs moved.
   */
  loseMediaServer(options: { readonly spare?: boolean; readonly unanswered?: readonly string[] } = {}): LegId[] {
    const events = this.requireEvents();
    const up = [...this.legs.values()].filter((leg) => leg.status === 'up');
    for (const leg of up) {
      this.detach(leg);
      leg.media = { kind: 'none' };
    }
    const moved: LegId[] = [];
    for (const leg of up) {
      if (options.spare === false) {
        this.failStalled(leg.id);
        events.hungUp(leg.id, true);
      } else if (options.unanswered?.includes(leg.number)) {
        this.goneWithMedia(leg);
        events.hungUp(leg.id, true);
      } else {
        moved.push(leg.id);
      }
    }
    this.mediaMoves += moved.length;
    if (moved.length > 0) events.mediaMoved?.(moved);
    return moved;
  }

  /** Legs moved to another media server so far (loseMediaServer). */
  mediaMoves = 0;

  /** Sessions the simulated media servers can carry (null: unlimited); tests of admission control set it. */
  mediaSessionLimit: number | null = null;

  readonly capacity: MediaCapacity = {
    snapshot: () => ({ capacity: this.mediaSessionLimit ?? Number.MAX_SAFE_INTEGER, othersSessions: 0 }),
  };

  /**
   * The signalling server restarts (drachtio-server killed and back): every dialog is gone, so every leg ends at
   * once, as the real adapter ends them (DrachtioSignalling.dialogsLost): an established leg is lost, a ringing one
   * failed. The phones go idle (a real phone learns it from its own BYE's 481, or from the one BYE that still
   * gets through).
   */
  loseSignalling(): void {
    const events = this.requireEvents();
    for (const leg of [...this.legs.values()]) {
      if (leg.status === 'gone') continue;
      const wasUp = leg.status === 'up';
      this.goneWithMedia(leg);
      if (wasUp) events.hungUp(leg.id, true);
      else events.failed(leg.id, 'error');
    }
  }

  /**
   * From now on, media operations on this phone's leg are never answered while the leg is up; when it goes (the
   * phone hangs up, or its channel is lost) they fail. Models a command crossing a hang-up on the media server.
   */
  stallMediaFor(number: string): void {
    const leg = this.activeLegOf(number);
    if (!leg) throw new SimError(`phone ${number} has no call`, 'NO_CALL');
    if (!this.stalled.has(leg.id)) this.stalled.set(leg.id, []);
  }

  /** Media operations waiting for an answer that will not come while their leg is up. */
  get stalledOperations(): number {
    let count = 0;
    for (const waiting of this.stalled.values()) count += waiting.length;
    return count;
  }

  /** Make the next `count` media operations on this phone's leg fail. */
  failMediaFor(number: string, count = 1): void {
    const leg = this.activeLegOf(number);
    if (!leg) throw new SimError(`phone ${number} has no call`, 'NO_CALL');
    this.mediaFaults.set(leg.id, count);
  }

  phone(number: string): SimPhoneView {
    const leg = this.activeLegOf(number);
    const endedWith = this.endedWith.get(number);
    if (!leg) return endedWith === undefined ? { state: 'idle', hears: [] } : { state: 'idle', hears: [], endedWith };
    if (leg.status === 'ringing') return { state: 'ringing', hears: [] };
    return { state: 'talking', hears: this.hears(leg) };
  }

  /** Every phone that has or had a leg, with what it hears now. */
  phones(): Record<string, SimPhoneView> {
    const result: Record<string, SimPhoneView> = {};
    for (const leg of this.legs.values()) result[leg.number] = this.phone(leg.number);
    return result;
  }

  /** The leg id of the phone's current call, if any (tests use it to check that events name the right leg). */
  legOf(number: string): LegId | undefined {
    return this.activeLegOf(number)?.id;
  }

  /* ------------------------------------------------------------------ internals */

  private dial(request: DialRequest): void {
    const events = this.requireEvents();
    if (this.activeLegOf(request.number)) {
      // A phone with a call is busy: a real handset would answer 486.
      queueMicrotask(() => events.failed(request.legId, 'busy'));
      return;
    }
    const leg: SimLeg = { id: request.legId, number: request.number, direction: 'out', status: 'ringing', media: { kind: 'none' } };
    this.legs.set(leg.id, leg);
    queueMicrotask(() => {
      if (leg.status === 'ringing') events.ringing(leg.id);
    });
  }

  private hangupLeg(legId: LegId, sipStatus?: number): void {
    const leg = this.legs.get(legId);
    if (!leg || leg.status === 'gone') return;
    if (sipStatus === undefined) this.endedWith.delete(leg.number);
    else this.endedWith.set(leg.number, sipStatus);
    this.goneWithMedia(leg);
  }

  private goneWithMedia(leg: SimLeg): void {
    this.detach(leg);
    leg.media = { kind: 'none' };
    leg.status = 'gone';
    this.failStalled(leg.id);
  }

  /** Runs a media operation, or leaves it unanswered while one of its legs is stalled. */
  private operate(legIds: LegId[], apply: () => void): Promise<void> {
    const stalledLeg = legIds.find((id) => this.stalled.has(id) && this.legs.get(id)?.status === 'up');
    if (stalledLeg === undefined) {
      try {
        apply();
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    return new Promise<void>((_resolve, reject) => {
      this.stalled.get(stalledLeg)?.push({ fail: () => reject(new LegMediaError(stalledLeg, `leg ${stalledLeg} went away while its media operation was pending`)) });
    });
  }

  private failStalled(legId: LegId): void {
    const waiting = this.stalled.get(legId);
    if (!waiting) return;
    this.stalled.delete(legId);
    for (const operation of waiting) operation.fail();
  }

  private setMedia(legId: LegId, media: SimMedia): void {
    const leg = this.mediaLeg(legId);
    this.detach(leg);
    leg.media = media;
    leg.heardOnlyBy = null;
  }

  /** A bridge is two-sided: taking one leg out of it parks its partner. */
  private detach(leg: SimLeg): void {
    if (leg.media.kind !== 'bridge') return;
    const peer = this.legs.get(leg.media.peer);
    if (peer && peer.media.kind === 'bridge' && peer.media.peer === leg.id) peer.media = { kind: 'none' };
    leg.media = { kind: 'none' };
  }

  private mediaLeg(legId: LegId): SimLeg {
    const leg = this.legs.get(legId);
    if (!leg || leg.status !== 'up') throw new LegMediaError(legId, `media operation on leg ${legId} that is not up`);
    const faults = this.mediaFaults.get(legId) ?? 0;
    if (faults > 0) {
      this.mediaFaults.set(legId, faults - 1);
      throw new LegMediaError(legId, `injected media failure on leg ${legId}`);
    }
    return leg;
  }

  private hears(leg: SimLeg): string[] {
    const media = leg.media;
    switch (media.kind) {
      case 'none':
        return [];
      case 'moh':
        return ['moh'];
      case 'ringback':
        return ['ringback'];
      case 'bridge': {
        const peer = this.legs.get(media.peer);
        return peer && peer.status === 'up' ? [peer.number] : [];
      }
      case 'room': {
        const others: string[] = [];
        for (const other of this.legs.values()) {
          if (other === leg || other.status !== 'up' || other.media.kind !== 'room' || other.media.room !== media.room) continue;
          if (other.heardOnlyBy && !other.heardOnlyBy.has(leg.id)) continue; // a supervisor this leg does not hear
          others.push(other.number);
        }
        // Like a conference with moh-sound: a lone member hears music, not silence.
        return others.length > 0 ? others.sort() : ['moh'];
      }
    }
  }

  private activeLegOf(number: string): SimLeg | undefined {
    for (const leg of this.legs.values()) if (leg.number === number && leg.status !== 'gone') return leg;
    return undefined;
  }

  /** The leg ids of the phone's lines with a call, oldest first (a handset may have a second line: a consultation). */
  linesOf(number: string): LegId[] {
    return this.activeLegsOf(number).map((l) => l.id);
  }

  private activeLegsOf(number: string): SimLeg[] {
    return [...this.legs.values()].filter((leg) => leg.number === number && leg.status !== 'gone');
  }

  private requireEvents(): SignallingEvents {
    if (!this.events) throw new SimError('the simulated backend is not started', 'NOT_STARTED');
    return this.events;
  }
}
