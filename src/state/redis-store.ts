/**
 * The state store in Redis (REDIS_URL): what several service instances share, and what survives a restart of one.
 *
 * Client: node-redis 5 (`redis` on npm), Redis's own recommended client for Node.js, written in TypeScript.
 * Needs Redis >= 6.2 (XRANGE with an exclusive start, `(id`); checked on connect.
 *
 * Keys, under a prefix (default `cc:`):
 *   session:{workNo}       hash: workNo token phone instanceId signedInAt
 *   sessions               set of the workNos with a session (for sessions(), no SCAN)
 *   token:{token}          -> workNo
 *   phone:{phone}          -> workNo
 *   agentcall:{workNo}     -> callId (the reservation)
 *   callagents:{callId}    set of the workNos reserved for the call (so deleteCall frees them all)
 *   call:{callId}          the CallRecordSnapshot as JSON
 *   calls:owner:{id}       set of the callIds the instance owns
 *   owners                 set of the instances that own call records (for deadOwners)
 *   events:{workNo}        STREAM of the agent's events (field e: the event as JSON), trimmed to eventLimit
 *   events:all             STREAM of every agent's events (fields w: workNo, i: its id in events:{workNo}, e: JSON),
 *                          trimmed approximately (MAXLEN ~); what onEvent's reader loop follows
 *   instance:{id}          the InstanceInfo as JSON, with the heartbeat's TTL (PX)
 *   instances              set of the instance ids that sent a heartbeat (pruned of expired ones when read)
 *   cleanup:{id}           who claimed the cleanup after a dead instance, with the claim's TTL (PX)
 *   registration:{phone}   a handset's RegistrationRecord as JSON, expiring with its last binding (PX)
 *   registrations          set of the phones with a registration (pruned of expired ones when read)
 *   failures:{key}         a failure count (countFailure), expiring its window after the last failure (PX)
 *
 * Every step two instances could race on is one Lua script, so one atomic step in Redis: signIn, signOut,
 * reserveAgent, releaseAgent, saveCall, deleteCall, appendEvent (both streams), liveInstances (with its pruning),
 * deadOwners, claimCleanup. The scripts build some keys from the prefix (the phone of the session they read, the
 * agents a call holds): fine on one Redis server (or a primary with replicas), not on Redis Cluster.
 *
 * Events go into events:all whole, not as a pointer to events:{workNo}: the reader loop then needs no second
 * round trip per event, and cannot miss an event that the agent's own (exactly capped) stream already dropped.
 * The cost is each event stored twice, events:all being bounded by its own cap.
 *
 * Connection: commands are not queued while Redis is unreachable (disableOfflineQueue): they reject at once with
 * StoreUnavailableError, and a command that gets no answer within commandTimeoutMs rejects with it too. node-redis
 * reconnects by itself (capped exponential backoff, forever once connected once); `available` follows the client's
 * readiness. The URL's password is never logged nor kept by the store.
 */
import pino, { type Logger } from 'pino';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  defineScript,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  type CommandParser,
} from 'redis';
import {
  StoreUnavailableError,
  type AgentStateRecord,
  type CallRecordSnapshot,
  type ClusterMessage,
  type FailureCount,
  type RegistrationRecord,
  type InstanceInfo,
  type SessionRecord,
  type SignInOutcome,
  type StateStore,
  type StoredEvent,
} from '../ports/state-store.js';

