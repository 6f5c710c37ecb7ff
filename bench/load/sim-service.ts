/**
 * The service on the simulated backend, in this process, on 127.0.0.1 and a free port: what `npm run load --
 * --sim` drives when no --api is given, and what the test and the benchmarks use. Same code as `npm start`
 * with telephony.backend "sim" (config/default.json with the run's agents and routes merged over it).
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { buildApp } from '../../src/api/app.js';
import { coreConfigOf, deepMerge, defaultConfigPath, routesOf, validateConfig, type AppConfig } from '../../src/config/config.js';
import { AgentDirectory } from '../../src/orchestrator/agent-directory.js';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
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
  const directory = new AgentDirectory(config.agents.map((a) => ({ workNo: a.workNo, phone: a.phone, skills: a.skills })));
  const orchestrator = new Orchestrator({ backend: sim, directory, routes: routesOf(config), core: coreConfigOf(config), logger });
  await orchestrator.start();
  const app = await buildApp({ config, callControl: orchestrator, directory, logger, sim, backendName: 'sim' });
  if (onResponse) app.addHook('onResponse', async (request, reply) => onResponse(request.method, request.routeOptions.url ?? '', reply.elapsedTime));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    config,
    orchestrator,
    sim,
    async stop() {
      await app.close();
      await orchestrator.stop();
    },
  };
}
