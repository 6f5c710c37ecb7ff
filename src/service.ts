/**
 * The one place the service is assembled: configuration -> telephony backend -> state store -> agent directory ->
 * orchestrator -> HTTP app. main.ts, the test harnesses and the benches all call `assembleService`; what differs
 * between them (timers, clocks, a backend or store of their own, a port) is an override here, never a copy.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import type { AppDeps, ClusterView } from './api/context.js';
import { ClusterMember } from './cluster/cluster-member.js';
import { DirectorySync } from './cluster/directory-sync.js';
import { coreConfigOf, presenceConfigOf, routesOf, type AppConfig } from './config/config.js';
import { AdmissionControl } from './orchestrator/admission.js';
import { AgentDirectory } from './orchestrator/agent-directory.js';
import { Orchestrator } from './orchestrator/orchestrator.js';
import type { TimedAgentEvent } from './orchestrator/call-control.js';
import { SupervisionShell } from './orchestrator/supervision-shell.js';
import type { TimerSource } from './orchestrator/timers.js';
import type { StateStore } from './ports/state-store.js';
import { hostname } from 'node:os';
import { MemoryStateStore } from './state/memory-store.js';
import { RedisStateStore } from './state/redis-store.js';
import { createBackend } from './telephony/create-backend.js';
import type { DrachtioBackend } from './telephony/drachtio/index.js';
import type { SimBackend } from './telephony/sim/sim-backend.js';

export interface ServiceOverrides {
  /** A backend of the caller's (tests: a SimBackend they drive); default: the one the configuration names. */
  readonly backend?: SimBackend | DrachtioBackend;
  /** Default: in memory (one instance). */
  readonly store?: StateStore;
  /** This instance's name among the others sharing the store (default 'local'). */
  readonly instanceId?: string;
  /** The address other instances reach this one's API at (default: the address it listens on). */
  readonly advertisedUrl?: string;
  /** What POST /admin/drain starts (main: the SIGTERM stop); without it the route answers 000-004. */
  readonly requestStop?: (why: string) => void;
  /** How often this instance says it is alive, and how long that lasts (default 1000 / 3000 ms). */
  readonly heartbeat?: { readonly everyMs: number; readonly ttlMs: number };
  /** Timers and clock of the shell (tests drive them). */
  readonly timers?: TimerSource;
  readonly now?: () => number;
  /** The sign-in guard's clock, and what the real backend adds to /health (tests play them). */
  readonly appExtras?: Pick<AppDeps, 'backendStatus' | 'mediaTelemetry' | 'clock' | 'passwordHasher'>;
}

export interface Service {
  readonly config: AppConfig;
  readonly backend: SimBackend | DrachtioBackend;
  readonly store: StateStore;
  readonly directory: AgentDirectory;
  readonly orchestrator: Orchestrator;
  /** Supervisors on live calls (monitor, coach, barge). */
  readonly supervision: SupervisionShell;
  readonly cluster: ClusterMember;
  readonly instanceId: string;
  readonly app: FastifyInstance;
  /** Starts listening (the configured port unless given); returns the address. */
  listen(port?: number): Promise<string>;
  /** Closes the API, then the calls and the backend, then the store (tests; main stops through shutdown.ts). */
  close(): Promise<void>;
}

