/**
 * Configuration: config/default.json, then the JSON file named by CONFIG_FILE (merged over it), then environment
 * variables. Validated once at start with a JSON schema; every bad field is reported by its path.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import type { PresenceConfig } from '../core/presence/types.js';
import type { CoreConfig, QueuePolicy, Route } from '../core/types.js';
import type { FeatureCodes } from '../orchestrator/keypad.js';
import type { DrachtioBackendOptions } from '../telephony/drachtio/backend.js';

export interface AgentConfig {
  readonly workNo: string;
  /** Plain password (demo and tests) or passwordHash (production): exactly one of them. */
  readonly password?: string;
  readonly passwordHash?: string;
  readonly phone: string;
  readonly skills: readonly string[];
  /** Static SIP URI of the agent's phone (drachtio backend). */
  readonly contact?: string;
}

/** A handset's SIP credentials (for the registrar), and optionally a static contact instead of registering. */
export interface PhoneConfig {
  readonly number: string;
  /** Digest user name (default: the number). */
  readonly username?: string;
  /** Plain password, or ha1 = md5(username:realm:password): exactly one of them when the phone registers. */
  readonly password?: string;
  readonly ha1?: string;
  /** Static SIP URI (the phone does not register). */
  readonly contact?: string;
}

export interface RouteConfig {
  readonly did: string;
  readonly agent?: string;
  readonly skill?: string;
}

/** A skill queue's maximum wait and what happens after it: exactly one of overflowTo / finalStatus. */
export interface QueueConfig {
  readonly maxWaitSeconds: number;
  /** Another skill whose queue the customer moves to. */
  readonly overflowTo?: string;
  /** SIP status the customer's call is ended with (e.g. 486, 480). */
  readonly finalStatus?: number;
}

export interface AppConfig {
  readonly http: { readonly port: number; readonly host: string; readonly bodyLimitBytes: number };
  readonly telephony: {
    readonly backend: 'sim' | 'drachtio';
    /** Tag on every FreeSWITCH channel the service makes (null: this host's name); see the reconciler. */
    readonly owner: string | null;
    /** How often FreeSWITCH's channels are compared with the service's legs (0: never). */
    readonly reconcileIntervalSeconds: number;
    /** Deadline of one media command on FreeSWITCH; past it the leg counts as lost. */
    readonly mediaCommandTimeoutMs: number;
    /** A phone that sends no RTP this long is hung up by FreeSWITCH (null: freeswitch/conf's FS_MEDIA_TIMEOUT_MS). */
    readonly mediaTimeoutSeconds: number | null;
  };
  readonly agents: readonly AgentConfig[];
  readonly phones: readonly PhoneConfig[];
  readonly registrar: {
    readonly realm: string;
    readonly minExpiresSeconds: number;
    readonly maxExpiresSeconds: number;
    readonly defaultExpiresSeconds: number;
    readonly maxContactsPerPhone: number;
    readonly failuresBeforeBlock: number;
    readonly blockSeconds: number;
    readonly nonceLifetimeSeconds: number;
  };
  /** The API's sign-in: an agent whose password fails maxFailures times in a row is locked for lockSeconds. */
  readonly signIn: { readonly maxFailures: number; readonly lockSeconds: number };
  /** Help from the handset's keypad (RFC 2833 digits on the agent's leg). */
  readonly keypad: FeatureCodes;
  readonly routes: readonly RouteConfig[];
  readonly help: { readonly answerTimeoutSeconds: number };
  readonly routing: { readonly offerTimeoutSeconds: number; readonly requeueSeconds: number };
  /** Agent states: what a signed-in agent starts in, and the wrap-up after each customer call. */
  readonly presence: { readonly initialState: 'ready' | 'not-ready'; readonly wrapUpSeconds: number };
  /** Skill queues with a maximum wait, by skill. */
  readonly queues: Readonly<Record<string, QueueConfig>>;
  readonly events: { readonly pollTimeoutSeconds: number; readonly heartbeatTimeoutSeconds: number; readonly queueLimit: number };
  /** The real backend's connection settings, as its options name them (the profile is always drachtio_mrf). */
  readonly drachtio: DrachtioBackendOptions['drachtio'];
  readonly freeswitch: Required<Omit<DrachtioBackendOptions['freeswitch'], 'profile'>>;
  /** How customers' numbers are reached (callout), e.g. "sip:{number}@gateway.example.com". */
  readonly gateway: { readonly uriTemplate: string };
  readonly log: { readonly level: string };
  /** SIGTERM/SIGINT: how long the service may take to stop (see README, Stopping and restarting). */
  readonly shutdown: {
    /** The process has exited at the latest this long after the signal, when calls are in progress. */
    readonly timeoutSeconds: number;
    /** The same deadline when no call is in progress at the signal. */
    readonly idleTimeoutSeconds: number;
    /** Calls in progress may go on this long; those still up are then hung up. Less than timeoutSeconds. */
    readonly callsGraceSeconds: number;
    /** Retry-After (seconds) on the 503 that refuses a new incoming call while the service stops. */
    readonly retryAfterSeconds: number;
  };
}

