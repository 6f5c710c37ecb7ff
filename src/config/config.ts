/**
 * Configuration: config/default.json, then the JSON file named by CONFIG_FILE (merged over it), then environment
 * variables. Validated once at start with a JSON schema; every bad field is reported by its path.
 *
 * The schema is written once, with TypeBox (the `typebox` 1.x package: Fastify 5's own schema library, used in its
 * type tests and by @fastify/type-provider-typebox). What TypeBox builds is plain JSON Schema, which ajv validates as
 * before, with the same messages; `Static<>` derives the TypeScript types from it, so the two cannot drift apart.
 *
 * A property with a default is listed as required: ajv (useDefaults) fills it in before it checks `required`, so a
 * file may leave it out and the type says that it is always there. What JSON Schema says in one keyword stays one
 * keyword (`enum`, `type: [T, 'null']`) rather than an anyOf, so that a bad value gets one line, not one per branch.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import Type, { type Static, type TNumber, type TSchema, type TString } from 'typebox';
import type { PresenceConfig } from '../core/presence/types.js';
import type { CoreConfig, QueuePolicy, Route } from '../core/types.js';

/** `type: [T, 'null']`: one message for a bad value (anyOf would add one line per branch). */
function Nullable<T extends TString | TNumber>(schema: T, options: { default?: null } = {}) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'], ...options });
}

/** An object whose every property is a `value`, as `additionalProperties` (Record's `^.*$` would skip keys with a line break). */
function Dictionary<T extends TSchema>(value: T, options: { default?: object } = {}) {
  return Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: value, ...options });
}

const closed = { additionalProperties: false } as const;
const DIGITS = '^[0-9]+$';
const sipUri = Type.String({ pattern: '^sips?:' });
const keypadCode = (code: string) => Type.String({ pattern: '^\\*[0-9]{1,4}$', default: code });
const port = (minimum: number) => Type.Integer({ minimum, maximum: 65535 });

const Agent = Type.Object(
  {
    workNo: Type.String({ pattern: '^[1-9][0-9]{2,5}$' }),
    /** Plain password (demo and tests) or passwordHash (production): exactly one of them. */
    password: Type.Optional(Type.String({ minLength: 1 })),
    passwordHash: Type.Optional(Type.String({ pattern: '^scrypt\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$' })),
    phone: Type.String({ pattern: DIGITS, maxLength: 32 }),
    skills: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Named agent groups (teams) the agent belongs to: a supervisor may supervise a group (see supervisors). */
    groups: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Static SIP URI of the agent's phone (drachtio backend). */
    contact: Type.Optional(sipUri),
  },
  { ...closed, oneOf: [{ required: ['password'] }, { required: ['passwordHash'] }] },
);

/**
 * A supervisor: signs in on its own path (not as an agent) and reads the group views of the agents it supervises:
 * those with one of its skills or in one of its groups.
 */
const Supervisor = Type.Object(
  {
    id: Type.String({ pattern: '^[1-9][0-9]{2,5}$' }),
    password: Type.Optional(Type.String({ minLength: 1 })),
    passwordHash: Type.Optional(Type.String({ pattern: '^scrypt\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$' })),
    skills: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    groups: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** The phone rung when the supervisor joins a live call (monitor, coach, barge); a request may name another. */
    phone: Type.Optional(Type.String({ pattern: DIGITS, maxLength: 32 })),
  },
  { ...closed, oneOf: [{ required: ['password'] }, { required: ['passwordHash'] }] },
);

/** A handset's SIP credentials (for the registrar), and optionally a static contact instead of registering. */
const Phone = Type.Object(
  {
    number: Type.String({ pattern: DIGITS, maxLength: 32 }),
    /** Digest user name (default: the number). */
    username: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9._~!$&'()*+,;=-]{1,64}$" })),
    /** Plain password, or ha1 = md5(username:realm:password): exactly one of them when the phone registers. */
    password: Type.Optional(Type.String({ minLength: 1 })),
    ha1: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
    /** Static SIP URI (the phone does not register). */
    contact: Type.Optional(sipUri),
  },
  { ...closed, not: { required: ['password', 'ha1'] } },
);

const RouteSchema = Type.Object(
  {
    did: Type.String({ pattern: DIGITS, maxLength: 32 }),
    agent: Type.Optional(Type.String({ pattern: DIGITS })),
    skill: Type.Optional(Type.String({ minLength: 1 })),
  },
  { ...closed, oneOf: [{ required: ['agent'] }, { required: ['skill'] }] },
);

