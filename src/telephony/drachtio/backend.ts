/**
 * The real backend: SIP through drachtio-srf (a drachtio-server), media through FreeSWITCH. It only wires the parts
 * and reports to the orchestrator; no part calls another in a circle:
 *
 *   signalling.ts  SignallingPort on drachtio-srf (phones' dialogs; FreeSWITCH channels made with drachtio-fsmrf)
 *   media.ts       MediaPort: one command per change on our control connection, leg state from channel events
 *   freeswitch-control.ts  that control connection (bgapi: no command waits behind another)
 *   reconciler.ts  channels of ours that no live leg owns are hung up
 *   registrar.ts   handsets' REGISTERs (digest), kept in a BindingStore that dialling reads
 *   legs.ts        one record per phone: the only thing the parts share
 */
import { hostname } from 'node:os';
import Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import type { LegId } from '../../core/types.js';
import type { MediaTelemetry } from '../../ports/media-telemetry.js';
import type { SignallingEvents, TelephonyBackend } from '../../ports/telephony.js';
import { FreeSwitchControl } from './freeswitch-control.js';
import { LegTable } from './legs.js';
import { FreeSwitchMedia, type ChannelView } from './media.js';
import { Reconciler } from './reconciler.js';
import { BindingStore } from '../registrations.js';
import type { StateStore } from '../../ports/state-store.js';
import { RegistrationSync } from '../registration-sync.js';
import { Registrar, type PhoneCredentials, type RegisterRequest, type RegistrarSettings, type SharedNonces, type SrfRegistrarHost } from './registrar.js';
import { DrachtioSignalling } from './signalling.js';
import type { SipRequest, SipResponse, SrfLike } from './sip-types.js';
import { delay } from './timeouts.js';

export { HOLD_MUSIC, RINGBACK } from './media.js';

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
  /** Handsets that register (their registered contacts come before any static contact). */
  readonly registrar?: { readonly credentials: readonly PhoneCredentials[]; readonly settings: RegistrarSettings & { readonly maxContactsPerPhone: number } };
  readonly logger: Logger;
  /** Deadline of each signalling operation and of setting up a channel (default 5000 ms). */
  readonly operationTimeoutMs?: number;
  /** Deadline of one media command (default 2000 ms); past it the leg counts as lost. */
  readonly mediaCommandTimeoutMs?: number;
  /** Name of the conference profile for help rooms (freeswitch/conf/autoload_configs/conference.conf.xml). */
  readonly roomProfile?: string;
  /** Tag written on every FreeSWITCH channel we make (default: this host's name). */
  readonly owner?: string;
  /** How often the reconciler compares FreeSWITCH with our legs (default 5000 ms; 0 turns it off). */
  readonly reconcileIntervalMs?: number;
  /** FreeSWITCH's media timeout for our channels, in ms (default: freeswitch/conf's, FS_MEDIA_TIMEOUT_MS). */
  readonly mediaSilenceTimeoutMs?: number;
  /**
   * How long the drachtio-server connection may stay down before every call that used it is ended (default
   * 3000 ms). A reconnect ends them at once: the dialogs were bound to the old connection (or the old process).
   */
  readonly signallingLossMs?: number;
}

export class DrachtioBackend implements TelephonyBackend {
  readonly name = 'drachtio' as const;
  readonly signalling: DrachtioSignalling;
  readonly media: FreeSwitchMedia;
  readonly reconciler: Reconciler;
  /** Where registered handsets are (empty without a registrar). */
  readonly bindings: BindingStore;
  private readonly registrar: Registrar | null;
  private registrationSync: RegistrationSync | null = null;
  private readonly srf: SrfLike;
  private readonly mrf: Mrf;
  private readonly control: FreeSwitchControl;
  private readonly legs = new LegTable();
  private mediaServer: Mrf.MediaServer | null = null;
  private readonly log: Logger;
  private stopping = false;
  private drachtioUp = false;
  /** The connection to drachtio-server was lost since the last connect: the dialogs made on it are gone. */
  private drachtioLostAt: number | null = null;
  private drachtioLossTimer: NodeJS.Timeout | null = null;
  private endpointsUp = false;
  private readonly effectListeners = new Set<(op: string, ms: number, legId: LegId) => void>();
  readonly telemetry: MediaTelemetry = {
    onEffect: (listener) => {
      this.effectListeners.add(listener);
      return () => this.effectListeners.delete(listener);
    },
    onOrphan: (listener) => this.reconciler.onOrphan(listener),
    report: () => this.reconciler.report(),
  };