const digits = { type: 'string', pattern: '^[0-9]+$' };
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['http', 'telephony', 'agents', 'routes', 'help', 'routing', 'events', 'drachtio', 'freeswitch', 'gateway', 'log'],
  properties: {
    http: {
      type: 'object',
      additionalProperties: false,
      required: ['port', 'host', 'bodyLimitBytes'],
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        host: { type: 'string', minLength: 1 },
        bodyLimitBytes: { type: 'integer', minimum: 256, maximum: 1048576 },
      },
    },
    telephony: {
      type: 'object',
      additionalProperties: false,
      required: ['backend'],
      properties: {
        backend: { enum: ['sim', 'drachtio'] },
        owner: { type: ['string', 'null'], pattern: '^[A-Za-z0-9._-]{1,64}$', default: null },
        reconcileIntervalSeconds: { type: 'number', minimum: 0, maximum: 3600, default: 5 },
        mediaCommandTimeoutMs: { type: 'integer', minimum: 100, maximum: 60000, default: 2000 },
        mediaTimeoutSeconds: { type: ['number', 'null'], minimum: 0, maximum: 86400, default: null },
      },
    },
    agents: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['workNo', 'phone'],
        properties: {
          workNo: { type: 'string', pattern: '^[1-9][0-9]{2,5}$' },
          password: { type: 'string', minLength: 1 },
          passwordHash: { type: 'string', pattern: '^scrypt\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$' },
          phone: { ...digits, maxLength: 32 },
          skills: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
          contact: { type: 'string', pattern: '^sips?:' },
        },
        oneOf: [{ required: ['password'] }, { required: ['passwordHash'] }],
      },
    },
    phones: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['number'],
        properties: {
          number: { ...digits, maxLength: 32 },
          username: { type: 'string', pattern: '^[A-Za-z0-9._~!$&\'()*+,;=-]{1,64}$' },
          password: { type: 'string', minLength: 1 },
          ha1: { type: 'string', pattern: '^[0-9a-f]{32}$' },
          contact: { type: 'string', pattern: '^sips?:' },
        },
        not: { required: ['password', 'ha1'] },
      },
    },
    registrar: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        realm: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$', default: 'helpdesk' },
        minExpiresSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 60 },
        maxExpiresSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 3600 },
        defaultExpiresSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 3600 },
        maxContactsPerPhone: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
        failuresBeforeBlock: { type: 'integer', minimum: 1, maximum: 1000, default: 5 },
        blockSeconds: { type: 'number', minimum: 0, maximum: 86400, default: 60 },
        nonceLifetimeSeconds: { type: 'integer', minimum: 10, maximum: 86400, default: 300 },
      },
    },
    keypad: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        twoPartyHelp: { type: 'string', pattern: '^\\*[0-9]{1,4}$', default: '*2' },
        threePartyHelp: { type: 'string', pattern: '^\\*[0-9]{1,4}$', default: '*3' },
        dropHelper: { type: 'string', pattern: '^\\*[0-9]{1,4}$', default: '*0' },
        conference: { type: 'string', pattern: '^\\*[0-9]{1,4}$', default: '*5' },
        digitTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 5 },
      },
    },
    signIn: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxFailures: { type: 'integer', minimum: 1, maximum: 1000, default: 5 },
        lockSeconds: { type: 'number', minimum: 0, maximum: 86400, default: 300 },
      },
    },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['did'],
        properties: { did: { ...digits, maxLength: 32 }, agent: digits, skill: { type: 'string', minLength: 1 } },
        oneOf: [{ required: ['agent'] }, { required: ['skill'] }],
      },
    },
    help: {
      type: 'object',
      additionalProperties: false,
      required: ['answerTimeoutSeconds'],
      properties: { answerTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 } },
    },
    routing: {
      type: 'object',
      additionalProperties: false,
      required: ['offerTimeoutSeconds', 'requeueSeconds'],
      properties: {
        offerTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 },
        requeueSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
      },
    },
    presence: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        initialState: { enum: ['ready', 'not-ready'], default: 'ready' },
        wrapUpSeconds: { type: 'number', minimum: 0, maximum: 3600, default: 0 },
      },
    },
    queues: {
      type: 'object',
      default: {},
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['maxWaitSeconds'],
        properties: {
          maxWaitSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400 },
          overflowTo: { type: 'string', minLength: 1 },
          finalStatus: { type: 'integer', minimum: 400, maximum: 699 },
        },
        oneOf: [{ required: ['overflowTo'] }, { required: ['finalStatus'] }],
      },
    },
    events: {
      type: 'object',
      additionalProperties: false,
      required: ['pollTimeoutSeconds', 'heartbeatTimeoutSeconds', 'queueLimit'],
      properties: {
        pollTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 60 },
        heartbeatTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
        queueLimit: { type: 'integer', minimum: 1, maximum: 100000 },
      },
    },
    drachtio: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'secret'],
      properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 1, maximum: 65535 }, secret: { type: 'string' } },
    },
    freeswitch: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'secret', 'listenAddress', 'listenPort', 'advertisedAddress'],
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        secret: { type: 'string' },
        listenAddress: { type: 'string', minLength: 1 },
        listenPort: { type: 'integer', minimum: 1, maximum: 65535 },
        advertisedAddress: { type: ['string', 'null'] },
      },
    },
    gateway: {
      type: 'object',
      additionalProperties: false,
      required: ['uriTemplate'],
      properties: { uriTemplate: { type: 'string', pattern: '^sips?:.*\\{number\\}' } },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      required: ['level'],
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
    },
    shutdown: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 10 },
        idleTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 1 },
        callsGraceSeconds: { type: 'number', minimum: 0, maximum: 3600, default: 8 },
        retryAfterSeconds: { type: 'integer', minimum: 0, maximum: 86400, default: 10 },
      },
    },
  },
} as const;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; anything else (arrays included) replaces. */
export function deepMerge(base: Json, over: Json): Json {
  if (!isObject(base) || !isObject(over)) return over;
  const result: Record<string, Json> = { ...base };
  for (const [key, value] of Object.entries(over)) result[key] = key in base ? deepMerge(base[key] as Json, value) : value;
  return result;
}