/** A skill queue's maximum wait and what happens after it: exactly one of overflowTo / finalStatus. */
const Queue = Type.Object(
  {
    maxWaitSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 86400 }),
    /** Another skill whose queue the customer moves to. */
    overflowTo: Type.Optional(Type.String({ minLength: 1 })),
    /** SIP status the customer's call is ended with (e.g. 486, 480). */
    finalStatus: Type.Optional(Type.Integer({ minimum: 400, maximum: 699 })),
  },
  { ...closed, oneOf: [{ required: ['overflowTo'] }, { required: ['finalStatus'] }] },
);

export const AppConfigSchema = Type.Object(
  {
    http: Type.Object(
      {
        port: port(0),
        host: Type.String({ minLength: 1 }),
        bodyLimitBytes: Type.Integer({ minimum: 256, maximum: 1048576 }),
        /** Addresses of reverse proxies whose X-Forwarded-For is believed (the sign-in throttle counts per client). */
        trustedProxies: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      },
      closed,
    ),
    telephony: Type.Object(
      {
        backend: Type.Enum(['sim', 'drachtio']),
        /** Tag on every FreeSWITCH channel the service makes (null: this host's name); see the reconciler. */
        owner: Nullable(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), { default: null }),
        /** How often FreeSWITCH's channels are compared with the service's legs (0: never). */
        reconcileIntervalSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 5 }),
        /** Deadline of one media command on FreeSWITCH; past it the leg counts as lost. */
        mediaCommandTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 2000 }),
        /** A phone that sends no RTP this long is hung up by FreeSWITCH (null: freeswitch/conf's FS_MEDIA_TIMEOUT_MS). */
        mediaTimeoutSeconds: Nullable(Type.Number({ minimum: 0, maximum: 86400 }), { default: null }),
        /**
         * drachtio-server away this long: every call that used its dialogs is ended (at once on a reconnect: the
         * dialogs were bound to the lost connection).
         */
        signallingLossSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 3 }),
      },
      closed,
    ),
    /**
     * Several instances on shared state (docs/operations.md). No redisUrl: state in this process's memory, one
     * instance, as `npm start` runs.
     */
    cluster: Type.Object(
      {
        /** redis:// or rediss:// URL of the shared store (the password, if any, in the URL; never logged). */
        redisUrl: Nullable(Type.String({ pattern: '^rediss?://' }), { default: null }),
        /** This instance's name among the others (null: the host's name and the HTTP port). */
        instanceId: Nullable(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), { default: null }),
        /** Where the other instances reach this one's API (null: the address it listens on). */
        advertisedUrl: Nullable(Type.String({ pattern: '^https?://' }), { default: null }),
        /** Key prefix in Redis (several deployments may share one Redis). */
        keyPrefix: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$', default: 'cc:' }),
        /** An instance silent this long is dead: a survivor ends its calls. */
        heartbeatTtlSeconds: Type.Number({ minimum: 0.5, maximum: 60, default: 3 }),
      },
      { ...closed, default: {} },
    ),
    agents: Type.Array(Agent),
    supervisors: Type.Array(Supervisor, { default: [] }),
    phones: Type.Array(Phone, { default: [] }),
    registrar: Type.Object(
      {
        realm: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$', default: 'helpdesk' }),
        minExpiresSeconds: Type.Integer({ minimum: 1, maximum: 86400, default: 60 }),
        maxExpiresSeconds: Type.Integer({ minimum: 1, maximum: 86400, default: 3600 }),
        defaultExpiresSeconds: Type.Integer({ minimum: 1, maximum: 86400, default: 3600 }),
        maxContactsPerPhone: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
        failuresBeforeBlock: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
        blockSeconds: Type.Number({ minimum: 0, maximum: 86400, default: 60 }),
        nonceLifetimeSeconds: Type.Integer({ minimum: 10, maximum: 86400, default: 300 }),
      },
      { ...closed, default: {} },
    ),
    /** Help from the handset's keypad (RFC 2833 digits on the agent's leg); see orchestrator/keypad.ts. */
    keypad: Type.Object(
      {
        twoPartyHelp: keypadCode('*2'),
        threePartyHelp: keypadCode('*3'),
        dropHelper: keypadCode('*0'),
        conference: keypadCode('*5'),
        digitTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 60, default: 5 }),
      },
      { ...closed, default: {} },
    ),
    /**
     * The API's sign-in, throttled per source address (src/api/sign-in-guard.ts): maxFailures wrong passwords from
     * one address cost nothing; each further one doubles that address's wait (from 1 s up to maxDelaySeconds)
     * before its next sign-in is checked; at most maxWaiting of its sign-ins wait, more are refused at once. The
     * count is forgotten lockSeconds after the address's last failure, or at its first success. No account is
     * ever locked.
     */
    signIn: Type.Object(
      {
        maxFailures: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
        lockSeconds: Type.Number({ minimum: 0, maximum: 86400, default: 300 }),
        maxDelaySeconds: Type.Number({ minimum: 0, maximum: 3600, default: 30 }),
        maxWaiting: Type.Integer({ minimum: 1, maximum: 1000, default: 2 }),
      },
      { ...closed, default: {} },
    ),
    routes: Type.Array(RouteSchema),
    help: Type.Object({ answerTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 300 }) }, closed),
    routing: Type.Object(
      {
        offerTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 300 }),
        requeueSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600 }),
      },
      closed,
    ),
    /** Agent states: what a signed-in agent starts in, and the wrap-up after each customer call. */
    presence: Type.Object(
      {
        initialState: Type.Enum(['ready', 'not-ready'], { default: 'ready' }),
        wrapUpSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 0 }),
      },
      { ...closed, default: {} },
    ),
    /** Skill queues with a maximum wait, by skill. */
    queues: Dictionary(Queue, { default: {} }),
    events: Type.Object(
      {
        pollTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 60 }),
        heartbeatTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600 }),
        queueLimit: Type.Integer({ minimum: 1, maximum: 100000 }),
        /** Long polls of one agent waiting at once; a further one answers the oldest at once (event null). */
        maxWaitingPolls: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 2 })),
      },
      closed,
    ),
    /** The supervisor's wall: the service level counts customer calls answered within this many seconds. */
    wall: Type.Object(
      {
        serviceLevelSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 20 }),
        /** Whether an agent's desk is told a supervisor is on its call, and in which mode (AgentEvent_Supervisor). */
        tellAgentWhenSupervised: Type.Boolean({ default: false }),
      },
      { ...closed, default: {} },
    ),
    /** The real backend's connection settings, as its options name them (the profile is always drachtio_mrf). */
    drachtio: Type.Object({ host: Type.String({ minLength: 1 }), port: port(1), secret: Type.String() }, closed),
    freeswitch: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: port(1),
        secret: Type.String(),
        listenAddress: Type.String({ minLength: 1 }),
        listenPort: port(1),
        advertisedAddress: Nullable(Type.String()),
        /** The most sessions (channels) this service places on the server above (default 1000). */
        sessionLimit: Type.Optional(Type.Integer({ minimum: 1 })),
        /**
         * Several media servers (issue 21): when not empty, these replace host/port/secret above. Each call's legs
         * all live on one of them; server i takes fsmrf's per-channel connections on listenPort + i.
         */
        servers: Type.Optional(
          Type.Array(
            Type.Object(
              {
                host: Type.String({ minLength: 1 }),
                port: port(1),
                /** Default: freeswitch.secret. */
                secret: Type.Optional(Type.String()),
                /** Default: freeswitch.sessionLimit. */
                sessionLimit: Type.Optional(Type.Integer({ minimum: 1 })),
              },
              closed,
            ),
          ),
        ),
      },
      closed,
    ),
    /** How customers' numbers are reached (callout), e.g. "sip:{number}@gateway.example.com". */
    gateway: Type.Object({ uriTemplate: Type.String({ pattern: '^sips?:.*\\{number\\}' }) }, closed),
    log: Type.Object({ level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }, closed),
    /** SIGTERM/SIGINT: how long the service may take to stop (see README, Stopping and restarting). */
    shutdown: Type.Object(
      {
        /** The process has exited at the latest this long after the signal, when calls are in progress. */
        timeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 10 }),
        /** The same deadline when no call is in progress at the signal. */
        idleTimeoutSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 1 }),
        /** Calls in progress may go on this long; those still up are then hung up. Less than timeoutSeconds. */
        callsGraceSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 8 }),
        /** Retry-After (seconds) on the 503 that refuses a new incoming call while the service stops. */
        retryAfterSeconds: Type.Integer({ minimum: 0, maximum: 86400, default: 10 }),
        /**
         * With other instances (cluster.redisUrl): a stop drains, keeping its calls up to this long before it
         * hangs up the rest (callsGraceSeconds applies alone).
         */
        drainSeconds: Type.Number({ minimum: 0, maximum: 86400, default: 3600 }),
      },
      { ...closed, default: {} },
    ),
  },
  closed,
);

