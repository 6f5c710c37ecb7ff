/** Picks the telephony backend named in the configuration. */
import type { Logger } from 'pino';
import { knownPhones, mediaServersOf, type AppConfig } from '../config/config.js';
import type { PhoneCredentials } from './drachtio/registrar.js';
import { createDrachtioBackend, type DrachtioBackend } from './drachtio/index.js';
import { SimBackend } from './sim/sim-backend.js';

/**
 * Static addresses: agents' and handsets' configured contacts; any other number through the gateway, unless it is a
 * known phone (a handset that registers is reached only where it registered: see the registrar).
 */
export function contactResolver(config: AppConfig): (number: string, workNo?: string) => string | undefined {
  const byPhone = new Map<string, string>();
  for (const agent of config.agents) if (agent.contact) byPhone.set(agent.phone, agent.contact);
  for (const phone of config.phones) if (phone.contact) byPhone.set(phone.number, phone.contact);
  const phones = knownPhones(config);
  return (number, workNo) => {
    const agent = workNo !== undefined ? config.agents.find((a) => a.workNo === workNo) : undefined;
    if (agent?.contact && agent.phone === number) return agent.contact;
    const contact = byPhone.get(number);
    if (contact) return contact;
    return workNo === undefined && !phones.has(number) ? config.gateway.uriTemplate.replace('{number}', number) : undefined;
  };
}

/** Digest credentials of the handsets that register. */
export function phoneCredentials(config: AppConfig): PhoneCredentials[] {
  return config.phones
    .filter((p) => p.password !== undefined || p.ha1 !== undefined)
    .map((p) => ({ phone: p.number, username: p.username ?? p.number, ...(p.password !== undefined ? { password: p.password } : {}), ...(p.ha1 !== undefined ? { ha1: p.ha1 } : {}) }));
}

export function createBackend(config: AppConfig, logger: Logger): SimBackend | DrachtioBackend {
  if (config.telephony.backend === 'sim') return new SimBackend();
  return createDrachtioBackend({
    drachtio: config.drachtio,
    freeswitch: { ...config.freeswitch, servers: mediaServersOf(config) },
    contactFor: contactResolver(config),
    registrar: { credentials: phoneCredentials(config), settings: config.registrar },
    logger,
    ...(config.telephony.owner ? { owner: config.telephony.owner } : {}),
    reconcileIntervalMs: config.telephony.reconcileIntervalSeconds * 1000,
    mediaCommandTimeoutMs: config.telephony.mediaCommandTimeoutMs,
    ...(config.telephony.mediaTimeoutSeconds !== null ? { mediaSilenceTimeoutMs: Math.round(config.telephony.mediaTimeoutSeconds * 1000) } : {}),
    signallingLossMs: config.telephony.signallingLossSeconds * 1000,
  });
}
