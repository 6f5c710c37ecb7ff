/**
 * The MediaPort on FreeSWITCH: who hears whom is changed by one API command per leg, sent on our own control
 * connection (see freeswitch-control.ts), and each leg's state is followed from FreeSWITCH's channel events.
 *
 * - One command per change. `uuid_transfer <uuid> <app> inline` moves a channel out of whatever it does (a
 *   playback, a bridge, a room) straight into the new application: it sets CF_TRANSFER and a new state, and
 *   switch_channel_ready() is false from then on, so a running endless_playback or park ends at once and no park
 *   or uuid_break is needed first; an application sent with sendmsg, by contrast, queues behind a running bridge.
 *   `uuid_bridge` moves both channels the same way (switch_ivr_uuid_bridge sets CF_TRANSFER on both).
 * - Order per leg. Two commands for the same leg run in the order they were issued (the second is sent when the
 *   first is answered: about a millisecond); commands for other legs never wait.
 * - A leg that is gone (FreeSWITCH said CHANNEL_HANGUP, or we are hanging it up) fails its pending and later
 *   commands at once with LegMediaError, so the core decides for the others without waiting for a deadline.
 */
import type { EslEvent } from 'modesl';
import type { Logger } from 'pino';
import type { LegId } from '../../core/types.js';
import { LegMediaError, type MediaPort } from '../../ports/telephony.js';
import type { FreeSwitchCommands } from './freeswitch-control.js';
import { withTimeout } from './timeouts.js';

/** Hold music made by FreeSWITCH itself: a soft arpeggio, repeated; no file we do not ship. */
export const HOLD_MUSIC = 'tone_stream://%(400,50,523);%(400,50,659);%(400,50,784);%(800,600,659);%(400,50,587);%(400,50,698);%(400,50,880);%(800,1200,698);loops=-1';
/** Two short low beeps: a keypad request was refused. */
export const ERROR_TONE = 'tone_stream://%(150,100,480,620);loops=2';
/** North-American ringback, repeated. */
export const RINGBACK = 'tone_stream://%(2000,4000,440,480);loops=-1';

/**
 * An inline dialplan of one application. The tone sources contain commas, the inline dialplan's default separator,
 * so the separator is set to '|' with its `m:|:` prefix (mod_dptools inline_dialplan_hunt).
 */
export function inlineApp(app: string, data?: string): string {
  return `m:|:${app}${data === undefined ? '' : `:${data}`}`;
}

/** The longest a bridge waits for FreeSWITCH to park a leg whose bridge partner is going away. */
const PARK_WAIT_MS = 1000;

/** The longest the next command for a leg waits for FreeSWITCH to report the bridge before it (CHANNEL_BRIDGE). */
const BRIDGE_SETTLE_MS = 1000;

/** FreeSWITCH's media timeout while a phone holds: a day, as good as none (a 0 would be ignored). */
export const HELD_MEDIA_TIMEOUT_MS = 86_400_000;

/** What FreeSWITCH last told us about a leg's channel. */
export interface ChannelView {
  readonly uuid: string;
  readonly application: string | null;
  readonly bridgedTo: string | null;
  readonly room: string | null;
  /** Its member id in `room` (conference::maintenance add-member's Member-ID). */
  readonly memberId?: string | null;
  readonly gone: boolean;
}

/** The change a command asked for, to time when FreeSWITCH reports it done. */
type Expected = { readonly kind: 'app'; readonly app: string } | { readonly kind: 'bridge'; readonly peer: string } | { readonly kind: 'room'; readonly room: string };

