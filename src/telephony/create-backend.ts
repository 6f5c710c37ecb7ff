/** Picks the telephony backend named in the configuration. */
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { createDrachtioBackend, type DrachtioBackend } from './drachtio/index.js';
import { SimBackend } from './sim/sim-backend.js';

/** Agents are reached at their configured contact; any other number through the gateway. */
export function contactResolver(config: AppConfig): (number: string, workNo?: string) => string | undefined {
  const byPhone = new Map<string, string>();
  for (const agent of config.agents) if (agent.contact) byPhone.set(agent.phone, agent.contact);
  return (number, workNo) => {
    const agent = workNo !== undefined ? config.agents.find((a) => a.workNo === workNo) : undefined;
    if (agent?.contact && agent.phone === number) return agent.contact;
    return byPhone.get(number) ?? (workNo === undefined ? config.gateway.uriTemplate.replace('{number}', number) : undefined);
  };
}

export function createBackend(config: AppConfig, logger: Logger): SimBackend | DrachtioBackend {
  if (config.telephony.backend === 'sim') return new SimBackend();
  return createDrachtioBackend({
    drachtio: config.drachtio,
    freeswitch: config.freeswitch,
    contactFor: contactResolver(config),
    logger,
    ...(config.telephony.owner ? { owner: config.telephony.owner } : {}),
    reconcileIntervalMs: config.telephony.reconcileIntervalSeconds * 1000,
    mediaCommandTimeoutMs: config.telephony.mediaCommandTimeoutMs,
    ...(config.telephony.mediaTimeoutSeconds !== null ? { mediaSilenceTimeoutMs: Math.round(config.telephony.mediaTimeoutSeconds * 1000) } : {}),
  });
}
