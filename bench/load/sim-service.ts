/**
 * The service on the simulated backend, in this process, on 127.0.0.1 and a free port: what `npm run load --
 * --sim` drives when no --api is given, and what the test and the benchmarks use. Same code as `npm start`
 * with telephony.backend "sim" (config/default.json with the run's agents and routes merged over it).
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { deepMerge, defaultConfigPath, validateConfig, type AppConfig } from '../../src/config/config.js';
import type { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { assembleService } from '../../src/service.js';
import { SimBackend } from '../../src/telephony/sim/sim-backend.js';

export interface SimService {
  readonly url: string;
  readonly config: AppConfig;
  readonly orchestrator: Orchestrator;
  readonly sim: SimBackend;
  stop(): Promise<void>;
}

type Json = Parameters<typeof deepMerge>[0];

/** `onResponse`: called with each request's route and the time the service spent on it (Fastify's elapsedTime). */
export async function startSimService(overrides: Record<string, unknown>, onResponse?: (method: string, route: string, ms: number) => void): Promise<SimService> {
  const defaults = JSON.parse(readFileSync(defaultConfigPath(), 'utf8')) as Json;
  const config = validateConfig(
    deepMerge(defaults, {
      ...(overrides as Record<string, Json>),
      http: { port: 0, host: '127.0.0.1', bodyLimitBytes: 16384 },
      telephony: { backend: 'sim' },
      log: { level: 'silent' },
    }),
  );
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
