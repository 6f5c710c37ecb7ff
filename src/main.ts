/**
 * Starts the service: configuration, logger, telephony backend (simulated unless real servers are configured),
 * agent directory, orchestrator, HTTP API. Stops cleanly on SIGINT/SIGTERM.
 */
import pino from 'pino';
import { buildApp } from './api/app.js';
import { ConfigError, coreConfigOf, loadConfig, routesOf } from './config/config.js';
import { AgentDirectory } from './orchestrator/agent-directory.js';
import { Orchestrator } from './orchestrator/orchestrator.js';
import { createBackend } from './telephony/create-backend.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({
    level: config.log.level,
    // Secrets never reach the log, whatever object they ride in on.
    redact: ['password', 'passwordHash', 'secret', '*.password', '*.passwordHash', '*.secret', 'headers.guid', 'guid'],
  });
  const backend = createBackend(config, logger);
  if (backend.name === 'sim') {
    logger.warn('*** SIMULATED TELEPHONY: no real phones are connected. Play them through /sim (see README). Set TELEPHONY_BACKEND=drachtio for real servers. ***');
  }
  const directory = new AgentDirectory(config.agents.map((a) => ({ workNo: a.workNo, phone: a.phone, skills: a.skills })));
  const orchestrator = new Orchestrator({ backend, directory, routes: routesOf(config), core: coreConfigOf(config), logger: logger.child({ component: 'orchestrator' }) });
  await orchestrator.start();
  const app = await buildApp({
    config,
    callControl: orchestrator,
    directory,
    logger,
    backendName: backend.name,
    ...(backend.name === 'sim' ? { sim: backend } : { backendStatus: () => backend.connected, mediaTelemetry: backend.telemetry }),
  });
  const address = await app.listen({ port: config.http.port, host: config.http.host });
  logger.info({ backend: backend.name, agents: config.agents.length, routes: config.routes.length }, 'service started');
  const sim = backend.name === 'sim' ? `, simulated phones ${address}/phones, all of them together ${address}/play` : '';
  logger.info(`agent desktop ${address}/desk, supervisor wall ${address}/wall${sim}`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await app.close();
    await orchestrator.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('failed to start:', error);
  process.exit(1);
});