interface TrackedChannel {
  readonly legId: LegId;
  readonly uuid: string;
  application: string | null;
  bridgedTo: string | null;
  room: string | null;
  memberId?: string | null;
  /** FreeSWITCH hung it up, or we are hanging it up. */
  gone: boolean;
  /** We hung it up (so its end is not a loss to report). */
  releasing: boolean;
  /** Counted as gone because our connection to FreeSWITCH dropped: FreeSWITCH may still have it. */
  presumedGone?: boolean;
  /** Rejects when the channel goes: every pending command races it. */
  readonly lost: Promise<never>;
  loseNow: (reason: string) => void;
  /** Settles when the last command issued for this leg has been answered. */
  tail: Promise<void>;
  expected: { readonly what: Expected; readonly op: string; readonly issuedAt: number; resend?: () => void } | null;
  /** The channel's media timeout while its phone holds (to put back when it resumes). */
  mediaTimeout?: string;
  /** Told when FreeSWITCH parks this channel (CHANNEL_PARK). */
  parked: (() => void)[];
  /** Told the peer's uuid when FreeSWITCH bridges this channel (CHANNEL_BRIDGE); true once it has heard enough. */
  bridged: ((peer: string) => boolean)[];
  /** Resolves when FreeSWITCH says the channel ended (CHANNEL_HANGUP), or our connection to it dropped. */
  readonly ended: Promise<void>;
  endNow: () => void;
  /** A bridge of this channel that FreeSWITCH has not reported yet (see bridgeReported). */
  bridging: Promise<void> | null;
}

export interface FreeSwitchMediaOptions {
  readonly logger: Logger;
  /** Deadline of one command (default 2000 ms); past it the leg counts as lost. */
  readonly timeoutMs?: number;
  /** Conference profile of help rooms (freeswitch/conf/autoload_configs/conference.conf.xml). */
  readonly roomProfile?: string;
  /** FreeSWITCH ended a leg's channel without us: the phone must be told and the core must decide. */
  readonly onChannelLost: (legId: LegId, cause: string) => void;
  /** A phone pressed a key (RFC 2833, FreeSWITCH's DTMF event on its channel). */
  readonly onDigit?: (legId: LegId, digit: string) => void;
  /** A change asked for took effect on FreeSWITCH after `ms` (for metrics and the integration suite). */
  readonly onEffect?: (op: string, ms: number, legId: LegId) => void;
}

/** What signalling needs of the media adapter for its legs' channels (one server's, or the pool's). */
export type LegMediaControl = Pick<FreeSwitchMedia, 'track' | 'hangup' | 'holdMediaTimeout' | 'armMediaTimeout' | 'killChannel' | 'channelOf'>;

