/**
 * Several FreeSWITCH servers (issue 21). Each server has what one server had before: our control connection
 * (freeswitch-control.ts), a media adapter on it (media.ts), a reconciler, and drachtio-fsmrf's MediaServer that
 * makes its channels. The pool:
 *
 * - keeps all legs of one call on one server (bridges, hold music and rooms need that): a dialled leg goes where
 *   its call already is; a new call goes to the server with the most room (core/media-servers.ts: FreeSWITCH's
 *   reported sessions of others plus this instance's live legs there, against the smaller of our limit and
 *   FreeSWITCH's max-sessions);
 * - gives no new calls to a server that stopped answering (its connections reconnect with back-off) or that an
 *   operator drained;
 * - when a server dies (its control connection or fsmrf's event socket closes, or a per-channel socket closes and
 *   the server then does not answer), moves every call it carried to another (media-move.ts); with no other
 *   server up, the calls end as they did with one server.
 *
 * With one server configured, nothing changes from before but the bookkeeping.
 */
import type Mrf from 'drachtio-fsmrf';
import type { Logger } from 'pino';
import { capacityOf, chooseRefuge, chooseServer, retryDelayMs, type ServerLoad } from '../../core/media-servers.js';
import type { CallId, LegId } from '../../core/types.js';
import type { MediaServerStatus } from '../../ports/media-capacity.js';
import { LegMediaError, type MediaPort } from '../../ports/telephony.js';

export type { MediaServerStatus };
import { FreeSwitchControl } from './freeswitch-control.js';
import type { LegTable } from './legs.js';
import { FreeSwitchMedia, type LegMediaControl } from './media.js';
import { Reconciler } from './reconciler.js';
import { TAG_HEADERS } from './signalling.js';
import { delay, withTimeout } from './timeouts.js';

export interface PooledServerConfig {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly sessionLimit: number;
}

/** Which call a leg belongs to, and a call's legs: the orchestrator knows (incoming legs get their call later). */
export interface CallLookup {
  callOfLeg(legId: LegId): CallId | undefined;
  legsOfCall(callId: CallId): readonly LegId[];
}

/** Moves legs whose server died to another server (media-move.ts); resolves with the legs that moved. */
export type LegMover = (legIds: readonly LegId[], target: PoolServer) => Promise<LegId[]>;

export interface MediaServerPoolOptions {
  readonly mrf: Mrf;
  readonly servers: readonly PooledServerConfig[];
  readonly listenAddress: string;
  /** Server i takes fsmrf's per-channel connections on listenPort + i. */
  readonly listenPort: number;
  readonly advertisedAddress?: string | null;
  readonly profile?: string;
  readonly owner: string;
  readonly legs: LegTable;
  readonly logger: Logger;
  readonly mediaTimeoutMs: number;
  readonly roomProfile?: string;
  readonly reconcileIntervalMs: number;
  /** A leg's channel is lost for good: its phone is hung up (signalling.channelLost, not deferred again). */
  readonly onChannelLost: (legId: LegId, cause: string) => void;
  readonly onDigit: (legId: LegId, digit: string) => void;
  readonly onEffect: (op: string, ms: number, legId: LegId) => void;
  /** Legs that now live on another server and hear nothing yet: the orchestrator sets their media again. */
  readonly onMoved: (legIds: readonly LegId[]) => void;
}

export class PoolServer {
  readonly control: FreeSwitchControl;
  readonly media: FreeSwitchMedia;
  readonly reconciler: Reconciler;
  mediaServer: Mrf.MediaServer | null = null;
  endpointsUp = false;
  draining = false;
  /** Declared dead; cleared when both connections are back. */
  lost = false;
  failures = 0;
  movedAway = 0;
  /** This instance's legs there when FreeSWITCH's last heartbeat counted its sessions. */
  oursAtReport = 0;
  constructor(
    readonly id: string,
    readonly index: number,
    readonly config: PooledServerConfig,
    pool: MediaServerPool,
    options: MediaServerPoolOptions,
  ) {
    this.control = new FreeSwitchControl({ host: config.host, port: config.port, secret: config.secret, logger: options.logger.child({ mediaServer: id }) });
    this.media = new FreeSwitchMedia(this.control, {
      logger: options.logger.child({ mediaServer: id }),
      timeoutMs: options.mediaTimeoutMs,
      ...(options.roomProfile ? { roomProfile: options.roomProfile } : {}),
      onChannelLost: (legId, cause) => options.onChannelLost(legId, cause),
      onDigit: options.onDigit,
      onEffect: options.onEffect,
    });
    this.reconciler = new Reconciler({
      fs: this.control,
      owner: options.owner,
      liveChannels: () => this.media.liveChannels(),
      isLiveLeg: (legId) => options.legs.has(legId) && pool.serverOfLeg(legId) === this,
      intervalMs: options.reconcileIntervalMs,
      logger: options.logger.child({ mediaServer: id }),
    });
  }