export async function assembleService(config: AppConfig, logger: Logger, overrides: ServiceOverrides = {}): Promise<Service> {
  const backend = overrides.backend ?? createBackend(config, logger);
  const { cluster: clusterConfig } = config;
  const store =
    overrides.store ??
    (clusterConfig.redisUrl
      ? await RedisStateStore.connect({ url: clusterConfig.redisUrl, prefix: clusterConfig.keyPrefix, eventLimit: config.events.queueLimit, logger: logger.child({ component: 'state-store' }) })
      : new MemoryStateStore({ eventLimit: config.events.queueLimit }));
  // Alone in memory: 'local'. Sharing a store: a name that tells the instances apart (host and port by default).
  const instanceId = overrides.instanceId ?? clusterConfig.instanceId ?? (clusterConfig.redisUrl ? `${hostname()}-${config.http.port}` : 'local');
  if (backend.name === 'drachtio' && store.kind === 'redis') await backend.shareRegistrations(store, instanceId);
  const directory = new AgentDirectory(
    config.agents.map((a) => ({ workNo: a.workNo, phone: a.phone, skills: a.skills })),
    {
      presence: presenceConfigOf(config),
      ...(overrides.timers ? { timers: overrides.timers } : {}),
      ...(overrides.now ? { now: overrides.now } : {}),
      // Another instance's wrap-up or rest timer is ended here once that instance would have been found dead.
      timerBackupMs: overrides.heartbeat?.ttlMs ?? clusterConfig.heartbeatTtlSeconds * 1000,
    },
  );
  // The other instances' agents (and this one's before a restart) first, then calls.
  const sync = new DirectorySync(directory, store, instanceId, logger.child({ component: 'directory-sync' }));
  await sync.start();
  const admission = new AdmissionControl(backend.capacity);
  // A supervisor on a live call (issue 20): a shell beside the orchestrator, which sees the calls' media and phones through it.
  const calls: { orchestrator?: Orchestrator } = {};
  const supervision = new SupervisionShell({
    signalling: backend.signalling,
    media: backend.media,
    supervisionMedia: backend.supervision,
    logger: logger.child({ component: 'orchestrator' }),
    callState: (callId) => calls.orchestrator?.callState(callId),
    callOfLeg: (legId) => calls.orchestrator?.callOfLegId(legId),
    ...(config.wall.tellAgentWhenSupervised ? { tellAgents: (event: TimedAgentEvent) => calls.orchestrator?.tellAgents(event) } : {}),
  });
  const orchestrator = new Orchestrator({
    backend: supervision.wrapBackend(backend),
    admission,
    directory,
    store,
    instanceId,
    routes: routesOf(config),
    core: coreConfigOf(config),
    featureCodes: config.keypad,
    logger: logger.child({ component: 'orchestrator' }),
    ...(overrides.timers ? { timers: overrides.timers } : {}),
    ...(overrides.now ? { now: overrides.now } : {}),
  });
  calls.orchestrator = orchestrator;
  orchestrator.onCallDecided((state) => supervision.callDecided(state));
  // Several media servers keep each call's legs on one of them: the backend asks the orchestrator which call a leg is
  // of (a supervisor's leg: the call it supervises, so it is placed on that call's server).
  if (backend.name === 'drachtio') {
    backend.setCallLookup({ callOfLeg: (legId) => supervision.callOfLeg(legId) ?? orchestrator.callOfLegId(legId), legsOfCall: (callId) => orchestrator.legsOfCall(callId) });
  }
  await orchestrator.start();
  const advertisedUrl = overrides.advertisedUrl ?? clusterConfig.advertisedUrl ?? undefined;
  let url = advertisedUrl ?? '';
  const cluster = new ClusterMember({
    store,
    instanceId,
    directory,
    signalling: backend.signalling,
    activeCalls: () => orchestrator.activeCallCount(),
    httpUrl: () => url,
    ...(overrides.heartbeat
      ? { heartbeatMs: overrides.heartbeat.everyMs, heartbeatTtlMs: overrides.heartbeat.ttlMs }
      : { heartbeatMs: Math.min(1000, (clusterConfig.heartbeatTtlSeconds * 1000) / 3), heartbeatTtlMs: clusterConfig.heartbeatTtlSeconds * 1000 }),
    logger: logger.child({ component: 'cluster' }),
  });
  const clusterView: ClusterView = {
    get draining() {
      return cluster.draining;
    },
    ...(overrides.requestStop ? { requestStop: overrides.requestStop } : {}),
    otherInstancesCalls: () => cluster.otherInstancesCalls(),
    ownerUrlOfAgentCall: (workNo) => cluster.ownerUrlOfAgentCall(workNo),
  };
  const app = await buildApp({
    config,
    callControl: orchestrator,
    supervision,
    directory,
    store,
    instanceId,
    cluster: clusterView,
    logger,
    backendName: backend.name,
    admission,
    ...(backend.name === 'sim'
      ? { sim: backend }
      : { backendStatus: () => backend.connected, mediaTelemetry: backend.telemetry, mediaServers: { status: () => backend.mediaServers(), drain: (id: string, draining: boolean) => backend.pool.drain(id, draining) } }),
    ...overrides.appExtras,
  });
  return {
    config,
    backend,
    store,
    directory,
    orchestrator,
    supervision,
    cluster,
    instanceId,
    app,
    async listen(port = config.http.port) {
      const address = await app.listen({ port, host: config.http.host });
      if (advertisedUrl === undefined) url = address;
      await cluster.start();
      return address;
    },
    async close() {
      await cluster.leave();
      await app.close();
      await orchestrator.stop();
      sync.stop();
      await store.close();
    },
  };
}