function readJson(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${path}: cannot be read (${(error as Error).message})`]);
  }
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new ConfigError([`${path}: not valid JSON (${(error as Error).message})`]);
  }
}

/** Environment variables that override single settings: name -> [path, type]. */
const ENV_OVERRIDES: Record<string, [string[], 'string' | 'int' | 'nullable']> = {
  HTTP_PORT: [['http', 'port'], 'int'],
  HTTP_HOST: [['http', 'host'], 'string'],
  TELEPHONY_BACKEND: [['telephony', 'backend'], 'string'],
  TELEPHONY_OWNER: [['telephony', 'owner'], 'nullable'],
  RECONCILE_INTERVAL_SECONDS: [['telephony', 'reconcileIntervalSeconds'], 'int'],
  DRACHTIO_HOST: [['drachtio', 'host'], 'string'],
  DRACHTIO_PORT: [['drachtio', 'port'], 'int'],
  DRACHTIO_SECRET: [['drachtio', 'secret'], 'string'],
  FREESWITCH_HOST: [['freeswitch', 'host'], 'string'],
  FREESWITCH_PORT: [['freeswitch', 'port'], 'int'],
  FREESWITCH_SECRET: [['freeswitch', 'secret'], 'string'],
  FREESWITCH_LISTEN_ADDRESS: [['freeswitch', 'listenAddress'], 'string'],
  FREESWITCH_LISTEN_PORT: [['freeswitch', 'listenPort'], 'int'],
  FREESWITCH_ADVERTISED_ADDRESS: [['freeswitch', 'advertisedAddress'], 'nullable'],
  GATEWAY_URI_TEMPLATE: [['gateway', 'uriTemplate'], 'string'],
  LOG_LEVEL: [['log', 'level'], 'string'],
  SHUTDOWN_TIMEOUT_SECONDS: [['shutdown', 'timeoutSeconds'], 'int'],
  SHUTDOWN_IDLE_TIMEOUT_SECONDS: [['shutdown', 'idleTimeoutSeconds'], 'int'],
  SHUTDOWN_CALLS_GRACE_SECONDS: [['shutdown', 'callsGraceSeconds'], 'int'],
};

function envOverrides(env: NodeJS.ProcessEnv, problems: string[]): Json {
  const result: Record<string, Json> = {};
  for (const [name, [path, type]] of Object.entries(ENV_OVERRIDES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: Json = raw;
    if (type === 'int') {
      if (!/^[0-9]+$/.test(raw)) {
        problems.push(`${name}: must be a whole number, got "${raw}"`);
        continue;
      }
      value = Number(raw);
    }
    let node = result;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, Json>;
    node[path[path.length - 1] as string] = value;
  }
  return result;
}

const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validate = new Ajv({ allErrors: true, useDefaults: true }).compile(schema);

export function defaultConfigPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../config/default.json');
}

/** Builds and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, defaultsPath = defaultConfigPath()): AppConfig {
  let merged = readJson(defaultsPath);
  if (env.CONFIG_FILE) merged = deepMerge(merged, readJson(env.CONFIG_FILE));
  const problems: string[] = [];
  merged = deepMerge(merged, envOverrides(env, problems));
  return validateConfig(merged, problems);
}

export function validateConfig(candidate: unknown, problems: string[] = []): AppConfig {
  if (!validate(candidate)) {
    for (const error of validate.errors ?? []) {
      const where = error.instancePath.replace(/^\//, '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.') || '(root)';
      if (error.keyword === 'oneOf') continue; // explained by the errors of its branches, or below
      const extra = error.keyword === 'additionalProperties' ? ` (${String((error.params as { additionalProperty: string }).additionalProperty)})` : '';
      problems.push(`${where}: ${error.message ?? 'is invalid'}${extra}`);
    }
    for (const error of validate.errors ?? []) {
      if (error.keyword !== 'oneOf') continue;
      const where = error.instancePath.replace(/^\//, '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
      const needs = where.startsWith('agents') ? 'password or passwordHash' : where.startsWith('queues') ? 'overflowTo or finalStatus' : 'agent or skill';
      problems.push(`${where}: needs exactly one of ${needs}`);
    }
  }
  if (problems.length === 0) problems.push(...crossChecks(candidate as AppConfig));
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return candidate as AppConfig;
}

/** What a schema cannot say: unique work numbers and DIDs, routes that name known agents and skills. */
function crossChecks(config: AppConfig): string[] {
  const problems: string[] = [];
  const workNos = new Set<string>();
  const skills = new Set<string>();
  config.agents.forEach((agent, i) => {
    if (workNos.has(agent.workNo)) problems.push(`agents[${i}].workNo: ${agent.workNo} is used twice`);
    workNos.add(agent.workNo);
    for (const s of agent.skills) skills.add(s);
  });
  const dids = new Set<string>();
  config.routes.forEach((route, i) => {
    if (dids.has(route.did)) problems.push(`routes[${i}].did: ${route.did} is used twice`);
    dids.add(route.did);
    if (route.agent !== undefined && !workNos.has(route.agent)) problems.push(`routes[${i}].agent: no agent ${route.agent}`);
    if (route.skill !== undefined && !skills.has(route.skill)) problems.push(`routes[${i}].skill: no agent has skill ${route.skill}`);
  });
  for (const [skill, queue] of Object.entries(config.queues)) {
    if (!skills.has(skill)) problems.push(`queues.${skill}: no agent has skill ${skill}`);
    if (queue.overflowTo !== undefined && !skills.has(queue.overflowTo)) problems.push(`queues.${skill}.overflowTo: no agent has skill ${queue.overflowTo}`);
  }
  // Overflow must end somewhere: a customer passed round a circle of queues would wait for ever.
  for (const start of Object.keys(config.queues)) {
    const seen = new Set<string>([start]);
    let next = config.queues[start]?.overflowTo;
    while (next !== undefined && !seen.has(next)) {
      seen.add(next);
      next = config.queues[next]?.overflowTo;
    }
    if (next !== undefined) problems.push(`queues.${start}.overflowTo: overflow goes round in a circle (${[...seen].join(' -> ')} -> ${next})`);
  }
  const numbers = new Set<string>();
  const usernames = new Set<string>();
  config.phones.forEach((phone, i) => {
    if (numbers.has(phone.number)) problems.push(`phones[${i}].number: ${phone.number} is used twice`);
    numbers.add(phone.number);
    const user = phone.username ?? phone.number;
    if (usernames.has(user)) problems.push(`phones[${i}].username: ${user} is used twice`);
    usernames.add(user);
    if (phone.contact === undefined && phone.password === undefined && phone.ha1 === undefined) {
      problems.push(`phones[${i}]: needs a password or ha1 (to register) or a contact`);
    }
  });
  if (config.registrar.minExpiresSeconds > config.registrar.maxExpiresSeconds) problems.push('registrar.minExpiresSeconds: is above maxExpiresSeconds');
  const codes = [config.keypad.twoPartyHelp, config.keypad.threePartyHelp, config.keypad.dropHelper, config.keypad.conference];
  // A code that begins another would never be reached (the shorter one acts first).
  codes.forEach((a, i) => codes.forEach((b, j) => i !== j && b.startsWith(a) && problems.push(`keypad: ${a} begins ${b}, which could then never be typed`)));
  const { callsGraceSeconds, timeoutSeconds } = config.shutdown;
  if (callsGraceSeconds >= timeoutSeconds) {
    problems.push(`shutdown.callsGraceSeconds: must be less than shutdown.timeoutSeconds (${timeoutSeconds}), to leave time to hang the calls up`);
  }
  return problems;
}

/**
 * The public default secrets of drachtio-server ("cymru") and FreeSWITCH's event socket ("ClueCon"): anyone who
 * reaches those ports knows them. Returns the settings that still hold one (never any other secret's value).
 */
export const PUBLIC_DEFAULT_SECRETS = { drachtio: 'cymru', freeswitch: 'ClueCon' } as const;

export function settingsWithPublicDefaultSecrets(config: AppConfig): string[] {
  const found: string[] = [];
  if (config.drachtio.secret === PUBLIC_DEFAULT_SECRETS.drachtio) found.push('drachtio.secret (DRACHTIO_SECRET)');
  if (config.freeswitch.secret === PUBLIC_DEFAULT_SECRETS.freeswitch) found.push('freeswitch.secret (FREESWITCH_SECRET)');
  return found;
}

export function coreConfigOf(config: AppConfig): CoreConfig {
  const queues: Record<string, QueuePolicy> = {};
  for (const [skill, q] of Object.entries(config.queues)) {
    queues[skill] = {
      maxWaitSeconds: q.maxWaitSeconds,
      treatment: q.overflowTo !== undefined ? { kind: 'overflow', skill: q.overflowTo } : { kind: 'reject', sipStatus: q.finalStatus as number },
    };
  }
  return {
    helpAnswerTimeoutSeconds: config.help.answerTimeoutSeconds,
    offerAnswerTimeoutSeconds: config.routing.offerTimeoutSeconds,
    requeueSeconds: config.routing.requeueSeconds,
    queues,
  };
}

export function presenceConfigOf(config: AppConfig): PresenceConfig {
  return { initialStatus: config.presence.initialState, wrapUpSeconds: config.presence.wrapUpSeconds };
}

export function routesOf(config: AppConfig): { did: string; route: Route }[] {
  return config.routes.map((r) => ({
    did: r.did,
    route: r.agent !== undefined ? { kind: 'agent', workNo: r.agent } : { kind: 'skill', skill: r.skill as string },
  }));
}

/** Every phone number the service knows: agents' own phones and the handsets in `phones`. */
export function knownPhones(config: AppConfig): Set<string> {
  return new Set([...config.agents.map((a) => a.phone), ...config.phones.map((p) => p.number)]);
}
