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
import { FreeSwitchSupervision } from './supervision-media.js';
import { hostname } from 'node:os';
import Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import type { LegId } from '../../core/types.js';
import type { MediaCapacity } from '../../ports/media-capacity.js';
import type { MediaTelemetry } from '../../ports/media-telemetry.js';
import type { SignallingEvents, TelephonyBackend } from '../../ports/telephony.js';
import { LegTable } from './legs.js';
import type { ChannelView } from './media.js';
import { legMover } from './media-move.js';
import { MediaServerPool, PooledMedia, type CallLookup, type MediaServerStatus, type PooledServerConfig } from './media-server-pool.js';
import type { Reconciler } from './reconciler.js';
import { BindingStore } from '../registrations.js';
import type { StateStore } from '../../ports/state-store.js';
import { RegistrationSync } from '../registration-sync.js';
import { Registrar, type PhoneCredentials, type RegisterRequest, type RegistrarSettings, type SharedNonces, type SrfRegistrarHost } from './registrar.js';
import { DrachtioSignalling } from './signalling.js';
import type { SipRequest, SipResponse, SrfLike } from './sip-types.js';

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
    /** Several servers (issue 21); absent: the one server above, with sessionLimit (default 1000). */
    readonly servers?: readonly PooledServerConfig[];
    readonly sessionLimit?: number;
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
  /** Deadline of each step of moving a leg to another media server (default 2000 ms). */
  readonly mediaMoveTimeoutMs?: number;
}

export class DrachtioBackend implements TelephonyBackend {
  readonly name = 'drachtio' as const;
  readonly signalling: DrachtioSignalling;
  readonly media: PooledMedia;
  /** A supervisor's audio in a call's room, on the server the supervisor's leg lives on (the call's server). */
  readonly supervision: FreeSwitchSupervision;
  /** The media servers (one unless configured otherwise). */
  readonly pool: MediaServerPool;
  /** The first server's reconciler (each server has its own, run by the pool). */
  readonly reconciler: Reconciler;
  /** Where registered handsets are (empty without a registrar). */
  readonly bindings: BindingStore;
  private readonly registrar: Registrar | null;
  private registrationSync: RegistrationSync | null = null;
  private readonly srf: SrfLike;
  private readonly mrf: Mrf;
  private readonly legs = new LegTable();
  private readonly log: Logger;
  private stopping = false;
  private drachtioUp = false;
  /** The connection to drachtio-server was lost since the last connect: the dialogs made on it are gone. */
  private drachtioLostAt: number | null = null;
  private drachtioLossTimer: NodeJS.Timeout | null = null;
  private readonly effectListeners = new Set<(op: string, ms: number, legId: LegId) => void>();
  readonly telemetry: MediaTelemetry = {
    onEffect: (listener) => {
      this.effectListeners.add(listener);
      return () => this.effectListeners.delete(listener);
    },
    onOrphan: (listener) => {
      const offs = this.pool.servers.map((s) => s.reconciler.onOrphan(listener));
      return () => offs.forEach((off) => off());
    },
    report: () => {
      const reports = this.pool.servers.map((s) => s.reconciler.report());
      const first = reports[0] as ReturnType<Reconciler['report']>;
      return { ...first, orphansHungUp: reports.reduce((n, r) => n + r.orphansHungUp, 0), staleRooms: reports.reduce((n, r) => n + r.staleRooms, 0), lastError: reports.find((r) => r.lastError !== null)?.lastError ?? null };
    },
  };

