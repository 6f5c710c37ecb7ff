/**
 * `npm run load -- [options]`: the load driver (see bench/load/README.md). Against a running stack by default
 * (SIPp phones, the service's API, FreeSWITCH's event socket), or the simulator with --sim.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.js';
import { Api, type AgentEvent } from './api.js';
import { formatReport, percentiles, runLoad, type Percentiles } from './driver.js';
import { HELP_KINDS, makeAgents, makePlans, rng, serviceConfig, type Mix, type ScenarioKind, type Timing } from './plan.js';
import { SimPhones } from './sim-phones.js';
import { eventKey, startInstanceProcesses, type Collected, type InstanceProcess } from './instance-process.js';
import { startSimInstances, startSimService, type SimInstances, type SimService } from './sim-service.js';
import { poolPorts, SippPhones } from './sipp-phones.js';

const USAGE = `npm run load -- [options]

Drives customers, agents and helpers against the service and reports successes, failures, latencies and leftovers.
By default against a running real stack (SIPp phones; the service must run with the configuration that
--write-config writes); with --sim against the simulated backend (an in-process service unless --api is given).

  --sim                     use the simulated telephony backend and its /sim routes instead of SIPp
  --api URL                 the service (default http://127.0.0.1:8043; with --sim and no --api: started here)
  --rate N                  customer calls per second (default 1; fractions allowed)
  --duration S              seconds of new calls (default 30): calls = rate x duration
  --calls N                 number of customer calls (overrides --duration)
  --agents N                agents signed in (default 40; split in pools: 50% take customers, 20% help and
                            answer, 10% each help with a phone that is busy, never answers, hangs up by itself)
  --call-ms MS              a call without help lasts this long; help steps wait up to a third of it (default 6000)
  --answer-ms MS            phones ring this long before answering or refusing (default 300)
  --helper-hangup-ms MS     helpers of the hang-up pool hang up this long after answering (default 1500)
  --help-timeout S          help.answerTimeoutSeconds in the generated configuration (default 3)
  --mix none:W,two:W,three:W  weights of no help, two-party and three-party help (default none:10,two:45,three:45)
  --scenarios a,b,...       help scenarios to draw from (default all): ${HELP_KINDS.join(', ')}
  --seed N                  random seed (default 1)
  --reads N                 agent API reads per second (GET agentstatus, each agent in turn) while the calls
                            run, timed apart from the event streams (default 10; 0: none)
  --json FILE               also write the report as JSON
  --write-config FILE       write the service configuration for these options (agents, contacts, routes) and exit

Simulator started here (--sim without --api): each instance in a process of its own (node --import tsx,
plus the words of LOAD_INSTANCE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), so that the figures
measure the service and not this driver's phones and desks sharing its event loop:
  --instances N             1 (default) or 2 instances of the service sharing one state store, each with its own
                            simulated telephony: customers call the first (its /sim), the agents sign in, act,
                            read and take their events (WebSocket) at the second, so every request about a call
                            is forwarded to the first; the store is Redis with --redis or --redis-url, else
                            memory (two instances on one in-memory store: --in-process only)
  --in-process              run the instances in this process instead (as before: driver and service share
                            one event loop)
  --redis                   start a throwaway redis-server (Debian's, on a free loopback port) for the run
  --redis-url URL           use this Redis (keys under a prefix of this run, left there)

Real stack only:
  --sip HOST:PORT           drachtio-server's SIP address (default 127.0.0.1:5060)
  --host ADDR               address the SIPp phones bind to (default 127.0.0.1)
  --base-port P             customers' SIPp on P, the five pools' phones on P+1..P+5 (default 5400)
  --rtp-port P              RTP ports from P, 100 per SIPp (default 40000)
  --esl HOST:PORT           FreeSWITCH event socket for the leftover check (default 127.0.0.1:8021)
  --esl-password PW         (default ClueCon)
  --no-esl                  do not check FreeSWITCH
  --owner TAG               the service's telephony.owner (default: any channel with an X-Helpdesk-Owner tag)
  --drachtio-metrics URL    drachtio-server's Prometheus endpoint, to check its dialogs (default: not checked)
  --drachtio-log FILE       drachtio-server's log (loglevel info or more): its last dialog count is checked
  --sipp PATH               the sipp binary (default sipp)

Exit status 0 when every session succeeded (or was skipped) and nothing was left; 1 otherwise; 2 on bad options.
`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      sim: { type: 'boolean' },
      api: { type: 'string' },
      rate: { type: 'string', default: '1' },
      duration: { type: 'string', default: '30' },
      calls: { type: 'string' },
      agents: { type: 'string', default: '40' },
      'call-ms': { type: 'string', default: '6000' },
      'answer-ms': { type: 'string', default: '300' },
      'helper-hangup-ms': { type: 'string', default: '1500' },
      'help-timeout': { type: 'string', default: '3' },
      mix: { type: 'string', default: 'none:10,two:45,three:45' },
      scenarios: { type: 'string' },
      seed: { type: 'string', default: '1' },
      reads: { type: 'string', default: '10' },
      instances: { type: 'string', default: '1' },
      'in-process': { type: 'boolean' },
      redis: { type: 'boolean' },
      'redis-url': { type: 'string' },
      json: { type: 'string' },
      'write-config': { type: 'string' },
      sip: { type: 'string', default: '127.0.0.1:5060' },
      host: { type: 'string', default: '127.0.0.1' },
      'base-port': { type: 'string', default: '5400' },
      'rtp-port': { type: 'string', default: '40000' },
      esl: { type: 'string', default: '127.0.0.1:8021' },
      'esl-password': { type: 'string', default: 'ClueCon' },
      'no-esl': { type: 'boolean' },
      owner: { type: 'string' },
      'drachtio-metrics': { type: 'string' },
      'drachtio-log': { type: 'string' },
      sipp: { type: 'string' },
    },
    strict: true,
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const num = (name: string, value: string | undefined, min: number): number => {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got ${value}`);
  return n;
};
const rate = num('rate', args.rate, 0.01);
const calls = args.calls !== undefined ? Math.round(num('calls', args.calls, 1)) : Math.max(1, Math.round(rate * num('duration', args.duration, 0.1)));
const timing: Timing = {
  callMs: num('call-ms', args['call-ms'], 100),
  answerMs: num('answer-ms', args['answer-ms'], 0),
  helperHangupMs: num('helper-hangup-ms', args['helper-hangup-ms'], 100),
  helpTimeoutSeconds: num('help-timeout', args['help-timeout'], 0.1),
};
const weights: Record<string, number> = {};
for (const part of (args.mix ?? '').split(',')) {
  const [k, v] = part.split(':');
  if (!k || !['none', 'two', 'three'].includes(k)) fail(`--mix: unknown part "${part}"`);
  weights[k] = num(`mix ${k}`, v, 0);
}
const kinds = (args.scenarios?.split(',') ?? HELP_KINDS) as ScenarioKind[];
for (const k of kinds) if (!HELP_KINDS.includes(k)) fail(`--scenarios: unknown scenario "${k}"`);
const mix: Mix = { none: weights.none ?? 0, two: weights.two ?? 0, three: weights.three ?? 0, kinds };
const agents = makeAgents(Math.round(num('agents', args.agents, 5)));
const basePort = Math.round(num('base-port', args['base-port'], 1024));
const contacts = { host: args.host ?? '127.0.0.1', ports: poolPorts(basePort) };
const generated = serviceConfig(agents, contacts, timing);

if (args['write-config']) {
  writeFileSync(args['write-config'], `${JSON.stringify(generated, null, 2)}\n`);
  console.log(`wrote ${args['write-config']}: ${agents.length} agents, DID 4900; run the service with CONFIG_FILE=${args['write-config']}`);
  process.exit(0);
}

const plans = makePlans(calls, mix, timing, rng(Math.round(num('seed', args.seed, 0))));
const instanceCount = Math.round(num('instances', args.instances, 1));
const readsPerSecond = num('reads', args.reads, 0);
const wantsRedis = args.redis === true || args['redis-url'] !== undefined;
if (instanceCount > 2) fail('--instances: 1 or 2');
if ((instanceCount > 1 || wantsRedis) && !(args.sim && !args.api)) fail('--instances, --redis and --redis-url need --sim without --api (the instances run in this process)');
if (args.redis && args['redis-url']) fail('--redis or --redis-url, not both');
let simService: SimService | null = null;
let simInstances: SimInstances | null = null;
let redisServer: RedisServer | null = null;
let api = args.api ?? 'http://127.0.0.1:8043';
/** Where the customers call and the phones are played (/sim): the first instance. */
let simApi: Api | null = null;
let classifyElsewhere: (() => Promise<(event: AgentEvent) => boolean>) | undefined;
let processes: InstanceProcess[] | null = null;
/** What the instance processes collected (asked once, after the sessions). */
let collected: Promise<Collected[]> | null = null;
let setup: string | undefined;
/** With in-process instances: the time each instance spent on the routes the latencies are about, by instance. */
const serverTimes = new Map<string, number[]>();
const TIMED_ROUTES = new Set(['POST /agentgateway/resource/voicecall/:agentid/innerhelp', 'GET /agentgateway/resource/onlineagent/:agentid/agentstatus']);
const inProcess = args['in-process'] === true;
if (inProcess && !(args.sim && !args.api)) fail('--in-process needs --sim without --api');
if (!inProcess && instanceCount > 1 && !wantsRedis && args.sim && !args.api) fail('two instances on one in-memory store run in one process only: add --in-process, or --redis');
if (args.sim && !args.api && !inProcess) {
  if (args.redis) redisServer = await startRedisServer();
  const redisUrl = redisServer?.url ?? args['redis-url'];
  processes = await startInstanceProcesses(generated, { count: instanceCount, ...(redisUrl ? { redisUrl } : {}), timedRoutes: [...TIMED_ROUTES] });
  const first = processes[0] as InstanceProcess;
  const desks = processes.at(-1) as InstanceProcess;
  api = desks.url;
  simApi = new Api(first.url);
  const all = processes;
  collected = null;
  const collectAll = (): Promise<Collected[]> => (collected ??= Promise.all(all.map((p) => p.collect())));
  if (instanceCount > 1) {
    classifyElsewhere = async () => {
      const made = new Map<string, number>();
      for (const c of (await collectAll()).slice(0, -1)) for (const k of c.eventKeys) made.set(k, (made.get(k) ?? 0) + 1);
      return (event) => {
        const key = eventKey(event);
        const n = made.get(key) ?? 0;
        if (n === 0) return false;
        made.set(key, n - 1);
        return true;
      };
    };
  }
  const store = redisUrl ? `Redis ${redisUrl}` : 'memory';
  setup =
    instanceCount > 1
      ? `${instanceCount} instance processes on ${store}: customers at ${first.instanceId} ${first.url}, desks and API at ${desks.instanceId} ${desks.url}`
      : `1 instance process on ${store}`;
} else if (args.sim && !args.api && instanceCount === 1 && !wantsRedis) {
  simService = await startSimService(generated);
  api = simService.url;
} else if (args.sim && !args.api) {
  if (args.redis) redisServer = await startRedisServer();
  const redisUrl = redisServer?.url ?? args['redis-url'];
  simInstances = await startSimInstances(generated, {
    count: instanceCount,
    ...(redisUrl ? { redisUrl } : {}),
    onResponse: (instanceId, method, route, ms) => {
      const key = `${method} ${route}`;
      if (!TIMED_ROUTES.has(key)) return;
      const list = serverTimes.get(`${instanceId} ${key}`) ?? [];
      list.push(ms);
      serverTimes.set(`${instanceId} ${key}`, list);
    },
  });
  const first = simInstances.instances[0] as SimService & { instanceId: string };
  const desks = simInstances.instances.at(-1) as SimService & { instanceId: string };
  api = desks.url;
  simApi = new Api(first.url);
  const { madeElsewhere } = simInstances;
  classifyElsewhere = async () => madeElsewhere;
  setup =
    instanceCount > 1
      ? `${instanceCount} instances on ${simInstances.storeName}: customers at ${first.instanceId} ${first.url}, desks and API at ${desks.instanceId} ${desks.url}`
      : `1 instance on ${simInstances.storeName}`;
}
const esl = args['no-esl'] ? null : (() => {
  const [host, port] = (args.esl ?? '').split(':');
  return { host: host || '127.0.0.1', port: Number(port || 8021), password: args['esl-password'] ?? 'ClueCon' };
})();
const maxHold = Math.max(...plans.map((p) => p.holdMs), timing.callMs);
const maxSeconds = Math.ceil(calls / rate + (maxHold + timing.helpTimeoutSeconds * 1000 + 4 * timing.callMs) / 1000 + 120);

