/**
 * The real backend: SIP through drachtio-srf (a drachtio-server), media through drachtio-fsmrf (FreeSWITCH).
 *
 * Every phone has exactly one dialog with us, and its media is anchored on a FreeSWITCH endpoint of its own; who
 * hears whom is then changed on FreeSWITCH only (uuid_bridge, playback, conference), never by re-INVITEing a phone.
 * Written against what drachtio-srf 5.0 and drachtio-fsmrf 4.1 really do (see the notes by each call).
 */
import { randomUUID } from 'node:crypto';
import Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import type { LegId } from '../../core/types.js';
import { LegMediaError, type DialRequest, type MediaPort, type SignallingEvents, type SignallingPort, type TelephonyBackend } from '../../ports/telephony.js';
import { failureReasonForStatus } from '../sip-status.js';
import { answerDirection, classifyReInvite, isSecureOffer } from './sdp.js';
import { delay, withTimeout } from './timeouts.js';

export interface DrachtioBackendOptions {
  readonly drachtio: { readonly host: string; readonly port: number; readonly secret: string };
  readonly freeswitch: {
    readonly host: string;
    readonly port: number;
    readonly secret: string;
    readonly listenAddress: string;
    readonly listenPort: number;
    readonly advertisedAddress?: string | null;
    readonly profile?: string;
  };
  /** The SIP URI that reaches a phone number (an agent's contact, or a customer through the gateway). */
  contactFor(number: string, workNo?: string): string | undefined;
  readonly logger: Logger;
  /** Deadline of each media-server and signalling operation (default 5000 ms). */
  readonly operationTimeoutMs?: number;
  /** Name of the conference profile for help rooms (freeswitch/conf/autoload_configs/conference.conf.xml). */
  readonly roomProfile?: string;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Narrow views of the libraries. drachtio-srf's typings are wrong in places (cbRequest really gets (err, req)),
 * so we name only what we use, as its sources do it.
 * ------------------------------------------------------------------------------------------------------------- */

interface SipMessage {
  readonly body: string;
  readonly callingNumber: string;
  readonly calledNumber: string;
  get(header: string): string | undefined;
}
interface SipRequest extends SipMessage {
  once(event: 'cancel', listener: () => void): void;
  cancel(opts: object, callback: (err: unknown) => void): void;
}
interface SipResponse {
  readonly status: number;
  readonly finalResponseSent: boolean;
  send(status: number, opts?: object): void;
}
interface SipDialog {
  readonly remote: { sdp: string };
  readonly local: { sdp: string };
  on(event: 'destroy', listener: () => void): void;
  on(event: 'modify', listener: (req: SipMessage, res: SipResponse) => void): void;
  destroy(opts: object, callback: (err: unknown) => void): void;
}
interface SrfLike {
  connect(opts: { host: string; port: number; secret: string }): unknown;
  disconnect(): void;
  on(event: 'connect', listener: (err: Error | null, hostport?: string) => void): void;
  on(event: 'error' | 'reconnecting' | 'close', listener: (arg?: unknown) => void): void;
  invite(handler: (req: SipRequest, res: SipResponse) => void): void;
  createUAS(req: SipRequest, res: SipResponse, opts: { localSdp: string }): Promise<SipDialog>;
  createUAC(
    uri: string,
    opts: { localSdp: string; callingNumber?: string; headers?: Record<string, string> },
    progress: { cbRequest: (err: unknown, req?: SipRequest) => void; cbProvisional: (res: { status: number }) => void },
  ): Promise<SipDialog>;
}

type LegState = 'setting-up' | 'ringing' | 'up' | 'gone';

interface Leg {
  readonly id: LegId;
  state: LegState;
  endpoint?: Mrf.Endpoint;
  dialog?: SipDialog;
  /** Our INVITE to the phone, to CANCEL it. */
  invite?: SipRequest;
  /** We were asked to hang up while the leg was still being set up. */
  hangupRequested: boolean;
}

/** Hold music made by FreeSWITCH itself: a soft arpeggio, repeated; no file we do not ship. */
export const HOLD_MUSIC = 'tone_stream://%(400,50,523);%(400,50,659);%(400,50,784);%(800,600,659);%(400,50,587);%(400,50,698);%(400,50,880);%(800,1200,698);loops=-1';
/** North-American ringback, repeated. */
export const RINGBACK = 'tone_stream://%(2000,4000,440,480);loops=-1';

export class DrachtioBackend implements TelephonyBackend {
  readonly name = 'drachtio' as const;
  private readonly srf: SrfLike;
  private readonly mrf: Mrf;
  private mediaServer: Mrf.MediaServer | null = null;
  private events: SignallingEvents | null = null;
  private readonly legs = new Map<LegId, Leg>();
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private stopping = false;
  private drachtioUp = false;
  private mediaUp = false;

