/**
 * Starts the service: configuration, logger, telephony backend (simulated unless real servers are configured),
 * agent directory, orchestrator, HTTP API. On SIGTERM/SIGINT it stops as shutdown.ts describes, within
 * shutdown.timeoutSeconds (idleTimeoutSeconds with no call in progress); a second signal (a second or more after the
 * first) exits at once. `npm start`'s script execs node, so npm passes a SIGTERM or SIGINT it gets straight to us.
 */
import pino from 'pino';
import { accountsWithPlainPasswords, ConfigError, loadConfig, PUBLIC_DEFAULT_SECRETS, settingsWithPublicDefaultSecrets } from './config/config.js';
import { assembleService } from './service.js';
import { stopGracefully } from './shutdown.js';

/** A second signal this soon after the first is the same one passed on twice (see stop, below). */
const REPEAT_WINDOW_MS = 1000;

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
  // POST /admin/drain (from the host itself) starts the same stop as SIGTERM.
  let requestStop: (why: string) => void = () => undefined;
  const service = await assembleService(config, logger, { requestStop: (why) => requestStop(why) });
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
    // Plain passwords are for the simulator (config/default.json's demo agents and supervisor 901 among them).
    const plain = accountsWithPlainPasswords(config);
    if (plain.length > 0) logger.warn({ accounts: plain }, 'plain passwords in the configuration: use passwordHash (npm run hash-password), and list your own supervisors');
  }
  const address = await service.listen();
  logger.info(
    { backend: backend.name, agents: config.agents.length, routes: config.routes.length, instance: service.instanceId, store: service.store.kind },
    'service started',
  );
  const sim = backend.name === 'sim' ? `, simulated phones ${address}/phones, all of them together ${address}/play` : '';
  logger.info(`agent desktop ${address}/desk, supervisor wall ${address}/wall${sim}`);

  // One stop can bring more than one signal: under `npm start`, Ctrl-C reaches this process from the terminal and
  // again from npm, which passes on what it gets (so does systemd's stop, which signals every process of the unit).
  // A signal within REPEAT_WINDOW_MS of the first is that same stop; a later one means "exit now".
  let stoppingSince: number | null = null;
  const stop = async (signal: string): Promise<void> => {
    if (stoppingSince !== null) {
      if (performance.now() - stoppingSince < REPEAT_WINDOW_MS) {
        logger.info({ signal }, 'signal again at once: the same stop, already under way');
        return;
      }
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stoppingSince = performance.now();
    logger.info({ signal }, 'signal received');
    const { shutdown } = config;
    // With a shared store other instances take over: drain (calls kept up to drainSeconds). Alone: stop.
    const shared = service.store.kind === 'redis';
    const graceSeconds = shared ? shutdown.drainSeconds : shutdown.callsGraceSeconds;
    const report = await stopGracefully(
      { http: app, calls: orchestrator, signalling: backend.signalling, ...(shared ? { cluster: service.cluster } : {}) },
      {
        timeoutMs: (graceSeconds + shutdown.timeoutSeconds - shutdown.callsGraceSeconds) * 1000,
        idleTimeoutMs: shutdown.idleTimeoutSeconds * 1000,
        callsGraceMs: graceSeconds * 1000,
        retryAfterSeconds: shutdown.retryAfterSeconds,
        logger,
      },
    );
    await service.store.close().catch(() => undefined);
    process.exit(report.completed ? 0 : 1);
  };
  requestStop = (why) => void stop(why);
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('failed to start:', error);
  process.exit(1);
});
