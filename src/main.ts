/**
 * Starts the service: configuration, logger, telephony backend (simulated unless real servers are configured),
 * agent directory, orchestrator, HTTP API. On SIGTERM/SIGINT it stops as shutdown.ts describes, within
 * shutdown.timeoutSeconds (idleTimeoutSeconds with no call in progress); a second signal exits at once.
 */
import pino from 'pino';
import { ConfigError, loadConfig, PUBLIC_DEFAULT_SECRETS, settingsWithPublicDefaultSecrets } from './config/config.js';
import { assembleService } from './service.js';
import { stopGracefully } from './shutdown.js';

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
  const service = await assembleService(config, logger);
  const { backend, orchestrator, app } = service;
  if (backend.name === 'sim') {
    logger.warn('*** SIMULATED TELEPHONY: no real phones are connected. Play them through /sim (see README). Set TELEPHONY_BACKEND=drachtio for real servers. ***');
  } else {
    // Only the public defaults are ever named; a secret of the operator's own never reaches the log.
    const publicDefaults = settingsWithPublicDefaultSecrets(config);
    if (publicDefaults.length > 0) {
      logger.warn(
        { settings: publicDefaults },
        `public default secrets in use (drachtio "${PUBLIC_DEFAULT_SECRETS.drachtio}", FreeSWITCH "${PUBLIC_DEFAULT_SECRETS.freeswitch}"): anyone who reaches those ports can control the calls; set DRACHTIO_SECRET and FREESWITCH_SECRET`,
      );
    }
  }
  const address = await service.listen();
  logger.info({ backend: backend.name, agents: config.agents.length, routes: config.routes.length }, 'service started');
  const sim = backend.name === 'sim' ? `, simulated phones ${address}/phones, all of them together ${address}/play` : '';
  logger.info(`agent desktop ${address}/desk, supervisor wall ${address}/wall${sim}`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'signal received');
    const { shutdown } = config;
    const report = await stopGracefully(
      { http: app, calls: orchestrator, signalling: backend.signalling },
      {
        timeoutMs: shutdown.timeoutSeconds * 1000,
        idleTimeoutMs: shutdown.idleTimeoutSeconds * 1000,
        callsGraceMs: shutdown.callsGraceSeconds * 1000,
        retryAfterSeconds: shutdown.retryAfterSeconds,
        logger,
      },
    );
    process.exit(report.completed ? 0 : 1);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('failed to start:', error);
  process.exit(1);
});