export interface RedisStoreOptions {
  /** redis:// or rediss:// URL, with the password if any (never logged). */
  readonly url: string;
  /** Prefix of every key (several deployments can share one Redis). Default `cc:`. */
  readonly prefix?: string;
  /** Events kept per agent (oldest dropped first, exactly). Default 1000. */
  readonly eventLimit?: number;
  /** Entries kept (approximately) in events:all, the stream every instance follows. Default 10000. */
  readonly allEventsLimit?: number;
  /** How long connect() keeps trying before it gives up. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** A command with no answer after this rejects with StoreUnavailableError. Default 2 s. */
  readonly commandTimeoutMs?: number;
  /** The longest wait between two reconnection attempts. Default 2 s. */
  readonly reconnectMaxDelayMs?: number;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/* ------------------------------------------------------------------------------------------------ Lua scripts */

// KEYS: session:{w}, phone:{phone}, token:{token}, sessions. ARGV: prefix, workNo, token, phone, instanceId,
// signedInAt, force, lastSeenAt, cursor. Returns {'agent-signed-in'|'phone-taken', holder} or {'ok'[, replaced token, phone,
// instanceId, signedInAt]}.
const SIGN_IN = `
local p, w, phone = ARGV[1], ARGV[2], ARGV[4]
local cur = redis.call('HMGET', KEYS[1], 'token', 'phone', 'instanceId', 'signedInAt')
local signedIn = cur[1] ~= false
if signedIn and ARGV[7] ~= '1' then return {'agent-signed-in', w} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= w and redis.call('HGET', p .. 'session:' .. holder, 'phone') == phone then
  return {'phone-taken', holder}
end
if signedIn then
  redis.call('DEL', p .. 'token:' .. cur[1])
  if cur[2] and cur[2] ~= phone and redis.call('GET', p .. 'phone:' .. cur[2]) == w then
    redis.call('DEL', p .. 'phone:' .. cur[2])
  end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'workNo', w, 'token', ARGV[3], 'phone', phone, 'instanceId', ARGV[5], 'signedInAt', ARGV[6])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[8]) end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'cursor', ARGV[9]) end
redis.call('SET', KEYS[3], w)
redis.call('SET', KEYS[2], w)
redis.call('SADD', KEYS[4], w)
if signedIn then return {'ok', cur[1], cur[2] or '', cur[3] or '', cur[4] or '0'} end
return {'ok'}
`;

// KEYS: session:{w}, sessions. ARGV: prefix, workNo, '1' if a token is given, token. Returns 1 if a session ended.
const SIGN_OUT = `
local p, w = ARGV[1], ARGV[2]
local cur = redis.call('HMGET', KEYS[1], 'token', 'phone')
if not cur[1] then return 0 end
if ARGV[3] == '1' and cur[1] ~= ARGV[4] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('DEL', p .. 'token:' .. cur[1])
if cur[2] and redis.call('GET', p .. 'phone:' .. cur[2]) == w then redis.call('DEL', p .. 'phone:' .. cur[2]) end
redis.call('SREM', KEYS[2], w)
return 1
`;

// KEYS: session:{w}. ARGV: token, lastSeenAt, cursor ('' keeps it). Only while the token is the session's.
const TOUCH_SESSION = `
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'cursor', ARGV[3]) end
return 1
`;

// KEYS: agentstates, agentversions. ARGV: workNo, version, record JSON. Keeps the newest version only.
const SAVE_AGENT_STATE = `
local kept = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if kept > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

// KEYS: agentcall:{w}, callagents:{callId}. ARGV: callId, workNo. Returns 1 if reserved.
const RESERVE_AGENT = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
`;

// KEYS: agentcall:{w}, callagents:{callId}. ARGV: callId, workNo.
const RELEASE_AGENT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], ARGV[2])
return 1
`;

// Lua helper: removes the call from its owner's set (and the owner from owners once it owns none).
const DISOWN = `
local function disown(p, owner, callId)
  local set = p .. 'calls:owner:' .. owner
  redis.call('SREM', set, callId)
  if redis.call('SCARD', set) == 0 then redis.call('SREM', p .. 'owners', owner) end
end
local function ownerOf(json)
  local ok, rec = pcall(cjson.decode, json)
  if ok and type(rec) == 'table' and type(rec.instanceId) == 'string' then return rec.instanceId end
  return nil
end
`;

// KEYS: call:{callId}. ARGV: prefix, callId, instanceId, record JSON.
const SAVE_CALL = `${DISOWN}
local p, callId, owner = ARGV[1], ARGV[2], ARGV[3]
local old = redis.call('GET', KEYS[1])
if old then
  local was = ownerOf(old)
  if was and was ~= owner then disown(p, was, callId) end
end
redis.call('SET', KEYS[1], ARGV[4])
redis.call('SADD', p .. 'calls:owner:' .. owner, callId)
redis.call('SADD', p .. 'owners', owner)
return 1
`;

// KEYS: call:{callId}, callagents:{callId}. ARGV: prefix, callId.
const DELETE_CALL = `${DISOWN}
local p, callId = ARGV[1], ARGV[2]
local old = redis.call('GET', KEYS[1])
if old then
  local was = ownerOf(old)
  if was then disown(p, was, callId) end
