/** The drachtio + FreeSWITCH backend. */
import { DrachtioBackend, type DrachtioBackendOptions } from './backend.js';

export type { DrachtioBackendOptions } from './backend.js';
export { DrachtioBackend, HOLD_MUSIC, RINGBACK } from './backend.js';

export function createDrachtioBackend(options: DrachtioBackendOptions): DrachtioBackend {
  return new DrachtioBackend(options);
}