export class FreeSwitchMedia implements MediaPort {
  private readonly byLeg = new Map<LegId, TrackedChannel>();
  private readonly byUuid = new Map<string, TrackedChannel>();
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly fs: FreeSwitchCommands,
    private readonly options: FreeSwitchMediaOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.log = options.logger.child({ component: 'media' });
    this.unsubscribe = fs.onEvent((event) => this.onEvent(event));
  }

  close(): void {
    this.unsubscribe();
  }

  /* ------------------------------------------------------------------------------------------ MediaPort */

  async bridge(a: LegId, b: LegId): Promise<void> {
    const [ca, cb] = [this.require(a), this.require(b)];
    return this.operate([ca, cb], 'bridge', 'uuid_bridge', `${ca.uuid} ${cb.uuid}`, { kind: 'bridge', peer: cb.uuid }, {
      before: () => this.partnersGone([ca, cb]),
      settle: () => {
        const reported = this.bridgeReported(ca, cb);
        ca.bridging = cb.bridging = reported;
        void reported.then(() => {
          for (const c of [ca, cb]) if (c.bridging === reported) c.bridging = null;
        });
        return reported;
      },
    });
  }

  async playHoldMusic(legId: LegId): Promise<void> {
    return this.transfer(legId, 'hold music', 'endless_playback', HOLD_MUSIC);
  }

  async playRingback(legId: LegId): Promise<void> {
    return this.transfer(legId, 'ringback', 'endless_playback', RINGBACK);
  }

  /** `flags`: member flags it joins with (a supervisor joins `mute`d, so nobody hears it before its mode is set). */
  async joinRoom(room: string, legId: LegId, flags?: string): Promise<void> {
    const channel = this.require(legId);
    const target = inlineApp('conference', `${room}@${this.options.roomProfile ?? 'help'}${flags ? `+flags{${flags}}` : ''}`);
    return this.operate([channel], 'join room', 'uuid_transfer', `${channel.uuid} ${target} inline`, { kind: 'room', room });
  }

  async park(legId: LegId): Promise<void> {
    return this.transfer(legId, 'park', 'park');
  }

  /**
   * uuid_broadcast to this channel only ("aleg"): the tone plays over what it hears, then it hears that again.
   * Who hears whom does not change, so it takes no place in the leg's order of commands.
   */
  async playErrorTone(legId: LegId): Promise<void> {
    const channel = this.require(legId);
    const reply = await withTimeout(this.fs.run('uuid_broadcast', `${channel.uuid} ${ERROR_TONE} aleg`), this.timeoutMs, 'uuid_broadcast');
    if (reply.startsWith('-ERR')) this.log.warn({ legId, reply: reply.trim() }, 'error tone refused');
  }

  /* ------------------------------------------------------------------------------------------ channels */

  /** A leg's channel exists on FreeSWITCH from now on. */
  track(legId: LegId, uuid: string): void {
    let loseNow: (reason: string) => void = () => undefined;
    const lost = new Promise<never>((_resolve, reject) => {
      loseNow = (reason) => reject(new LegMediaError(legId, `leg ${legId}: ${reason}`));
    });
    lost.catch(() => undefined); // raced by commands; nobody else waits on it
    let endNow: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => {
      endNow = resolve;
    });
    const channel: TrackedChannel = {
      legId,
      uuid,
      application: null,
      bridgedTo: null,
      room: null,
      gone: false,
      releasing: false,
      lost,
      loseNow,
      tail: Promise.resolve(),
      expected: null,
      parked: [],
      bridged: [],
      ended,
      endNow,
      bridging: null,
    };
    this.byLeg.set(legId, channel);
    this.byUuid.set(uuid, channel);
  }

  /**
   * Hangs the leg's channel up on FreeSWITCH with uuid_kill on the control connection, whatever else is pending
   * for it (those commands fail at once). Resolves once FreeSWITCH has answered; never throws.
   */
  async hangup(legId: LegId): Promise<boolean> {
    const channel = this.byLeg.get(legId);
    if (!channel) return true;
    const alreadyGone = channel.gone && !channel.releasing;
    channel.releasing = true;
    this.markGone(channel, 'hung up by the service');
    try {
      // Gone by FreeSWITCH's own word: nothing to do. Presumed gone (our connection dropped): the caller ends it
      // another way (a SIP BYE), as uuid_kill cannot go out now.
      if (alreadyGone) return !channel.presumedGone;
      // Not in the middle of a bridge (see bridgeReported): killed there, either leg takes the other down with it.
      if (channel.bridging) await channel.bridging;
      return await this.killChannel(channel.uuid, legId);
    } finally {
      // Its CHANNEL_HANGUP may still come; being ours, it needs no record to be ignored.
      this.forget(channel);
    }
  }

  /**
   * FreeSWITCH's media timeout off (the phone holds and may send nothing) or back on (it resumed), for the next
   * re-INVITE to read: FreeSWITCH re-reads `media_timeout` and `media_timeout_audio` each time it (re)activates RTP
   * (check_media_timeout_params). A 0 there is ignored rather than applied (the timer keeps running, as seen on
   * FreeSWITCH 1.10.12), so "off" is a day.
   */
  async holdMediaTimeout(legId: LegId, held: boolean): Promise<void> {
    const channel = this.byLeg.get(legId);
    if (!channel || channel.gone) return;
    if (held) {
      if (channel.mediaTimeout === undefined) {
        const value = (await this.fs.run('uuid_getvar', `${channel.uuid} media_timeout`)).trim();
        channel.mediaTimeout = /^[0-9]+$/.test(value) ? value : '0';
      }
      await this.setVariables(channel, String(HELD_MEDIA_TIMEOUT_MS));
    } else if (channel.mediaTimeout !== undefined) {
      await this.setVariables(channel, channel.mediaTimeout);
    }
  }

  /**
   * Before a dialled leg's first answer reaches its channel: FreeSWITCH set `media_timeout_audio` to 0 while it
   * negotiated its own 3PCC offer with no far address yet, and that name wins over `media_timeout`, so the
   * timeout would never start. Copied back from `media_timeout` (set by freeswitch/conf's dialplan), it starts
   * when the answer activates RTP. Never throws: without it the call still works, only without the timeout.
   */
  async armMediaTimeout(legId: LegId): Promise<void> {
    const channel = this.byLeg.get(legId);
    if (!channel || channel.gone) return;
    try {
      const value = (await this.fs.run('uuid_getvar', `${channel.uuid} media_timeout`)).trim();
      if (/^[1-9][0-9]*$/.test(value)) await this.fs.run('uuid_setvar', `${channel.uuid} media_timeout_audio ${value}`);
    } catch (error) {
      this.log.warn({ legId, err: (error as Error).message }, 'could not arm the media timeout');
    }
  }

  private async setVariables(channel: TrackedChannel, timeout: string): Promise<void> {
    await Promise.all(['media_timeout', 'media_timeout_audio'].map((name) => this.fs.run('uuid_setvar', `${channel.uuid} ${name} ${timeout}`)));
  }

  /** The FreeSWITCH channel of a leg, while we know it. */
  /**
   * uuid_kill on our control connection: true when FreeSWITCH has no such channel any more. Used for our legs'
   * channels (hangup) and for channels we do not own (a dead instance's, with no `legId`).
   */
  async killChannel(uuid: string, legId?: LegId): Promise<boolean> {
    try {
      const reply = await withTimeout(this.fs.run('uuid_kill', uuid), this.timeoutMs, 'uuid_kill');
      // "-ERR No such channel!": it had already ended, which is what we wanted.
      if (reply.startsWith('-ERR') && !/no such channel/i.test(reply)) {
        this.log.warn({ legId, uuid, reply: reply.trim() }, 'uuid_kill refused');
        return false;
      }
      return true;
    } catch (error) {
      this.log.warn({ legId, uuid, err: (error as Error).message }, 'uuid_kill not answered');
      return false;
    }
  }

  channelOf(legId: LegId): string | undefined {
    return this.byLeg.get(legId)?.uuid;
  }

  /** What FreeSWITCH last said about the leg's channel (from its events, no polling). */
  view(legId: LegId): ChannelView | undefined {
    const c = this.byLeg.get(legId);
    return c && { uuid: c.uuid, application: c.application, bridgedTo: c.bridgedTo, room: c.room, memberId: c.memberId ?? null, gone: c.gone };
  }

  /** The live legs FreeSWITCH reported in `room`, with their member ids. */
  membersOf(room: string): { legId: LegId; memberId: string }[] {
    const members: { legId: LegId; memberId: string }[] = [];
    for (const c of this.byLeg.values()) if (!c.gone && c.room === room && c.memberId) members.push({ legId: c.legId, memberId: c.memberId });
    return members;
  }

  /** A conference API command (`conference <room> ...`) on this server; the reply's text. */
  conferenceCommand(args: string): Promise<string> {
    return withTimeout(this.fs.run('conference', args), this.timeoutMs, 'conference');
  }

  /** Channels of legs that are live (not hung up): what the reconciler must leave alone. */
  liveChannels(): Set<string> {
    const live = new Set<string>();
    for (const c of this.byLeg.values()) if (!c.gone) live.add(c.uuid);
    return live;
  }

  /** Every leg's channel is gone at once (FreeSWITCH went away): pending commands fail now. */
  loseAll(reason: string): LegId[] {
    const lost: LegId[] = [];
    for (const c of this.byLeg.values()) {
      if (c.gone) continue;
      c.presumedGone = true;
      c.endNow();
      this.markGone(c, reason);
      lost.push(c.legId);
    }
    return lost;
  }

  /* ------------------------------------------------------------------------------------------ internals */

  private transfer(legId: LegId, op: string, app: string, data?: string): Promise<void> {
    const channel = this.require(legId);
    return this.operate([channel], op, 'uuid_transfer', `${channel.uuid} ${inlineApp(app, data)} inline`, { kind: 'app', app });
  }

  private require(legId: LegId): TrackedChannel {
    const channel = this.byLeg.get(legId);
    if (!channel || channel.gone) throw new LegMediaError(legId, `leg ${legId} has no media channel`);
    return channel;
  }

  /**
   * Sends one command once the previous commands of its legs are done; fails at once if one of its legs goes,
   * and at the deadline if FreeSWITCH never answers (then the first leg counts as lost). `before` runs just before
   * the command is sent; `settle`, started with it, tells when the legs' next commands may go (it never rejects).
   */
  private operate(channels: TrackedChannel[], op: string, command: string, args: string, expected: Expected, hooks: { before?: () => Promise<void>; settle?: () => Promise<void> } = {}): Promise<void> {
    const previous = channels.map((c) => c.tail);
    let settling: Promise<void> = Promise.resolve();
    const work = (async () => {
      await Promise.all(previous);
      await hooks.before?.();
      const gone = channels.find((c) => c.gone);
      if (gone) throw new LegMediaError(gone.legId, `leg ${gone.legId} went away before ${op}`);
      const first = channels[0] as TrackedChannel;
      // Timed from now, by the next matching event (a state it already had does not count).
      first.expected = { what: expected, op, issuedAt: Date.now() };
      // A transfer can be undone by FreeSWITCH's park_after_bridge (see the CHANNEL_PARK event): sent again once.
      if (command === 'uuid_transfer' && !(expected.kind === 'app' && expected.app === 'park')) {
        first.expected.resend = () => void this.fs.run(command, args).catch(() => undefined);
      }
      if (hooks.settle) settling = hooks.settle();
      const reply = await this.fs.run(command, args);
      if (reply.startsWith('-ERR')) throw new LegMediaError(await this.blame(channels), `${command}: ${reply.trim()}`);
    })();
    const settled = work.then(
      () => settling,
      () => undefined,
    );
    for (const c of channels) c.tail = settled;
    const raced = Promise.race([work, ...channels.map((c) => c.lost)]);
    return withTimeout(raced, this.timeoutMs, command).catch((error: unknown) => {
      if (error instanceof LegMediaError) throw error;
      const first = channels[0] as TrackedChannel;
      throw new LegMediaError(first.legId, `${op} failed: ${(error as Error).message}`);
    });
  }

  /**
   * A channel still bridged to one that is going away (its phone just hung up) is bridged anew only once FreeSWITCH
   * has parked it (park_after_bridge, CHANNEL_PARK), the end of its handling of that hang-up. Sent before, the
   * uuid_bridge raced that handling: seen a few times in 20 full runs, the originator gave up waiting for its new
   * partner and FreeSWITCH hung up both (ORIGINATOR_CANCEL, DESTINATION_OUT_OF_ORDER). Bounded wait.
   */
  private async partnersGone(channels: TrackedChannel[]): Promise<void> {
    const ours = new Set(channels.map((c) => c.uuid));
    const leaving = channels.filter((c) => c.bridgedTo !== null && !ours.has(c.bridgedTo) && !this.isLive(c.bridgedTo));
    await Promise.all(leaving.map((c) => signalOrTimeout(PARK_WAIT_MS, (signal) => c.parked.push(signal))));
  }

  /**
   * Settles when FreeSWITCH reports the two channels bridged, or ends one of them, or after BRIDGE_SETTLE_MS.
   * Until then neither leg may be moved or hung up. uuid_bridge's originator waits in a 20 ms polling loop
   * (uuid_bridge_on_soft_execute) for its partner to reach CS_SOFT_EXECUTE, and only leaves it when it sees that
   * state, or when one of the two goes down; both cases seen in the integration suite's debug logs:
   * - a partner transferred elsewhere in that window (hold music asked for 20 ms after an answer) is never seen
   *   there: the originator stays in the loop, deaf to its own transfer (A and C never bridged);
   * - leaving the loop because a channel went down, the originator runs switch_ivr_wait_for_answer on its partner:
   *   a partner not media-ready then is hung up (DESTINATION_OUT_OF_ORDER), and an originator whose partner is
   *   gone hangs itself up (ORIGINATOR_CANCEL). So killing either leg there takes the other down with it.
   */
  private async bridgeReported(a: TrackedChannel, b: TrackedChannel): Promise<void> {
    const reported = await signalOrTimeout(BRIDGE_SETTLE_MS, (signal, settled) => {
      // A waiter returns true once it is no longer needed (the event dispatcher then drops it).
      a.bridged.push((peer) => {
        if (peer === b.uuid) signal();
        return settled();
      });
      void a.ended.then(signal);
      void b.ended.then(signal);
    });
    if (!reported && !a.gone && !b.gone) this.log.warn({ legs: [a.legId, b.legId], ms: BRIDGE_SETTLE_MS }, 'FreeSWITCH did not report the bridge in time');
  }

  private isLive(uuid: string): boolean {
    const channel = this.byUuid.get(uuid);
    return channel !== undefined && !channel.gone;
  }

  /** Which leg made a command fail: the first whose channel FreeSWITCH no longer has. */
  private async blame(channels: TrackedChannel[]): Promise<LegId> {
    for (const c of channels) {
      if (c.gone) return c.legId;
      const exists = await this.fs.run('uuid_exists', c.uuid).catch(() => 'false');
      if (exists.trim() !== 'true') return c.legId;
    }
    return (channels[0] as TrackedChannel).legId;
  }

  private forget(channel: TrackedChannel): void {
    if (this.byUuid.get(channel.uuid) === channel) this.byUuid.delete(channel.uuid);
    if (this.byLeg.get(channel.legId) === channel) this.byLeg.delete(channel.legId);
  }

  private markGone(channel: TrackedChannel, reason: string): void {
    if (channel.gone) return;
    channel.gone = true;
    channel.expected = null;
    channel.loseNow(reason);
  }

  private onEvent(event: EslEvent): void {
    const name = event.getHeader('Event-Name');
    const uuid = event.getHeader('Unique-ID');
    switch (name) {
      case 'CHANNEL_HANGUP': {
        const channel = uuid ? this.byUuid.get(uuid) : undefined;
        if (!channel) return;
        this.forget(channel);
        channel.endNow();
        const wasOurs = channel.releasing;
        this.markGone(channel, 'FreeSWITCH hung up its channel');
        if (!wasOurs) this.options.onChannelLost(channel.legId, event.getHeader('Hangup-Cause') ?? 'unknown');
        return;
      }
      case 'CHANNEL_EXECUTE': {
        const channel = uuid ? this.byUuid.get(uuid) : undefined;
        if (!channel) return;
        channel.application = event.getHeader('Application') ?? null;
        this.checkExpected(channel);
        return;
      }
      case 'CHANNEL_BRIDGE': {
        const a = this.byUuid.get(event.getHeader('Bridge-A-Unique-ID') ?? '');
        const b = this.byUuid.get(event.getHeader('Bridge-B-Unique-ID') ?? '');
        if (a && b) {
          a.bridgedTo = b.uuid;
          b.bridgedTo = a.uuid;
          a.application = b.application = null;
          this.checkExpected(a);
          this.checkExpected(b);
          a.bridged = a.bridged.filter((waiter) => !waiter(b.uuid));
          b.bridged = b.bridged.filter((waiter) => !waiter(a.uuid));
        }
        return;
      }
      case 'DTMF': {
        const channel = uuid ? this.byUuid.get(uuid) : undefined;
        const digit = event.getHeader('DTMF-Digit');
        if (channel && digit && !channel.gone) this.options.onDigit?.(channel.legId, digit);
        return;
      }
      case 'CHANNEL_PARK': {
        // Also FreeSWITCH's park_after_bridge of a leg whose partner hung up: it is now free to be moved.
        const channel = uuid ? this.byUuid.get(uuid) : undefined;
        if (!channel) return;
        channel.application = 'park';
        for (const waiter of channel.parked.splice(0)) waiter();
        this.checkExpected(channel);
        // Parked while a transfer elsewhere was on its way: both legs of a bridge moved at once, the partner's move
        // ended the bridge and FreeSWITCH's park_after_bridge for this leg landed after this leg's own transfer,
        // replacing it (seen on 1.10.12: a customer sent to a room sat in CS_PARK, never executing conference).
        // The transfer is sent once more.
        const resend = channel.expected?.resend;
        if (resend && channel.expected) {
          channel.expected.resend = undefined;
          this.log.info({ legId: channel.legId, op: channel.expected.op }, 'FreeSWITCH parked the leg after its transfer: sending it again');
          resend();
        }
        return;
      }
      case 'CHANNEL_UNBRIDGE': {
        for (const id of [event.getHeader('Bridge-A-Unique-ID'), event.getHeader('Bridge-B-Unique-ID')]) {
          const c = id ? this.byUuid.get(id) : undefined;
          if (!c) continue;
          c.bridgedTo = null;
        }
        return;
      }
      case 'CUSTOM': {
        if (event.getHeader('Event-Subclass') !== 'conference::maintenance') return;
        const channel = uuid ? this.byUuid.get(uuid) : undefined;
        if (!channel) return;
        const action = event.getHeader('Action');
        if (action === 'add-member') {
          channel.room = event.getHeader('Conference-Name') ?? null;
          channel.memberId = event.getHeader('Member-ID') ?? null;
          this.checkExpected(channel);
        } else if (action === 'del-member' && channel.room === event.getHeader('Conference-Name')) {
          channel.room = null;
          channel.memberId = null;
        }
        return;
      }
      default:
        return;
    }
  }

  /** Times a change once FreeSWITCH reports it. */
  private checkExpected(channel: TrackedChannel): void {
    const expected = channel.expected;
    if (!expected) return;
    const what = expected.what;
    const done =
      (what.kind === 'app' && channel.application === what.app) ||
      (what.kind === 'bridge' && channel.bridgedTo === what.peer) ||
      (what.kind === 'room' && channel.room === what.room);
    if (!done) return;
    channel.expected = null;
    const ms = Date.now() - expected.issuedAt;
    this.log.debug({ legId: channel.legId, op: expected.op, ms }, 'media change took effect');
    this.options.onEffect?.(expected.op, ms, channel.legId);
  }
}

/**
 * Resolves true as soon as `watch` signals, or false after `ms`, whichever comes first (FreeSWITCH's events are
 * waited for with a bound: a lost event never stalls a leg). `settled()` tells a watcher the wait is over.
 */
function signalOrTimeout(ms: number, watch: (signal: () => void, settled: () => boolean) => void): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let done = false;
    const finish = (signalled: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(signalled);
    };
    const timer = setTimeout(() => finish(false), ms);
    watch(
      () => finish(true),
      () => done,
    );
  });
}
