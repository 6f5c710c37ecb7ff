/** Picks the telephony backend named in the configuration. */
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { SimBackend } from './sim/sim-backend.js';

export type Backend = SimBackend | import('../ports/telephony.js').TelephonyBackend;

export async function createBackend(config: AppConfig, logger: Logger): Promise<SimBackend | (import('../ports/telephony.js').TelephonyBackend & { name: 'drachtio' })> {
  if (config.telephony.backend === 'sim') return new SimBackend();
  logger.error('the drachtio backend is not part of this build yet');
  throw new Error('TELEPHONY_BACKEND=drachtio is not available in this build');
}