  constructor(private readonly options: DrachtioBackendOptions) {
    this.srf = new Srf() as unknown as SrfLike;
    this.mrf = new Mrf(this.srf);
    this.log = options.logger.child({ component: 'drachtio' });
    const owner = options.owner ?? hostname();
    const fs = options.freeswitch;
    const servers = fs.servers && fs.servers.length > 0 ? fs.servers : [{ host: fs.host, port: fs.port, secret: fs.secret, sessionLimit: fs.sessionLimit ?? 1000 }];
    this.pool = new MediaServerPool({
      mrf: this.mrf,
      servers,
      listenAddress: fs.listenAddress,
      listenPort: fs.listenPort,
      ...(fs.advertisedAddress ? { advertisedAddress: fs.advertisedAddress } : {}),
      ...(fs.profile ? { profile: fs.profile } : {}),
      owner,
      legs: this.legs,
      logger: options.logger,
      mediaTimeoutMs: options.mediaCommandTimeoutMs ?? 2000,
      ...(options.roomProfile ? { roomProfile: options.roomProfile } : {}),
      reconcileIntervalMs: options.reconcileIntervalMs ?? 5000,
      onChannelLost: (legId, cause) => this.signalling.channelLost(legId, cause),
      onDigit: (legId, digit) => this.signalling.digit(legId, digit),
      onEffect: (op, ms, legId) => {
        for (const listener of this.effectListeners) listener(op, ms, legId);
      },
      onMoved: (legIds) => this.events?.mediaMoved?.(legIds),
    });
    this.supervision = new FreeSwitchSupervision((legId) => this.pool.serverOfLeg(legId)?.media, this.log.child({ component: 'supervision' }));
    this.media = this.pool.media;
    this.reconciler = (this.pool.servers[0] as NonNullable<(typeof this.pool.servers)[0]>).reconciler;
    this.bindings = new BindingStore(options.registrar?.settings.maxContactsPerPhone ?? 5);
    this.registrar = options.registrar ? new Registrar(this.bindings, options.registrar.credentials, options.registrar.settings, options.logger) : null;
    this.signalling = new DrachtioSignalling({
      srf: this.srf,
      bindingsFor: (number) => this.bindings.live(number, Date.now()),
      ...(this.registrar ? { authenticate: (req: SipRequest, res: SipResponse) => (this.registrar as Registrar).authenticateInvite(req as unknown as RegisterRequest, res) } : {}),
      legs: this.legs,
      media: this.media,
      makeEndpoint: this.pool.makeEndpoint,
      lossDeferred: this.pool.lossDeferred,
      contactFor: options.contactFor,
      owner,
      ...(options.mediaSilenceTimeoutMs !== undefined ? { mediaTimeoutMs: options.mediaSilenceTimeoutMs } : {}),
      timeoutMs: options.operationTimeoutMs ?? 5000,
      logger: options.logger,
    });
    this.pool.setMover(
      legMover({
        pool: this.pool,
        legs: this.legs,
        owner,
        ...(options.mediaSilenceTimeoutMs !== undefined ? { mediaTimeoutMs: options.mediaSilenceTimeoutMs } : {}),
        timeoutMs: options.mediaMoveTimeoutMs ?? 2000,
        onChannelLost: (legId, cause) => this.signalling.channelLost(legId, cause),
        logger: options.logger,
      }),
    );
  }

  private events: SignallingEvents | null = null;

  /** Which call a leg belongs to (the orchestrator's), so all legs of a call share a media server. */
  setCallLookup(calls: CallLookup): void {
    this.pool.setCallLookup(calls);
  }

  /** What the media servers can carry now (admission control). */
  readonly capacity: MediaCapacity = { snapshot: () => this.pool.capacity() };

  /** Each media server's state (for /health and the admin routes). */
  mediaServers(): MediaServerStatus[] {
    return this.pool.status();
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
    this.events = events;
    this.signalling.start(events);
    // Before connecting: drachtio-srf tells drachtio-server which methods we take when it connects.
    this.registrar?.install(this.srf as unknown as SrfRegistrarHost);
    // drachtio-srf reconnects by itself, with backoff.
    this.srf.connect({ host: this.options.drachtio.host, port: this.options.drachtio.port, secret: this.options.drachtio.secret });
    // Each server's control connection and fsmrf's event socket: a server that drops them is lost, and its calls
    // move to another server (or end, with none up).
    this.pool.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.registrationSync?.stop();
    if (this.drachtioLossTimer) clearTimeout(this.drachtioLossTimer);
    this.reconciler.stop();
    await this.signalling.releaseAll();
    this.pool.stop();
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
    return { drachtio: this.drachtioUp, freeswitch: this.pool.anyUp };
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
}