  get up(): boolean {
    return !this.lost && this.endpointsUp && this.control.up && this.mediaServer !== null;
  }
}

export class MediaServerPool {
  readonly servers: PoolServer[];
  readonly media: PooledMedia;
  private readonly legServer = new Map<LegId, PoolServer>();
  private readonly callServer = new Map<CallId, PoolServer>();
  /** Legs being moved: their commands are not sent (the move sets their media again), their losses not reported. */
  readonly moving = new Set<LegId>();
  /** Legs whose loss was checked and is real: the next channelLost for them goes through. */
  private readonly confirmed = new Set<LegId>();
  private calls: CallLookup | null = null;
  private mover: LegMover | null = null;
  private stopping = false;
  private readonly log: Logger;

  constructor(private readonly options: MediaServerPoolOptions) {
    if (options.servers.length === 0) throw new Error('no FreeSWITCH server configured');
    this.log = options.logger.child({ component: 'media-server-pool' });
    this.servers = options.servers.map((config, i) => new PoolServer(`fs${i + 1}`, i, config, this, options));
    this.media = new PooledMedia(this);
  }

  /** The orchestrator's view of calls (wired once both exist). */
  setCallLookup(calls: CallLookup): void {
    this.calls = calls;
  }

  setMover(mover: LegMover): void {
    this.mover = mover;
  }

  start(): void {
    for (const server of this.servers) {
      server.control.onState((up) => {
        if (!up) this.serverLost(server, 'control connection lost');
        else this.maybeBack(server);
      });
      server.control.start();
      server.reconciler.start();
      void this.keepMediaServer(server);
    }
  }

  stop(): void {
    this.stopping = true;
    for (const server of this.servers) {
      server.reconciler.stop();
      server.media.close();
      server.control.stop();
      server.mediaServer?.disconnect();
    }
  }

  /** Some server takes new calls (for /health: FreeSWITCH "connected"). */
  get anyUp(): boolean {
    return this.servers.some((s) => s.up && !s.draining);
  }

  serverOfLeg(legId: LegId): PoolServer | undefined {
    return this.legServer.get(legId);
  }

  /** Each server as core/media-servers.ts sees it. */
  loads(): ServerLoad[] {
    return this.servers.map((server) => {
      const ours = this.legsOn(server).length;
      const reported = server.mediaServer?.currentSessions;
      const maxSessions = server.mediaServer?.maxSessions;
      return {
        id: server.id,
        up: server.up,
        draining: server.draining,
        limit: server.config.sessionLimit,
        maxSessions: Number.isFinite(maxSessions) ? (maxSessions as number) : 0,
        // The heartbeat is 20 s old at worst: this instance's own legs are counted now, others' as last reported
        // (the report less what was ours when it was made).
        reportedSessions: Number.isFinite(reported) ? Math.max(0, (reported as number) - server.oursAtReport) : 0,
        placedSinceReport: ours,
      };
    });
  }