  constructor(private readonly options: DrachtioBackendOptions) {
    this.srf = new Srf() as unknown as SrfLike;
    this.mrf = new Mrf(this.srf);
    this.timeoutMs = options.operationTimeoutMs ?? 5000;
    this.log = options.logger.child({ component: 'drachtio' });
  }

  readonly signalling: SignallingPort = {
    dial: (request) => void this.dial(request),
    hangup: (legId) => this.hangup(legId),
  };

  readonly media: MediaPort = {
    bridge: async (a, b) => {
      const [ea, eb] = [this.endpointOf(a), this.endpointOf(b)];
      // A playing file must be broken before a bridge, or the bridge waits for it.
      await this.api(a, ea, 'uuid_break', `${ea.uuid} all`);
      await this.api(b, eb, 'uuid_break', `${eb.uuid} all`);
      await this.api(a, ea, 'uuid_bridge', `${ea.uuid} ${eb.uuid}`, () => (this.legs.get(b)?.state === 'up' ? a : b));
    },
    playHoldMusic: (legId) => this.loop(legId, HOLD_MUSIC),
    playRingback: (legId) => this.loop(legId, RINGBACK),
    joinRoom: async (room, legId) => {
      const endpoint = await this.detach(legId);
      endpoint.executeAsync('conference', `${room}@${this.options.roomProfile ?? 'help'}`);
      // fsmrf's join() has no failure path; we check membership ourselves, within the deadline.
      await this.until(legId, endpoint, 'conference_name', room);
    },
    park: async (legId) => {
      await this.detach(legId);
    },
  };