end
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local k = p .. 'agentcall:' .. w
  if redis.call('GET', k) == callId then redis.call('DEL', k) end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`;

// KEYS: events:{w}, events:all. ARGV: workNo, event JSON, eventLimit, allEventsLimit. Returns the new id.
const APPEND_EVENT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[3], '*', 'e', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'w', ARGV[1], 'i', id, 'e', ARGV[2])
return id
`;

// KEYS: instances. ARGV: prefix. Returns the live instances' JSON; forgets the expired ones.
const LIVE_INSTANCES = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local info = redis.call('GET', ARGV[1] .. 'instance:' .. id)
  if info then table.insert(out, info) else redis.call('SREM', KEYS[1], id) end
end
return out
`;

// KEYS: owners. ARGV: prefix. Returns the owners of call records with no live heartbeat.
const DEAD_OWNERS = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('SCARD', ARGV[1] .. 'calls:owner:' .. id) == 0 then
    redis.call('SREM', KEYS[1], id)
  elseif redis.call('EXISTS', ARGV[1] .. 'instance:' .. id) == 0 then
    table.insert(out, id)
  end
end
return out
`;

// KEYS: cleanup:{dead}. ARGV: claimant, ttlMs. Returns 1 if claimed (free, expired, or already the claimant's).
const CLAIM_CLEANUP = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

// KEYS: token:{token}. ARGV: prefix, token. Returns the session's hash as a flat list (empty: none, or replaced).
const SESSION_BY_TOKEN = `
local w = redis.call('GET', KEYS[1])
if not w then return {} end
local hash = redis.call('HGETALL', ARGV[1] .. 'session:' .. w)
for i = 1, #hash, 2 do
  if hash[i] == 'token' and hash[i + 1] ~= ARGV[2] then return {} end
end
return hash
`;