  status(): MediaServerStatus[] {
    return this.servers.map((server) => {
      const ms = server.mediaServer;
      const num = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);
      return {
        id: server.id,
        address: `${server.config.host}:${server.config.port}`,
        up: server.up,
        draining: server.draining,
        sessionLimit: server.config.sessionLimit,
        maxSessions: num(ms?.maxSessions),
        reportedSessions: num(ms?.currentSessions),
        cpuIdle: num(ms?.cpuIdle),
        ourLegs: this.legsOn(server).length,
        callsMovedAway: server.movedAway,
      };
    });
  }

  /** Sessions the servers taking new calls can carry, and others' sessions there (admission control). */
  capacity(): { capacity: number; othersSessions: number } {
    let capacity = 0;
    let othersSessions = 0;
    for (const load of this.loads()) {
      if (!load.up || load.draining) continue;
      capacity += capacityOf(load);
      othersSessions += load.reportedSessions;
    }
    return { capacity, othersSessions };
  }

  /** An operator drains a server (no new calls; its calls end naturally), or takes it back. False: no such server. */
  drain(id: string, draining: boolean): boolean {
    const server = this.servers.find((s) => s.id === id || `${s.config.host}:${s.config.port}` === id);
    if (!server) return false;
    server.draining = draining;
    this.log.warn({ mediaServer: server.id, draining }, draining ? 'media server drained: no new calls' : 'media server takes new calls again');
    return true;
  }

  /**
   * A channel for a leg (signalling's EndpointMaker): on its call's server, or, for a new call, on the server with
   * the most room.
   */
  makeEndpoint = (opts: { remoteSdp?: string; headers: Record<string, string> }): Promise<Mrf.Endpoint> => {
    const legId = opts.headers[TAG_HEADERS.leg];
    const callId = opts.headers[TAG_HEADERS.call];
    const server = this.serverForNewLeg(callId);
    if (!server || !server.mediaServer) return Promise.reject(new Error('no FreeSWITCH server is available'));
    if (legId) this.legServer.set(legId, server);
    if (callId) this.callServer.set(callId, server);
    return server.mediaServer.createEndpoint(opts);
  };

  /** A channel on a given server (a leg moving there). */
  makeEndpointOn(server: PoolServer, opts: { remoteSdp?: string; headers: Record<string, string> }): Promise<Mrf.Endpoint> {
    if (!server.up || !server.mediaServer) return Promise.reject(new Error(`FreeSWITCH ${server.id} is not available`));
    return server.mediaServer.createEndpoint(opts);
  }

  /** The leg lives on `server` from now on (it moved there). */
  moved(legId: LegId, server: PoolServer): void {
    this.legServer.set(legId, server);
    const callId = this.calls?.callOfLeg(legId);
    if (callId) this.callServer.set(callId, server);
  }

  /** The leg is released: it no longer counts anywhere. */
  forget(legId: LegId): void {
    this.legServer.delete(legId);
    this.moving.delete(legId);
    this.confirmed.delete(legId);
    const callId = this.calls?.callOfLeg(legId);
    if (callId && !this.calls?.legsOfCall(callId).some((id) => id !== legId && this.legServer.has(id))) this.callServer.delete(callId);
    if (this.callServer.size > 10_000) this.callServer.clear(); // never reached with a lookup; a bound without one
  }

  /**
   * signalling.channelLost asks first: true when the pool takes the leg over. A leg of a server that died is being
   * moved; a per-channel socket that closed with no hang-up from FreeSWITCH may mean the server is dying, so the
   * server is asked first (an answer: the loss is real, and reported again).
   */
  lossDeferred = (legId: LegId, cause: string): boolean => {
    if (this.confirmed.delete(legId)) return false;
    if (this.moving.has(legId)) {
      this.log.debug({ legId, cause }, 'channel loss of a leg being moved: ignored');
      return true;
    }
    const server = this.legServer.get(legId);
    if (!server || this.servers.length === 1) return false;
    if (server.lost) return true;
    const uuid = server.media.channelOf(legId);
    if (uuid === undefined || !server.media.liveChannels().has(uuid)) return false; // FreeSWITCH said it hung up
    this.log.warn({ mediaServer: server.id, legId, cause }, 'a channel ended with no word from FreeSWITCH: asking the server whether it is alive');
    void this.probe(server).then((alive) => {
      if (!alive) return this.serverLost(server, 'did not answer after a channel socket closed');
      if (this.legServer.get(legId) !== server || this.moving.has(legId)) return;
      this.confirmed.add(legId);
      this.options.onChannelLost(legId, cause);
    });
    return true;
  };

  private async probe(server: PoolServer): Promise<boolean> {
    try {
      await withTimeout(server.control.run('status', ''), 1000, 'status');
      return true;
    } catch {
      return false;
    }
  }

  private serverForNewLeg(callId: string | undefined): PoolServer | null {
    if (callId) {
      const pinned = this.callServer.get(callId) ?? this.serverOfCallLegs(callId);
      if (pinned && pinned.up) return pinned;
    }
    const id = chooseServer(this.loads());
    return this.servers.find((s) => s.id === id) ?? null;
  }

  private serverOfCallLegs(callId: CallId): PoolServer | undefined {
    for (const legId of this.calls?.legsOfCall(callId) ?? []) {
      const server = this.legServer.get(legId);
      if (server) return server;
    }
    return undefined;
  }

  private legsOn(server: PoolServer): LegId[] {
    const legs: LegId[] = [];
    for (const [legId, s] of this.legServer) if (s === server) legs.push(legId);
    return legs;
  }

  /** Both connections of a server that had died are back: it takes calls again. */
  private maybeBack(server: PoolServer): void {
    if (!server.lost || !server.control.up || !server.endpointsUp) return;
    server.lost = false;
    server.failures = 0;
    this.log.info({ mediaServer: server.id }, 'media server is back: it takes new calls again');
  }

  /**
   * A server died: each of its calls moves, legs together, to the server with most room among those up; with none,
   * its legs are lost (their phones hung up, the core decides for the others).
   */
  serverLost(server: PoolServer, reason: string): void {
    if (this.stopping) return;
    const wasLost = server.lost;
    server.lost = true;
    if (wasLost) return;
    const legs = this.legsOn(server).filter((id) => this.options.legs.get(id)?.state === 'up');
    for (const id of legs) this.moving.add(id);
    // Commands still waiting on the dead server fail now; PooledMedia keeps those of moving legs from the core.
    const lostChannels = server.media.loseAll(reason);
    const notUp = lostChannels.filter((id) => !legs.includes(id));
    this.log.error({ mediaServer: server.id, reason, legs: legs.length }, 'media server lost');
    for (const legId of notUp) this.options.onChannelLost(legId, reason);
    const groups = new Map<string, LegId[]>();
    for (const legId of legs) {
      const key = this.calls?.callOfLeg(legId) ?? legId;
      groups.set(key, [...(groups.get(key) ?? []), legId]);
    }
    for (const group of groups.values()) void this.moveGroup(server, group);
  }

  private async moveGroup(from: PoolServer, legIds: LegId[]): Promise<void> {
    const targetId = this.mover ? chooseRefuge(this.loads(), legIds.length, from.id) : null;
    const target = this.servers.find((s) => s.id === targetId);
    if (!target || !this.mover) {
      this.log.error({ mediaServer: from.id, legs: legIds }, 'no other media server: the calls end');
      for (const legId of legIds) this.giveUp(legId, 'media server lost, no other server up');
      return;
    }
    from.movedAway++;
    const started = Date.now();
    // Each leg is reported as soon as it has moved: a phone slow to answer its re-INVITE (or that never does) does
    // not keep the others silent. A bridge whose other leg is still moving waits for it (PooledMedia).
    const outcomes = await Promise.all(
      legIds.map(async (legId) => {
        let moved = false;
        try {
          moved = (await (this.mover as LegMover)([legId], target)).includes(legId);
        } catch (error) {
          this.log.error({ err: (error as Error).message, legId }, 'moving the leg failed');
        }
        if (!moved) {
          if (this.moving.has(legId)) this.giveUp(legId, 'could not be moved to another media server');
          return null;
        }
        this.moving.delete(legId);
        this.options.onMoved([legId]);
        return legId;
      }),
    );
    const movedLegs = outcomes.filter((id): id is LegId => id !== null);
    this.log.warn({ from: from.id, to: target.id, legs: movedLegs, failed: legIds.filter((l) => !movedLegs.includes(l)), ms: Date.now() - started }, 'call moved to another media server');
  }

  /** A leg that cannot be moved: its phone is hung up, as if that party had left. */
  giveUp(legId: LegId, cause: string): void {
    this.moving.delete(legId);
    this.confirmed.add(legId);
    this.options.onChannelLost(legId, cause);
  }

  /**
   * fsmrf's MediaServer for one server: connected once, retrying with back-off until FreeSWITCH answers;
   * afterwards its event socket reconnects by itself and we follow it.
   */
  private async keepMediaServer(server: PoolServer): Promise<void> {
    const o = this.options;
    while (!this.stopping) {
      try {
        const ms = await o.mrf.connect({
          address: server.config.host,
          port: server.config.port,
          secret: server.config.secret,
          listenAddress: o.listenAddress,
          listenPort: o.listenPort + server.index,
          ...(o.advertisedAddress ? { advertisedAddress: o.advertisedAddress } : {}),
          profile: o.profile ?? 'drachtio_mrf',
        });
        ms.conn.reconnectOpts.retryMaxDelay = 5000;
        // fsmrf reads Session-Count from the same event, in its listener registered before this one.
        ms.conn.on('esl::event::HEARTBEAT::*', () => {
          server.oursAtReport = this.legsOn(server).length;
        });
        ms.on('end', () => {
          if (!server.endpointsUp) return;
          server.endpointsUp = false;
          this.serverLost(server, 'fsmrf event socket lost');
        });
        ms.conn.on('esl::ready', () => {
          if (server.endpointsUp || this.stopping) return;
          server.endpointsUp = true;
          this.maybeBack(server);
        });
        server.mediaServer = ms;
        server.endpointsUp = true;
        server.failures = 0;
        this.maybeBack(server);
        this.log.info({ mediaServer: server.id, address: server.config.host, port: server.config.port }, 'connected to FreeSWITCH');
        return;
      } catch (error) {
        const wait = retryDelayMs(server.failures++);
        this.log.warn({ mediaServer: server.id, err: (error as Error).message, retryInMs: wait }, 'cannot reach FreeSWITCH');
        await delay(wait);
      }
    }
  }
}