  async start(events: SignallingEvents): Promise<void> {
    this.events = events;
    this.srf.on('connect', (err, hostport) => {
      this.drachtioUp = !err;
      if (err) this.log.error({ err: err.message }, 'drachtio-server refused us');
      else this.log.info({ hostport }, 'connected to drachtio-server');
    });
    this.srf.on('reconnecting', () => {
      this.drachtioUp = false;
      this.log.warn('drachtio-server connection lost: reconnecting');
    });
    this.srf.on('error', (err) => this.log.warn({ err: String(err) }, 'drachtio-server connection error'));
    this.srf.invite((req, res) => void this.incoming(req, res));
    // drachtio-srf reconnects by itself, with backoff.
    this.srf.connect({ host: this.options.drachtio.host, port: this.options.drachtio.port, secret: this.options.drachtio.secret });
    void this.keepMediaServer();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.legs.keys()].map((id) => this.hangup(id).catch(() => undefined)));
    this.mediaServer?.disconnect();
    this.srf.disconnect();
  }

  /** The FreeSWITCH channel (uuid) anchoring a leg, for diagnostics and the integration suite. */
  channelOf(legId: LegId): string | undefined {
    return this.legs.get(legId)?.endpoint?.uuid;
  }

  /** Whether both servers are connected (for /health). */
  get connected(): { drachtio: boolean; freeswitch: boolean } {
    return { drachtio: this.drachtioUp, freeswitch: this.mediaUp };
  }

  /* ------------------------------------------------------------------------------------------ media server */

  /**
   * Connects to FreeSWITCH, retrying until it answers. Afterwards fsmrf's event-socket connection reconnects by
   * itself (the MediaServer and its listening socket for per-call connections stay), so we only follow it: when
   * it drops, every call FreeSWITCH carried is ended towards the phones; when it is back, new calls are taken.
   */
  private async keepMediaServer(): Promise<void> {
    const fs = this.options.freeswitch;
    let wait = 500;
    while (!this.stopping) {
      try {
        const ms = await this.mrf.connect({
          address: fs.host,
          port: fs.port,
          secret: fs.secret,
          listenAddress: fs.listenAddress,
          listenPort: fs.listenPort,
          ...(fs.advertisedAddress ? { advertisedAddress: fs.advertisedAddress } : {}),
          profile: fs.profile ?? 'drachtio_mrf',
        });
        // drachtio-modesl's backoff has no ceiling by default: keep retries at most 5 s apart.
        ms.conn.reconnectOpts.retryMaxDelay = 5000;
        ms.on('end', () => {
          if (!this.mediaUp) return;
          this.mediaUp = false;
          this.log.error('lost FreeSWITCH: ending every call it carried');
          for (const leg of this.legs.values()) if (leg.endpoint) this.channelLost(leg);
        });
        ms.conn.on('esl::ready', () => {
          if (this.mediaUp || this.stopping) return;
          this.mediaUp = true;
          this.log.info('FreeSWITCH is back');
        });
        this.mediaServer = ms;
        this.mediaUp = true;
        this.log.info({ address: fs.host }, 'connected to FreeSWITCH');
        return;
      } catch (error) {
        this.log.warn({ err: (error as Error).message, retryInMs: wait }, 'cannot reach FreeSWITCH');
        await delay(wait);
        wait = Math.min(wait * 2, 10_000);
      }
    }
  }

  private requireMediaServer(): Mrf.MediaServer {
    if (!this.mediaServer || !this.mediaUp) throw new Error('FreeSWITCH is not connected');
    return this.mediaServer;
  }

  /* ------------------------------------------------------------------------------------------ incoming calls */

  private async incoming(req: SipRequest, res: SipResponse): Promise<void> {
    const events = this.events;
    if (!events) return res.send(503);
    const leg: Leg = { id: `in-${randomUUID()}`, state: 'setting-up', hangupRequested: false };
    let cancelled = false;
    // Register at once: the caller may cancel while we are still deciding or setting up media.
    req.once('cancel', () => {
      cancelled = true;
      if (leg.state !== 'up') events.failed(leg.id, 'rejected');
    });
    const log = this.log.child({ legId: leg.id, from: req.callingNumber, to: req.calledNumber });
    try {
      const decision = await events.incoming({ legId: leg.id, from: req.callingNumber, to: req.calledNumber });
      if (!decision.accept) return res.send(decision.status);
      if (cancelled) return;
      if (isSecureOffer(req.body)) {
        events.failed(leg.id, 'error');
        return res.send(488);
      }
      this.legs.set(leg.id, leg);
      // As fsmrf's connectCaller does for plain RTP, but cleaning up the endpoint if the caller goes away.
      const endpoint = await withTimeout(this.requireMediaServer().createEndpoint({ remoteSdp: req.body }), this.timeoutMs, 'createEndpoint');
      leg.endpoint = endpoint;
      if (cancelled) return this.release(leg);
      const dialog = await withTimeout(this.srf.createUAS(req, res, { localSdp: endpoint.local.sdp }), this.timeoutMs, 'answer');
      leg.dialog = dialog;
      if (leg.hangupRequested || cancelled) return this.release(leg);
      this.established(leg);
      log.info('incoming call anchored');
      events.incomingAnswered(leg.id);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'incoming call could not be set up');
      if (!res.finalResponseSent) res.send(cancelled ? 487 : 503);
      void this.release(leg);
      if (!cancelled) events.failed(leg.id, 'error');
    }
  }

  /* ------------------------------------------------------------------------------------------ outgoing calls */

  private async dial(request: DialRequest): Promise<void> {
    const events = this.events;
    if (!events) return;
    const leg: Leg = { id: request.legId, state: 'setting-up', hangupRequested: false };
    this.legs.set(leg.id, leg);
    const log = this.log.child({ legId: leg.id, callId: request.callId, number: request.number });
    const uri = this.options.contactFor(request.number, request.workNo);
    if (!uri) {
      log.warn('no SIP address for this number');
      this.legs.delete(leg.id);
      return events.failed(leg.id, 'unreachable');
    }
    try {
      // FreeSWITCH makes the offer (3PCC); the profile forbids SRTP so that offer is plain RTP.
      const endpoint = await withTimeout(this.requireMediaServer().createEndpoint(), this.timeoutMs, 'createEndpoint');
      leg.endpoint = endpoint;
      if (leg.hangupRequested) return this.release(leg);
      const dialog = await this.srf.createUAC(
        uri,
        { localSdp: endpoint.local.sdp, callingNumber: request.callerNumber },
        {
          cbRequest: (err, req) => {
            if (err || !req) return;
            leg.invite = req;
            leg.state = 'ringing';
            if (leg.hangupRequested) req.cancel({}, () => undefined);
          },
          cbProvisional: (res) => {
            if ((res.status === 180 || res.status === 183) && !leg.hangupRequested) events.ringing(leg.id);
          },
        },
      );
      leg.dialog = dialog;
      if (leg.hangupRequested) return this.release(leg);
      // The phone's answer goes to its FreeSWITCH endpoint (re-INVITE towards FreeSWITCH, not the phone).
      await withTimeout(endpoint.modify(dialog.remote.sdp), this.timeoutMs, 'modify endpoint');
      if (leg.hangupRequested) return this.release(leg);
      this.established(leg);
      log.info('answered');
      events.answered(leg.id);
    } catch (error) {
      const status = (error as { status?: number }).status;
      void this.release(leg);
      if (leg.hangupRequested) return; // our own CANCEL (487), or we gave up: the core already knows
      log.info({ status, err: (error as Error).message }, 'call attempt failed');
      events.failed(leg.id, status !== undefined ? failureReasonForStatus(status) : 'error');
    }
  }

  /* ------------------------------------------------------------------------------------------ established legs */

  private established(leg: Leg): void {
    leg.state = 'up';
    const dialog = leg.dialog as SipDialog;
    const endpoint = leg.endpoint as Mrf.Endpoint;
    // "destroy" on a dialog means the phone sent BYE (our own destroy() emits nothing).
    dialog.on('destroy', () => {
      if (leg.state !== 'up') return;
      leg.state = 'gone';
      void this.release(leg);
      this.events?.hungUp(leg.id, false);
    });
    // The channel ended on FreeSWITCH without us (restart, media timeout): the phone must be told.
    endpoint.on('destroy', () => this.channelLost(leg));
    dialog.on('modify', (req, res) => void this.phoneReInvite(leg, req, res));
  }

  private channelLost(leg: Leg): void {
    if (leg.state !== 'up') return;
    leg.state = 'gone';
    leg.endpoint = undefined;
    void this.release(leg);
    this.events?.hungUp(leg.id, true);
  }

  /** A phone's own re-INVITE: answered by us; only a real media change reaches FreeSWITCH. */
  private async phoneReInvite(leg: Leg, req: SipMessage, res: SipResponse): Promise<void> {
    const endpoint = leg.endpoint;
    const dialog = leg.dialog;
    if (!endpoint || !dialog) return res.send(481);
    try {
      const kind = classifyReInvite(endpoint.remote.sdp, req.body);
      if (kind === 'media-change') await withTimeout(endpoint.modify(req.body), this.timeoutMs, 'modify endpoint');
      res.send(200, { body: answerDirection(endpoint.local.sdp, req.body), headers: { 'Content-Type': 'application/sdp' } });
      this.log.info({ legId: leg.id, kind }, 'phone re-INVITE answered');
    } catch (error) {
      this.log.warn({ legId: leg.id, err: (error as Error).message }, 'phone re-INVITE refused');
      res.send(488);
    }
  }

  private async hangup(legId: LegId): Promise<void> {
    const leg = this.legs.get(legId);
    if (!leg || leg.state === 'gone') return;
    leg.hangupRequested = true;
    if (leg.state === 'ringing' && leg.invite && !leg.dialog) {
      // CANCEL; createUAC then rejects with 487 and dial() cleans up.
      leg.invite.cancel({}, () => undefined);
      return;
    }
    if (leg.state === 'up') await this.release(leg);
    // 'setting-up': dial()/incoming() see hangupRequested at their next step and release the leg.
  }

  /** Ends whatever the leg still holds: BYE to the phone, hangup of its FreeSWITCH channel. */
  private async release(leg: Leg): Promise<void> {
    leg.state = 'gone';
    this.legs.delete(leg.id);
    const { dialog, endpoint } = leg;
    leg.dialog = undefined;
    leg.endpoint = undefined;
    const work: Promise<unknown>[] = [];
    if (dialog) work.push(withTimeout(new Promise<void>((resolve) => dialog.destroy({}, () => resolve())), this.timeoutMs, 'BYE'));
    if (endpoint) work.push(withTimeout(endpoint.destroy(), this.timeoutMs, 'endpoint hangup'));
    const results = await Promise.allSettled(work);
    for (const r of results) if (r.status === 'rejected') this.log.warn({ legId: leg.id, err: String(r.reason) }, 'release step failed');
  }

  /* ------------------------------------------------------------------------------------------ media helpers */

  private endpointOf(legId: LegId): Mrf.Endpoint {
    const leg = this.legs.get(legId);
    if (!leg || leg.state !== 'up' || !leg.endpoint) throw new LegMediaError(legId, `leg ${legId} has no media channel`);
    return leg.endpoint;
  }

  /** An API command on the leg's channel, with a deadline; "-ERR" answers are failures of `blame` (default: the leg). */
  private async api(legId: LegId, endpoint: Mrf.Endpoint, command: string, args: string, blame: () => LegId = () => legId): Promise<string> {
    let body: string;
    try {
      const response = await withTimeout(endpoint.api(command, args), this.timeoutMs, command);
      body = response.getBody();
    } catch (error) {
      throw new LegMediaError(blame(), `${command} failed: ${(error as Error).message}`);
    }
    if (body.startsWith('-ERR')) throw new LegMediaError(blame(), `${command}: ${body.trim()}`);
    return body;
  }

  /**
   * Takes a leg out of whatever it is doing (a playback, a bridge, a room) and parks it. An application sent to a
   * bridged channel only starts once the bridge ends (seen on FreeSWITCH 1.10: hold music queued behind a bridge
   * started later, over the next bridge), so every change that is not itself a bridge starts from a parked leg.
   * Its bridge partner is parked too (park_after_bridge); the core moves it in the same decision.
   */
  private async detach(legId: LegId): Promise<Mrf.Endpoint> {
    const endpoint = this.endpointOf(legId);
    await this.api(legId, endpoint, 'uuid_break', `${endpoint.uuid} all`);
    await this.api(legId, endpoint, 'uuid_transfer', `${endpoint.uuid} park inline`);
    return endpoint;
  }

  /** Plays a looping source until the leg is moved elsewhere; resolves once it really plays. */
  private async loop(legId: LegId, source: string): Promise<void> {
    const endpoint = await this.detach(legId);
    // endless_playback never completes, so it is sent without waiting for its end...
    endpoint.executeAsync('endless_playback', source);
    // ...and we wait for it to start, or a later uuid_break would miss it.
    await this.until(legId, endpoint, 'current_application', 'endless_playback');
  }

  /** Polls a channel variable until it has the value, within the deadline. */
  private async until(legId: LegId, endpoint: Mrf.Endpoint, variable: string, value: string): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    while (Date.now() < deadline) {
      const reply = await this.api(legId, endpoint, 'uuid_getvar', `${endpoint.uuid} ${variable}`);
      if (reply.trim() === value) return;
      await delay(20);
    }
    throw new LegMediaError(legId, `leg ${legId}: ${variable} did not become ${value}`);
  }
}