  constructor(private readonly options: DrachtioBackendOptions) {
    this.srf = new Srf() as unknown as SrfLike;
    this.mrf = new Mrf(this.srf);
    this.log = options.logger.child({ component: 'drachtio' });
    const owner = options.owner ?? hostname();
    const fs = options.freeswitch;
    this.control = new FreeSwitchControl({ host: fs.host, port: fs.port, secret: fs.secret, logger: options.logger });
    this.media = new FreeSwitchMedia(this.control, {
      logger: options.logger,
      timeoutMs: options.mediaCommandTimeoutMs ?? 2000,
      ...(options.roomProfile ? { roomProfile: options.roomProfile } : {}),
      onChannelLost: (legId, cause) => this.signalling.channelLost(legId, cause),
      onDigit: (legId, digit) => this.signalling.digit(legId, digit),
      onEffect: (op, ms, legId) => {
        for (const listener of this.effectListeners) listener(op, ms, legId);
      },
    });
    this.bindings = new BindingStore(options.registrar?.settings.maxContactsPerPhone ?? 5);
    this.registrar = options.registrar ? new Registrar(this.bindings, options.registrar.credentials, options.registrar.settings, options.logger) : null;
    this.signalling = new DrachtioSignalling({
      srf: this.srf,
      bindingsFor: (number) => this.bindings.live(number, Date.now()),
      ...(this.registrar ? { authenticate: (req: SipRequest, res: SipResponse) => (this.registrar as Registrar).authenticateInvite(req as unknown as RegisterRequest, res) } : {}),
      legs: this.legs,
      media: this.media,
      makeEndpoint: (opts) => {
        if (!this.mediaServer || !this.endpointsUp || !this.control.up) return Promise.reject(new Error('FreeSWITCH is not connected'));
        return this.mediaServer.createEndpoint(opts);
      },
      contactFor: options.contactFor,
      owner,
      ...(options.mediaSilenceTimeoutMs !== undefined ? { mediaTimeoutMs: options.mediaSilenceTimeoutMs } : {}),
      timeoutMs: options.operationTimeoutMs ?? 5000,
      logger: options.logger,
    });
    this.reconciler = new Reconciler({
      fs: this.control,
      owner,
      liveChannels: () => this.media.liveChannels(),
      isLiveLeg: (legId) => this.legs.has(legId),
      intervalMs: options.reconcileIntervalMs ?? 5000,
      logger: options.logger,
    });
  }

  /**
   * Several instances on one store: the registrar's nonces are shared (see Registrar.shareNonces), and handsets'
   * registrations (RegistrationSync), so a handset registered through one instance is called by any.
   */
  async shareRegistrations(store: StateStore & SharedNonces, instanceId: string): Promise<void> {
    if (!this.registrar) return;
    this.registrar.shareNonces(store);
    this.registrationSync = new RegistrationSync(this.bindings, store, instanceId, this.log);
    await this.registrationSync.start();
  }