console.log(
  `load: ${calls} calls at ${rate}/s on the ${args.sim ? 'simulator' : 'real stack'} (${setup ?? api}), ${agents.length} agents, mix ${args.mix}, ${kinds.length} help scenarios, ${readsPerSecond} reads/s`,
);
let sippPhones: SippPhones | null = null;
const report = await runLoad({
  api,
  agents,
  plans,
  rate,
  timing,
  readsPerSecond,
  ...(simInstances ? { instances: simInstances.instances.map((i) => i.url) } : {}),
  ...(processes ? { instances: processes.map((p) => p.url) } : {}),
  ...(classifyElsewhere ? { classifyElsewhere } : {}),
  ...(setup ? { setup } : {}),
  phones: (client) => {
    if (args.sim) return new SimPhones(client, timing, simApi ?? client);
    sippPhones = new SippPhones({
      sipTarget: args.sip ?? '127.0.0.1:5060',
      host: contacts.host,
      basePort,
      rtpBasePort: Math.round(num('rtp-port', args['rtp-port'], 1024)),
      timing,
      esl,
      drachtioMetrics: args['drachtio-metrics'] ?? null,
      drachtioLog: args['drachtio-log'] ?? null,
      owner: args.owner ?? null,
      maxSeconds,
      ...(args.sipp ? { sipp: args.sipp } : {}),
    });
    return sippPhones;
  },
  // One line rewritten in place on a terminal; one line per second in a log.
  progress: (line) => process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`),
});
if (process.stderr.isTTY) process.stderr.write('\n');
console.log(formatReport(report));
const processLogged: Record<string, number> = {};
if (processes) {
  const all = processes;
  const results = await (collected ??= Promise.all(all.map((p) => p.collect())));
  results.forEach((c, i) => {
    for (const [route, times] of Object.entries(c.times)) serverTimes.set(`${all[i]?.instanceId} ${route}`, times);
    for (const [k, n] of Object.entries(c.logged)) processLogged[k] = (processLogged[k] ?? 0) + n;
  });
}
const serverSide: Record<string, Percentiles> = {};
if (serverTimes.size > 0) {
  console.log('\ntime spent in each instance (Fastify elapsedTime; at the first, the forwarded requests)    n     p50     p95     p99     max');
  const ms = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(1)).padStart(7);
  for (const [key, values] of [...serverTimes.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const p = percentiles(values);
    serverSide[key] = p;
    console.log(`${key.replace('/agentgateway/resource', '').padEnd(86)} ${String(p.count).padStart(5)} ${ms(p.p50)} ${ms(p.p95)} ${ms(p.p99)} ${ms(p.max)}`);
  }
}
if (sippPhones) console.log(`SIPp logs and statistics: ${(sippPhones as SippPhones).logDirectory}`);
if (args.json) writeFileSync(args.json, `${JSON.stringify({ ...report, ...(serverTimes.size > 0 ? { serverSideMs: serverSide } : {}) }, null, 2)}\n`);
await simService?.stop();
await simInstances?.stop();
for (const p of [...(processes ?? [])].reverse()) await p.stop();
await redisServer?.stop();
const logged = Object.entries(simInstances?.logged ?? processLogged);
if (logged.length > 0) console.log(`the instances logged (warn and above): ${logged.map(([k, n]) => `${n}x ${k}`).join('; ')}`);
process.exit(report.totals.failed === 0 && report.leftoverCount === 0 ? 0 : 1);