// KEYS: failures:{key}. ARGV: windowMs. Returns the new count.
const COUNT_FAILURE = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`;

/** A script taking `keys` then `args`, whose reply is passed through as it is (each method checks its shape). */
function script(source: string, numberOfKeys: number) {
  return defineScript({
    SCRIPT: source,
    NUMBER_OF_KEYS: numberOfKeys,
    parseCommand(parser: CommandParser, keys: readonly string[], args: readonly string[]) {
      for (const key of keys) parser.pushKey(key);
      parser.push(...args);
    },
    transformReply: (reply: unknown): unknown => reply,
  });
}

const SCRIPTS = {
  ccSignIn: script(SIGN_IN, 4),
  ccSignOut: script(SIGN_OUT, 2),
  ccReserveAgent: script(RESERVE_AGENT, 2),
  ccReleaseAgent: script(RELEASE_AGENT, 2),
  ccSaveCall: script(SAVE_CALL, 1),
  ccDeleteCall: script(DELETE_CALL, 2),
  ccAppendEvent: script(APPEND_EVENT, 2),
  ccLiveInstances: script(LIVE_INSTANCES, 1),
  ccDeadOwners: script(DEAD_OWNERS, 1),
  ccClaimCleanup: script(CLAIM_CLEANUP, 1),
  ccTouchSession: script(TOUCH_SESSION, 1),
  ccSaveAgentState: script(SAVE_AGENT_STATE, 2),
  ccCountFailure: script(COUNT_FAILURE, 1),
  ccSessionByToken: script(SESSION_BY_TOKEN, 1),
};

function makeClient(url: string, connectTimeoutMs: number, reconnectStrategy: (retries: number, cause: Error) => number | Error) {
  return createClient({
    url,
    // Fail fast while disconnected instead of queueing commands until Redis is back (node-redis 5 rejects them
    // with ClientOfflineError, and on a lost connection rejects those already sent: see client/index.js).
    disableOfflineQueue: true,
    socket: { connectTimeout: Math.min(connectTimeoutMs, 5000), reconnectStrategy },
    scripts: SCRIPTS,
  });
}
type Client = ReturnType<typeof makeClient>;

/* ------------------------------------------------------------------------------------------------ the store */

export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const;
  /** The server, for logs: the URL without its password. */
  readonly where: string;
  readonly prefix: string;
  // ES private fields: the clients (whose options hold the password) never show in a dump of the store.
  readonly #client: Client;
  readonly #reader: Client;
  readonly #listeners = new Set<(stored: StoredEvent) => void>();
  readonly #broadcastListeners = new Set<(message: ClusterMessage) => void>();
  readonly #reconnectListeners = new Set<() => void>();
  #subscriber: Client | null = null;
  readonly #eventLimit: number;
  readonly #allEventsLimit: number;
  readonly #commandTimeoutMs: number;
  readonly #logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The last events:all entry the reader loop has seen. */
  #cursor: string;
  #closed = false;
  #readerLoop: Promise<void> = Promise.resolve();

  private constructor(parts: {
    client: Client;
    reader: Client;
    where: string;
    prefix: string;
    cursor: string;
    options: RedisStoreOptions;
    logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  }) {
    this.#client = parts.client;
    this.#reader = parts.reader;
    this.where = parts.where;
    this.prefix = parts.prefix;
    this.#cursor = parts.cursor;
    this.#eventLimit = Math.max(1, Math.floor(parts.options.eventLimit ?? 1000));
    this.#allEventsLimit = Math.max(1, Math.floor(parts.options.allEventsLimit ?? 10_000));
    this.#commandTimeoutMs = parts.options.commandTimeoutMs ?? 2000;
    this.#logger = parts.logger;
  }

  /**
   * Connects (retrying for connectTimeoutMs), checks the server's version, and starts following events:all.
   * Rejects with StoreUnavailableError if Redis cannot be reached in time.
   */
  static async connect(options: RedisStoreOptions): Promise<RedisStateStore> {
    const where = redactedUrl(options.url);
    const logger = options.logger ?? pino({ name: 'state-store' });
    const prefix = options.prefix ?? 'cc:';
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    const maxDelay = options.reconnectMaxDelayMs ?? 2000;
    const password = passwordOf(options.url);

    const open = async (role: string): Promise<Client> => {
      const started = Date.now();
      let ready = false;
      let lost = false;
      const client = makeClient(options.url, connectTimeoutMs, (retries, cause) => {
        // Before the first connection: give up after connectTimeoutMs. After it: retry forever, backing off.
        if (!ready && Date.now() - started >= connectTimeoutMs) return cause;
        return Math.min(maxDelay, 50 * 2 ** Math.min(retries, 10)) + Math.floor(Math.random() * 50);
      });
      client.on('error', (error: unknown) => {
        // node-redis emits an error for every failed attempt: say it once per outage.
        if (ready && !lost) {
          lost = true;
          logger.warn({ redis: where, role, err: scrub(error, password) }, 'state store: Redis connection lost, reconnecting');
        }
      });
      client.on('ready', () => {
        if (lost) logger.info({ redis: where, role }, 'state store: Redis connection back');
        ready = true;
        lost = false;
      });
      try {
        await client.connect();
      } catch (error) {
        throw new StoreUnavailableError(new Error(`cannot connect to Redis at ${where}: ${scrub(error, password).message}`));
      }
      return client;
    };

    const client = await open('commands');
    let reader: Client | undefined;
    try {
      const version = parseRedisVersion(await client.info('server'));
      if (!version || version[0] < 6 || (version[0] === 6 && version[1] < 2)) {
        throw new Error(`Redis at ${where} is ${version ? version.join('.') : 'of an unknown version'}: the state store needs Redis 6.2 or later`);
      }
      // Events appended from now on are delivered: the reader starts after the newest entry there is now.
      const newest = await client.xRevRange(`${prefix}events:all`, '+', '-', { COUNT: 1 });
      reader = await open('events');
      const store = new RedisStateStore({ client, reader, where, prefix, cursor: newest[0]?.id ?? '0-0', options, logger });
      store.#readerLoop = store.#readEvents();
      // Pub/sub needs a connection of its own; node-redis subscribes again by itself after a reconnect.
      const subscriber = await open('broadcasts');
      store.#subscriber = subscriber;
      await subscriber.subscribe(`${prefix}cluster`, (message) => store.#broadcastArrived(message));
      let wasLost = false;
      client.on('error', () => (wasLost = true));
      client.on('ready', () => {
        if (!wasLost) return;
        wasLost = false;
        for (const listener of [...store.#reconnectListeners]) listener();
      });
      return store;
    } catch (error) {
      client.destroy();
      if (reader?.isOpen) reader.destroy();
      throw error;
    }
  }

  get available(): boolean {
    return !this.#closed && this.#client.isReady;
  }

  /* ---------------------------------------------------------------------------------- sessions */

  async signIn(session: SessionRecord, force: boolean): Promise<SignInOutcome> {
    const p = this.prefix;
    const reply = await this.#run((c) =>
      c.ccSignIn(
        [`${p}session:${session.workNo}`, `${p}phone:${session.phone}`, `${p}token:${session.token}`, `${p}sessions`],
        [
          p,
          session.workNo,
          session.token,
          session.phone,
          session.instanceId,
          String(session.signedInAt),
          force ? '1' : '0',
          session.lastSeenAt === undefined ? '' : String(session.lastSeenAt),
          session.cursor ?? '',
        ],
      ),
    );
    const [status, ...rest] = strings(reply);
    if (status === 'agent-signed-in' || status === 'phone-taken') return { ok: false, reason: status, holder: rest[0] ?? '' };
    if (status !== 'ok') throw new Error(`state store: unexpected sign-in reply ${JSON.stringify(reply)}`);
    const [token, phone, instanceId, signedInAt] = rest;
    const replaced =
      token === undefined ? null : { workNo: session.workNo, token, phone: phone ?? '', instanceId: instanceId ?? '', signedInAt: Number(signedInAt) };
    return { ok: true, replaced };
  }

  async signOut(workNo: string, token?: string): Promise<boolean> {
    const p = this.prefix;
    const reply = await this.#run((c) =>
      c.ccSignOut([`${p}session:${workNo}`, `${p}sessions`], [p, workNo, token === undefined ? '0' : '1', token ?? '']),
    );
    return reply === 1;
  }

  async sessionByToken(token: string): Promise<SessionRecord | null> {
    // One script, one round trip: the token's agent and its session read together (the session must still be the token's).
    const flat = strings(await this.#run((c) => c.ccSessionByToken([`${this.prefix}token:${token}`], [this.prefix, token])));
    const hash: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
    const session = sessionOf(hash);
    return session?.token === token ? session : null;
  }

  async sessionOf(workNo: string): Promise<SessionRecord | null> {
    return this.#run(async (c) => sessionOf(await c.hGetAll(`${this.prefix}session:${workNo}`)));
  }

  async sessions(): Promise<SessionRecord[]> {
    return this.#run(async (c) => {
      const workNos = await c.sMembers(`${this.prefix}sessions`);
      const hashes = await Promise.all(workNos.map((w) => c.hGetAll(`${this.prefix}session:${w}`)));
      return hashes.map(sessionOf).filter((s): s is SessionRecord => s !== null);
    });
  }

  async touchSession(workNo: string, token: string, at: number, cursor?: string): Promise<void> {
    await this.#run((c) => c.ccTouchSession([`${this.prefix}session:${workNo}`], [token, String(at), cursor ?? '']));
  }

  /* ---------------------------------------------------------------------------------- agents on calls */

  async reserveAgent(workNo: string, callId: string): Promise<boolean> {
    const p = this.prefix;
    const reply = await this.#run((c) => c.ccReserveAgent([`${p}agentcall:${workNo}`, `${p}callagents:${callId}`], [callId, workNo]));
    return reply === 1;
  }

  async releaseAgent(workNo: string, callId: string): Promise<void> {
    const p = this.prefix;
    await this.#run((c) => c.ccReleaseAgent([`${p}agentcall:${workNo}`, `${p}callagents:${callId}`], [callId, workNo]));
  }

  async callOfAgent(workNo: string): Promise<string | null> {
    return this.#run((c) => c.get(`${this.prefix}agentcall:${workNo}`));
  }

  /* ---------------------------------------------------------------------------------- call records */

  async saveCall(record: CallRecordSnapshot): Promise<void> {
    const p = this.prefix;
    await this.#run((c) => c.ccSaveCall([`${p}call:${record.callId}`], [p, record.callId, record.instanceId, JSON.stringify(record)]));
  }

  async deleteCall(callId: string): Promise<void> {
    const p = this.prefix;
    await this.#run((c) => c.ccDeleteCall([`${p}call:${callId}`, `${p}callagents:${callId}`], [p, callId]));
  }

  async callRecord(callId: string): Promise<CallRecordSnapshot | null> {
    const json = await this.#run((c) => c.get(`${this.prefix}call:${callId}`));
    return json === null ? null : (JSON.parse(json) as CallRecordSnapshot);
  }

  async callsOwnedBy(instanceId: string): Promise<CallRecordSnapshot[]> {
    const jsons = await this.#run(async (c): Promise<Array<string | null>> => {
      const callIds = await c.sMembers(`${this.prefix}calls:owner:${instanceId}`);
      return callIds.length === 0 ? [] : c.mGet(callIds.map((id) => `${this.prefix}call:${id}`));
    });
    return jsons
      .filter((j): j is string => j !== null)
      .map((j) => JSON.parse(j) as CallRecordSnapshot)
      .filter((r) => r.instanceId === instanceId);
  }

  /* ---------------------------------------------------------------------------------- events */

  async appendEvent(workNo: string, event: unknown): Promise<string> {
    const p = this.prefix;
    const reply = await this.#run((c) =>
      c.ccAppendEvent([`${p}events:${workNo}`, `${p}events:all`], [workNo, JSON.stringify(event) ?? 'null', String(this.#eventLimit), String(this.#allEventsLimit)]),
    );
    if (typeof reply !== 'string') throw new Error(`state store: unexpected XADD reply ${JSON.stringify(reply)}`);
    return reply;
  }

  async eventsAfter(workNo: string, afterId: string, limit: number): Promise<StoredEvent[]> {
    if (limit < 1) return [];
    // '0', or anything that is not a stream id, reads from the oldest kept.
    const start = afterId !== '0' && /^\d+(-\d+)?$/.test(afterId) ? `(${afterId}` : '-';
    const entries = await this.#run((c) => c.xRange(`${this.prefix}events:${workNo}`, start, '+', { COUNT: Math.floor(limit) }));
    return entries.map((entry) => ({ id: entry.id, workNo, event: parseEvent(entry.message['e']) }));
  }

  async lastEventId(workNo: string): Promise<string> {
    const newest = await this.#run((c) => c.xRevRange(`${this.prefix}events:${workNo}`, '+', '-', { COUNT: 1 }));
    return newest[0]?.id ?? '0';
  }

  onEvent(listener: (stored: StoredEvent) => void): () => void {
    // Wrapped, so that one function subscribed twice gets each event twice and unsubscribes once per subscription.
    const subscription = (stored: StoredEvent): void => listener(stored);
    this.#listeners.add(subscription);
    return () => this.#listeners.delete(subscription);
  }

  /** Follows events:all from the cursor on the second connection (XREAD BLOCK), until close(). */
  async #readEvents(): Promise<void> {
    const key = `${this.prefix}events:all`;
    while (!this.#closed) {
      let reply: unknown;
      try {
        reply = await this.#reader.sendCommand(['XREAD', 'COUNT', '500', 'BLOCK', '1000', 'STREAMS', key, this.#cursor]);
      } catch {
        // Offline (rejected at once) or the connection dropped: node-redis reconnects; try again shortly.
        if (!this.#closed) await sleep(100);
        continue;
      }
      for (const [id, fields] of streamEntries(reply)) {
        if (this.#closed) return;
        this.#cursor = id;
        const workNo = fields.get('w');
        const agentId = fields.get('i');
        let event: unknown;
        try {
          event = parseEvent(fields.get('e'));
        } catch (error) {
          this.#logger.error({ err: error, workNo, eventId: agentId }, 'state store: an event in events:all is not JSON, skipped');
          continue;
        }
        if (workNo === undefined || agentId === undefined) continue;
        this.#deliver({ id: agentId, workNo, event });
      }
    }
  }

  #deliver(stored: StoredEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(stored);
      } catch (error) {
        this.#logger.error({ err: error, workNo: stored.workNo, eventId: stored.id }, 'state store: an event listener threw');
      }
    }
  }

  /* ---------------------------------------------------------------------------------- the directory's replicas */

  async saveAgentState(record: AgentStateRecord): Promise<void> {
    const p = this.prefix;
    await this.#run((c) => c.ccSaveAgentState([`${p}agentstates`, `${p}agentversions`], [record.workNo, String(record.version), JSON.stringify(record)]));
  }

  async agentStates(): Promise<AgentStateRecord[]> {
    const all = await this.#run((c) => c.hGetAll(`${this.prefix}agentstates`));
    return Object.values(all).map((json) => JSON.parse(json) as AgentStateRecord);
  }

  /** PUBLISH on the cluster channel: at most once (a subscriber away misses it and reloads agentStates()). */
  async broadcast(message: ClusterMessage): Promise<void> {
    await this.#run((c) => c.publish(`${this.prefix}cluster`, JSON.stringify(message)));
  }

  onBroadcast(listener: (message: ClusterMessage) => void): () => void {
    const subscription = (message: ClusterMessage): void => listener(message);
    this.#broadcastListeners.add(subscription);
    return () => this.#broadcastListeners.delete(subscription);
  }

  /** Told each time the command connection is ready again after an outage (what was broadcast meanwhile is lost). */
  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }

  #broadcastArrived(json: string): void {
    let message: ClusterMessage;
    try {
      message = JSON.parse(json) as ClusterMessage;
    } catch {
      return;
    }
    for (const listener of [...this.#broadcastListeners]) {
      try {
        listener(message);
      } catch (error) {
        this.#logger.error({ err: error }, 'state store: a cluster message listener threw');
      }
    }
  }

  /* ---------------------------------------------------------------------------------- handsets' registrations */

  async saveRegistration(record: RegistrationRecord): Promise<void> {
    const p = this.prefix;
    const lastsMs = Math.max(0, ...record.bindings.map((b) => b.expiresAt)) - Date.now();
    if (lastsMs <= 0) {
      await this.#run((c) => c.multi().del(`${p}registration:${record.phone}`).sRem(`${p}registrations`, record.phone).exec());
      return;
    }
    await this.#run((c) =>
      c
        .multi()
        .set(`${p}registration:${record.phone}`, JSON.stringify(record), { expiration: { type: 'PX', value: ttl(lastsMs) } })
        .sAdd(`${p}registrations`, record.phone)
        .exec(),
    );
  }

  async registrations(): Promise<RegistrationRecord[]> {
    const p = this.prefix;
    const phones = await this.#run((c) => c.sMembers(`${p}registrations`));
    if (phones.length === 0) return [];
    const jsons = await this.#run((c) => c.mGet(phones.map((phone) => `${p}registration:${phone}`)));
    const gone = phones.filter((_, i) => jsons[i] === null);
    if (gone.length > 0) {
      try {
        await this.#run((c) => c.sRem(`${p}registrations`, gone));
      } catch {
        // Only tidying: the expired phones are dropped again at the next read.
      }
    }
    return jsons.filter((j): j is string => j !== null).map((j) => JSON.parse(j) as RegistrationRecord);
  }

  /* ---------------------------------------------------------------------------------- failure counts */

  async countFailure(key: string, windowMs: number): Promise<FailureCount> {
    const reply = await this.#run((c) => c.ccCountFailure([`${this.prefix}failures:${key}`], [String(ttl(windowMs))]));
    return { count: Number(reply), expiresInMs: ttl(windowMs) };
  }

  async failureCount(key: string): Promise<FailureCount> {
    const k = `${this.prefix}failures:${key}`;
    const [count, left] = await this.#run((c) => c.multi().get(k).pTTL(k).exec());
    const n = Number(count ?? 0);
    const ms = Number(left);
    return n > 0 && ms > 0 ? { count: n, expiresInMs: ms } : { count: 0, expiresInMs: 0 };
  }

  async clearFailures(key: string): Promise<void> {
    await this.#run((c) => c.del(`${this.prefix}failures:${key}`));
  }

  /* ---------------------------------------------------------------------------------- instances */

  async heartbeat(info: InstanceInfo, ttlMs: number): Promise<void> {
    const p = this.prefix;
    await this.#run((c) =>
      c
        .multi()
        .set(`${p}instance:${info.instanceId}`, JSON.stringify(info), { expiration: { type: 'PX', value: ttl(ttlMs) } })
        .sAdd(`${p}instances`, info.instanceId)
        .exec(),
    );
  }

  async liveInstances(): Promise<InstanceInfo[]> {
    const reply = await this.#run((c) => c.ccLiveInstances([`${this.prefix}instances`], [this.prefix]));
    return strings(reply).map((json) => JSON.parse(json) as InstanceInfo);
  }

  async deadOwners(): Promise<string[]> {
    return strings(await this.#run((c) => c.ccDeadOwners([`${this.prefix}owners`], [this.prefix])));
  }

  async claimCleanup(deadInstanceId: string, byInstanceId: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#run((c) => c.ccClaimCleanup([`${this.prefix}cleanup:${deadInstanceId}`], [byInstanceId, String(ttl(ttlMs))]));
    return reply === 1;
  }

  async leave(instanceId: string): Promise<void> {
    const p = this.prefix;
    await this.#run((c) => c.multi().del(`${p}instance:${instanceId}`).sRem(`${p}instances`, instanceId).exec());
  }

  /** Stops the reader loop and closes both connections (commands in flight are answered first, if Redis is up). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#broadcastListeners.clear();
    if (this.#reader.isOpen) this.#reader.destroy();
    if (this.#subscriber?.isOpen) this.#subscriber.destroy();
    await this.#readerLoop;
    if (this.#client.isReady) {
      await Promise.race([this.#client.close(), sleep(this.#commandTimeoutMs)]);
    }
    if (this.#client.isOpen) this.#client.destroy();
  }

  /**
   * One store operation on the command connection: at once StoreUnavailableError while it is not ready (or closed),
   * and after commandTimeoutMs without an answer. Redis's own error replies (a bug, not an outage) pass as they are.
   */
  async #run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError(new Error('the state store is closed'));
    if (!this.#client.isReady) throw new StoreUnavailableError(new Error(`Redis at ${this.where} is not connected`));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(new Error(`Redis at ${this.where} did not answer within ${this.#commandTimeoutMs} ms`))), this.#commandTimeoutMs);
    });
    try {
      return await Promise.race([operation(this.#client), timeout]);
    } catch (error) {
      throw isOutage(error) ? new StoreUnavailableError(error) : error;
    } finally {
      clearTimeout(timer);
    }
  }
}

/* ------------------------------------------------------------------------------------------------ helpers */

/** An error that says Redis is unreachable (or not serving yet), as opposed to a reply to a wrong command. */
function isOutage(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return false;
  if (error instanceof ErrorReply) return /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message);
  // node-redis's connection errors, and Node's socket errors (ECONNRESET, EPIPE...).
  return (
    error instanceof ClientOfflineError ||
    error instanceof ClientClosedError ||
    error instanceof DisconnectsClientError ||
    error instanceof SocketClosedUnexpectedlyError ||
    error instanceof ConnectionTimeoutError ||
    error instanceof SocketTimeoutError ||
    error instanceof TimeoutError ||
    error instanceof ReconnectStrategyError ||
    (error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string')
  );
}

function ttl(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function strings(reply: unknown): string[] {
  if (!Array.isArray(reply)) throw new Error(`state store: unexpected script reply ${JSON.stringify(reply)}`);
  return reply.map((v) => String(v));
}

function sessionOf(hash: Record<string, string>): SessionRecord | null {
  const { workNo, token, phone, instanceId, signedInAt, lastSeenAt, cursor } = hash;
  if (workNo === undefined || token === undefined || phone === undefined) return null;
  return {
    workNo,
    token,
    phone,
    instanceId: instanceId ?? '',
    signedInAt: Number(signedInAt ?? 0),
    ...(lastSeenAt !== undefined ? { lastSeenAt: Number(lastSeenAt) } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  };
}

function parseEvent(json: string | undefined): unknown {
  return json === undefined ? null : JSON.parse(json);
}

/** XREAD's raw RESP2 reply ([[stream, [[id, [field, value, ...]], ...]]] or null) as (id, fields) pairs. */
function streamEntries(reply: unknown): Array<[string, Map<string, string>]> {
  const out: Array<[string, Map<string, string>]> = [];
  if (!Array.isArray(reply)) return out;
  for (const stream of reply as unknown[]) {
    const entries = Array.isArray(stream) ? (stream[1] as unknown) : undefined;
    if (!Array.isArray(entries)) continue;
    for (const entry of entries as unknown[]) {
      if (!Array.isArray(entry) || entry.length < 2 || !Array.isArray(entry[1])) continue;
      const flat = (entry[1] as unknown[]).map((v) => String(v));
      const fields = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
      out.push([String(entry[0]), fields]);
    }
  }
  return out;
}

function parseRedisVersion(info: string): [number, number, number] | null {
  const match = /^redis_version:(\d+)\.(\d+)\.(\d+)/m.exec(info);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

/** The URL as logs may show it: the password (if any) replaced. Throws a message without the URL if it is invalid. */
export function redactedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('the Redis URL is not a valid URL (redis://[[user]:password@]host[:port][/db])');
  }
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/** The error with the password (if it ever showed in a message) blanked out. */
function scrub(error: unknown, password: string): Error {
  const message = error instanceof Error ? error.message : String(error);
  const clean = password ? message.split(password).join('***') : message;
  const scrubbed = new Error(clean);
  scrubbed.name = error instanceof Error ? error.name : 'Error';
  return scrubbed;
}