/**
 * The MediaPort (and signalling's leg media control) over the pool: each leg's command goes to its server's media
 * adapter. A leg being moved takes no command (the move sets its media again from the call's phase), and a command
 * that failed because its server died under it is not a lost leg.
 */
export class PooledMedia implements MediaPort, LegMediaControl {
  constructor(private readonly pool: MediaServerPool) {}

  bridge(a: LegId, b: LegId): Promise<void> {
    return this.route(a, (m) => m.bridge(a, b), b);
  }
  playHoldMusic(legId: LegId): Promise<void> {
    return this.route(legId, (m) => m.playHoldMusic(legId));
  }
  playRingback(legId: LegId): Promise<void> {
    return this.route(legId, (m) => m.playRingback(legId));
  }
  joinRoom(room: string, legId: LegId): Promise<void> {
    return this.route(legId, (m) => m.joinRoom(room, legId));
  }
  park(legId: LegId): Promise<void> {
    return this.route(legId, (m) => m.park(legId));
  }
  playErrorTone(legId: LegId): Promise<void> {
    return this.route(legId, (m) => m.playErrorTone(legId));
  }

  track(legId: LegId, uuid: string): void {
    const server = this.pool.serverOfLeg(legId) ?? this.pool.serverOfLeg(legId.replace(/-late$/, ''));
    server?.media.track(legId, uuid);
  }