type DeepReadonly<T> = T extends readonly (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The validated configuration, defaults filled in. */
export type AppConfig = DeepReadonly<Static<typeof AppConfigSchema>>;
export type AgentConfig = AppConfig['agents'][number];
export type PhoneConfig = AppConfig['phones'][number];
export type SupervisorConfig = AppConfig['supervisors'][number];
export type RouteConfig = AppConfig['routes'][number];
export type QueueConfig = AppConfig['queues'][string];

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
  SHUTDOWN_DRAIN_SECONDS: [['shutdown', 'drainSeconds'], 'int'],
  REDIS_URL: [['cluster', 'redisUrl'], 'nullable'],
  INSTANCE_ID: [['cluster', 'instanceId'], 'nullable'],
  ADVERTISED_URL: [['cluster', 'advertisedUrl'], 'nullable'],
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
const validate = new Ajv({ allErrors: true, useDefaults: true }).compile(AppConfigSchema);

export function defaultConfigPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../config/default.json');
}

/** Builds and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, defaultsPath = defaultConfigPath()): AppConfig {
  let merged = readJson(defaultsPath);
  if (env.CONFIG_FILE) merged = deepMerge(merged, readJson(env.CONFIG_FILE));
  const problems: string[] = [];
  merged = deepMerge(merged, envOverrides(env, problems));
  merged = withFreeswitchServers(merged, env.FREESWITCH_SERVERS, problems);
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
      const needs = where.startsWith('agents') || where.startsWith('supervisors') ? 'password or passwordHash' : where.startsWith('queues') ? 'overflowTo or finalStatus' : 'agent or skill';
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
  const ids = new Set<string>();
  config.supervisors.forEach((supervisor, i) => {
    if (workNos.has(supervisor.id) || ids.has(supervisor.id)) problems.push(`supervisors[${i}].id: ${supervisor.id} is used twice (supervisors and agents share one numbering)`);
    ids.add(supervisor.id);
    // A skill or group no agent has is allowed (the supervisor sees nobody there): config/default.json's demo
    // supervisor must not stop a site's own agents from starting (a site lists its own supervisors, or []).
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

/** Agents and supervisors configured with a plain `password` (their ids only, never the password). */
export function accountsWithPlainPasswords(config: AppConfig): string[] {
  return [
    ...config.agents.filter((a) => a.password !== undefined).map((a) => `agent ${a.workNo}`),
    ...config.supervisors.filter((s) => s.password !== undefined).map((s) => `supervisor ${s.id}`),
  ];
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

/** Default session limit of a media server the configuration gives none for. */
export const DEFAULT_SESSION_LIMIT = 1000;

export interface MediaServerConfig {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly sessionLimit: number;
}

/** The media servers: freeswitch.servers when given, else the one server of freeswitch.host/port (as before). */
export function mediaServersOf(config: AppConfig): MediaServerConfig[] {
  const fs = config.freeswitch;
  const limit = fs.sessionLimit ?? DEFAULT_SESSION_LIMIT;
  if (fs.servers && fs.servers.length > 0) return fs.servers.map((s) => ({ host: s.host, port: s.port, secret: s.secret ?? fs.secret, sessionLimit: s.sessionLimit ?? limit }));
  return [{ host: fs.host, port: fs.port, secret: fs.secret, sessionLimit: limit }];
}

/** FREESWITCH_SERVERS=host:port,host:port (one shared secret, FREESWITCH_SECRET) into freeswitch.servers. */
function withFreeswitchServers(merged: Json, raw: string | undefined, problems: string[]): Json {
  if (raw === undefined || raw.trim() === '') return merged;
  const servers: Json[] = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const match = /^([^:\s]+):([0-9]{1,5})$/.exec(item);
    if (!match) {
      problems.push(`FREESWITCH_SERVERS: "${item}" is not host:port`);
      continue;
    }
    servers.push({ host: match[1] as string, port: Number(match[2]) });
  }
  return deepMerge(merged, { freeswitch: { servers } });
}