  async start(events: SignallingEvents): Promise<void> {
    this.srf.on('connect', (err, hostport) => {
      this.drachtioUp = !err;
      if (err) this.log.error({ err: err.message }, 'drachtio-server refused us');
      else this.log.info({ hostport }, 'connected to drachtio-server');
      if (!err && this.drachtioLostAt !== null) this.endCallsOfLostConnection('reconnected to drachtio-server: the dialogs of the old connection are gone');
    });
    this.srf.on('reconnecting', () => this.drachtioConnectionLost());
    this.srf.on('close', () => this.drachtioConnectionLost());
    this.srf.on('error', (err) => this.log.warn({ err: String(err) }, 'drachtio-server connection error'));
    this.signalling.start(events);
    // Before connecting: drachtio-srf tells drachtio-server which methods we take when it connects.
    this.registrar?.install(this.srf as unknown as SrfRegistrarHost);
    // drachtio-srf reconnects by itself, with backoff.
    this.srf.connect({ host: this.options.drachtio.host, port: this.options.drachtio.port, secret: this.options.drachtio.secret });
    this.control.onState((up) => {
      // Our control connection dropped: FreeSWITCH is gone (or restarting), and every channel with it.
      if (!up) this.allChannelsLost('FreeSWITCH control connection lost');
    });
    this.control.start();
    this.reconciler.start();
    void this.keepMediaServer();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.registrationSync?.stop();
    if (this.drachtioLossTimer) clearTimeout(this.drachtioLossTimer);
    this.reconciler.stop();
    await this.signalling.releaseAll();
    this.media.close();
    this.control.stop();
    this.mediaServer?.disconnect();
    try {
      this.srf.disconnect();
    } catch (error) {
      // drachtio-srf asserts on a socket it never had (drachtio-server was never reached): nothing to close.
      this.log.debug({ err: (error as Error).message }, 'drachtio-srf had no connection to close');
    }
  }

  /** The FreeSWITCH channel (uuid) anchoring a leg, for diagnostics and the integration suite. */
  channelOf(legId: LegId): string | undefined {
    return this.media.channelOf(legId);
  }

  /** What FreeSWITCH last said about a leg's channel (from its events). */
  channelView(legId: LegId): ChannelView | undefined {
    return this.media.view(legId);
  }

  /** Whether both servers are connected (for /health). */
  get connected(): { drachtio: boolean; freeswitch: boolean } {
    return { drachtio: this.drachtioUp, freeswitch: this.endpointsUp && this.control.up };
  }

  /** Lost drachtio-server: the calls end at the reconnect, or after signallingLossMs if it stays away. */
  private drachtioConnectionLost(): void {
    this.drachtioUp = false;
    if (this.stopping || this.drachtioLostAt !== null) return;
    this.drachtioLostAt = Date.now();
    const graceMs = this.options.signallingLossMs ?? 3000;
    this.log.warn({ graceMs }, 'drachtio-server connection lost: reconnecting');
    this.drachtioLossTimer = setTimeout(() => this.endCallsOfLostConnection(`drachtio-server away for ${graceMs} ms`), graceMs);
    this.drachtioLossTimer.unref();
  }

  private endCallsOfLostConnection(reason: string): void {
    if (this.drachtioLossTimer) clearTimeout(this.drachtioLossTimer);
    this.drachtioLossTimer = null;
    const since = this.drachtioLostAt;
    // Still down after the grace time: stay "lost" so the reconnect finds nothing more to end, but ends legs made
    // meanwhile (none can be: dialling needs the connection).
    if (this.drachtioUp) this.drachtioLostAt = null;
    const ended = this.signalling.dialogsLost(reason);
    this.log.warn({ legs: ended.length, downMs: since === null ? null : Date.now() - since, reason }, 'calls of the lost drachtio connection ended');
  }

  private allChannelsLost(reason: string): void {
    const lost = this.media.loseAll(reason);
    if (lost.length > 0) this.log.error({ legs: lost.length }, 'lost FreeSWITCH: ending every call it carried');
    for (const legId of lost) this.signalling.channelLost(legId, reason);
  }

  /**
   * drachtio-fsmrf's MediaServer makes the channels (it listens for FreeSWITCH's per-channel connections). We
   * connect once, retrying until FreeSWITCH answers; afterwards fsmrf's event socket reconnects by itself, so we
   * only follow it.
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
          if (!this.endpointsUp) return;
          this.endpointsUp = false;
          this.allChannelsLost('FreeSWITCH event socket lost');
        });
        ms.conn.on('esl::ready', () => {
          if (this.endpointsUp || this.stopping) return;
          this.endpointsUp = true;
          this.log.info('FreeSWITCH is back');
        });
        this.mediaServer = ms;
        this.endpointsUp = true;
        this.log.info({ address: fs.host }, 'connected to FreeSWITCH');
        return;
      } catch (error) {
        this.log.warn({ err: (error as Error).message, retryInMs: wait }, 'cannot reach FreeSWITCH');
        await delay(wait);
        wait = Math.min(wait * 2, 10_000);
      }
    }
  }
}