  async hangup(legId: LegId): Promise<boolean> {
    const server = this.pool.serverOfLeg(legId);
    try {
      return server ? await server.media.hangup(legId) : true;
    } finally {
      if (!legId.endsWith('-late')) this.pool.forget(legId);
    }
  }

  holdMediaTimeout(legId: LegId, held: boolean): Promise<void> {
    return this.pool.serverOfLeg(legId)?.media.holdMediaTimeout(legId, held) ?? Promise.resolve();
  }

  armMediaTimeout(legId: LegId): Promise<void> {
    return this.pool.serverOfLeg(legId)?.media.armMediaTimeout(legId) ?? Promise.resolve();
  }

  /** A channel we do not own (a dead instance's): on whichever server has it. */
  async killChannel(uuid: string, legId?: LegId): Promise<boolean> {
    const results = await Promise.all(this.pool.servers.filter((s) => s.control.up).map((s) => s.media.killChannel(uuid, legId)));
    return results.length === 0 ? false : results.every(Boolean);
  }

  channelOf(legId: LegId): string | undefined {
    return this.pool.serverOfLeg(legId)?.media.channelOf(legId);
  }

  view(legId: LegId): ReturnType<FreeSwitchMedia['view']> {
    return this.pool.serverOfLeg(legId)?.media.view(legId);
  }

  private async route(legId: LegId, op: (media: FreeSwitchMedia) => Promise<void>, other?: LegId): Promise<void> {
    if (this.pool.moving.has(legId) || (other !== undefined && this.pool.moving.has(other))) return;
    const server = this.pool.serverOfLeg(legId);
    if (!server) throw new LegMediaError(legId, `leg ${legId} has no media channel`);
    try {
      await op(server.media);
    } catch (error) {
      // Its server died under the command: the move takes over (or the leg is given up there).
      if (error instanceof LegMediaError && (this.pool.moving.has(error.legId) || this.pool.serverOfLeg(error.legId) !== server)) return;
      throw error;
    }
  }
}
