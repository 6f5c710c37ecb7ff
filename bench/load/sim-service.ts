/**
 * The service on the simulated backend, in this process, on 127.0.0.1 and a free port: what `npm run load --
 * --sim` drives when no --api is given, and what the test and the benchmarks use. Same code as `npm start`
 * with telephony.backend "sim" (config/default.json with the run's agents and routes merged over it).
 * `startSimInstances`: several such instances on one shared state store (issue 17), each with its own SimBackend.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { deepMerge, defaultConfigPath, validateConfig, type AppConfig } from '../../src/config/config.js';
import type { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import type { StateStore } from '../../src/ports/state-store.js';
import { assembleService } from '../../src/service.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { SimBackend } from '../../src/telephony/sim/sim-backend.js';

export interface SimService {
  readonly url: string;
  readonly config: AppConfig;
  readonly orchestrator: Orchestrator;
  readonly sim: SimBackend;
  stop(): Promise<void>;
}

type Json = Parameters<typeof deepMerge>[0];

/** The service's configuration for a simulator run: config/default.json with `overrides` merged over it. */
export function simConfig(overrides: Record<string, unknown>): AppConfig {
  const defaults = JSON.parse(readFileSync(defaultConfigPath(), 'utf8')) as Json;
  return validateConfig(
    deepMerge(defaults, {
      ...(overrides as Record<string, Json>),
      http: { port: 0, host: '127.0.0.1', bodyLimitBytes: 16384 },
      telephony: { backend: 'sim' },
      log: { level: 'silent' },
    }),
  );
}

/** `onResponse`: called with each request's route and the time the service spent on it (Fastify's elapsedTime). */
export async function startSimService(overrides: Record<string, unknown>, onResponse?: (method: string, route: string, ms: number) => void): Promise<SimService> {
  const config = simConfig(overrides);
  const logger = pino({ level: 'silent' });
  const sim = new SimBackend();
  // The user's configuration defaults (presence, keypad) apply here too: the same assembly as `npm start`.
  const service = await assembleService(config, logger, { backend: sim });
  const { app, orchestrator } = service;
  if (onResponse) app.addHook('onResponse', async (request, reply) => onResponse(request.method, request.routeOptions.url ?? '', reply.elapsedTime));
  const url = await service.listen(0);
  return {
    url,
    config,
    orchestrator,
    sim,
    stop: () => service.close(),
  };
}

export interface SimInstances {
  /** One per instance, in order (instanceId `load-1`, `load-2`, ...). */
  readonly instances: readonly (SimService & { readonly instanceId: string })[];
  /** "in memory" or the Redis URL and key prefix. */
  readonly storeName: string;
  /** What the instances logged at warn or above: "level: message" -> count (their logs are not printed). */
  readonly logged: Record<string, number>;
  /**
   * True when an event a desk received was made by an instance other than the last one (where the load driver's
   * desks are). Each event is recognised once (by agent, type, eventGenTime and content): instances tell their
   * listeners of an event before it goes into the store, so it is known here before any desk can receive it.
   */
  madeElsewhere(event: { readonly workNo: string; readonly eventType: string; readonly eventGenTime?: number; readonly content: unknown }): boolean;
  stop(): Promise<void>;
}

/**
 * `count` instances of the service on the simulated backend sharing one state store: Redis at `redisUrl` (each
 * instance on connections of its own, as separate processes would be, under a key prefix of this run), or one
 * in-memory store object. Each has its own SimBackend: a call's phones are in the instance that took it.
 */
export async function startSimInstances(
  overrides: Record<string, unknown>,
  options: {
    readonly count: number;
    readonly redisUrl?: string;
    /** Each request's route and the time the instance spent on it (Fastify's elapsedTime). */
    readonly onResponse?: (instanceId: string, method: string, route: string, ms: number) => void;
  },
): Promise<SimInstances> {
  const config = simConfig(overrides);
  // Warnings and errors (a forwarded request the owner did not answer, a lost Redis connection) are counted, not printed.
  const logged: Record<string, number> = {};
  const logger = pino(
    { level: 'warn' },
    {
      write(line: string) {
        const { level, msg } = JSON.parse(line) as { level?: number; msg?: string };
        const key = `${pino.levels.labels[level ?? 0] ?? level}: ${msg ?? '(no message)'}`;
        logged[key] = (logged[key] ?? 0) + 1;
      },
    },
  );
  const prefix = `load-${process.pid}-${Date.now()}:`;
  const shared = options.redisUrl ? null : new MemoryStateStore({ eventLimit: config.events.queueLimit, logger });
  const started: { service: Awaited<ReturnType<typeof assembleService>>; view: SimService & { instanceId: string } }[] = [];
  try {
    for (let i = 1; i <= options.count; i++) {
      const store: StateStore = shared ?? (await RedisStateStore.connect({ url: options.redisUrl as string, prefix, eventLimit: config.events.queueLimit, logger }));
      const sim = new SimBackend();
      const instanceId = `load-${i}`;
      const service = await assembleService(config, logger, { backend: sim, store, instanceId });
      const { onResponse } = options;
      if (onResponse) service.app.addHook('onResponse', async (request, reply) => onResponse(instanceId, request.method, request.routeOptions.url ?? '', reply.elapsedTime));
      const url = await service.listen(0);
      started.push({ service, view: { url, config, orchestrator: service.orchestrator, sim, instanceId, stop: () => service.close() } });
    }
  } catch (error) {
    for (const s of started.reverse()) await s.service.close().catch(() => undefined);
    throw error;
  }
  const key = (e: { workNo: string; eventType: string; eventGenTime?: number; content: unknown }) => `${e.workNo}|${e.eventType}|${e.eventGenTime}|${JSON.stringify(e.content)}`;
  const elsewhere = new Set<string>();
  for (const s of started.slice(0, -1)) s.service.orchestrator.onAgentEvent((e) => elsewhere.add(key(e)));
  return {
    instances: started.map((s) => s.view),
    madeElsewhere: (event) => elsewhere.delete(key(event)),
    storeName: options.redisUrl ? `Redis ${options.redisUrl} (keys ${prefix}*)` : 'one in-memory store',
    logged,
    async stop() {
      for (const s of [...started].reverse()) await s.service.close();
    },
  };
}
