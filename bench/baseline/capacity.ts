/**
 * `npm run bench:capacity`: the service against the bare drachtio-fsmrf app (bare-b2bua.ts) on the same
 * drachtio-server and FreeSWITCH, the same SIPp scenarios (sipp/), at rising rates, alternating bare and service
 * runs. Prints one line per run and a summary; asserts nothing. Needs drachtio-server (127.0.0.1:5060, admin 9022)
 * and FreeSWITCH (event socket 8021) on this machine, and nothing else connected to drachtio-server (it would share
 * the calls).
 *
 * Four kinds of run at each rate (calls or help sessions per second):
 *   bridge   the bare app bridges each customer to an agent's phone (two channels), held HOLD_S seconds
 *   room     the bare app puts each customer and two phones in one conference (three channels), held HOLD_S s
 *   two      the service: help sessions in mode 1, every release order (`npm run load --mix none:0,two:1,three:0`)
 *   three    the service: help sessions in mode 2, every release order (`--mix none:0,two:0,three:1`)
 * A run is clean with no failed call or session, nothing left on FreeSWITCH (and in the service), and setup p99
 * under 500 ms: bare, the customer's INVITE to the (last) phone's INVITE; service, the worst p99 of the driver's
 * set-up steps (customer INVITE -> agent INVITE, innerhelp -> helper INVITE, helper 200 -> connected / room
 * complete). FreeSWITCH's CPU (utime + stime from /proc) and its channel count (event socket, every second) are
 * sampled through the run: CPU per call, and CPU per channel-second, which does not depend on how long calls last.
 *
 * Environment: RATES (2,4,6,8,10,12), KINDS (bridge,two,room,three), PAIRS per rate (1), FIRST_PAIR (1), RUN_S seconds
 * of new calls per run (30), HOLD_S bare calls' hold (10), CALL_MS the driver's --call-ms (10000), JSON file for all runs.
 * A kind stops at the first rate where none of its runs was clean.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import esl from 'modesl';
import { startBareB2bua } from './bare-b2bua.js';

const env = process.env;
const RATES = (env.RATES ?? '2,4,6,8,10,12').split(',').map(Number);
const KINDS = (env.KINDS ?? 'bridge,two,room,three').split(',') as Kind[];
const PAIRS = Number(env.PAIRS ?? 1);
/** Number of the first pair (a later session goes on with pair 3, 4...: the order alternates on, seeds differ). */
const FIRST_PAIR = Number(env.FIRST_PAIR ?? 1);
const RUN_S = Number(env.RUN_S ?? 30);
const HOLD_S = Number(env.HOLD_S ?? 10);
const CALL_MS = Number(env.CALL_MS ?? 10000);
const SETUP_LIMIT_MS = 500;
const ROOT = resolve(import.meta.dirname, '../..');
const SIPP_DIR = join(ROOT, 'sipp');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const drachtio = { host: '127.0.0.1', port: 9022, secret: env.BENCH_DRACHTIO_SECRET ?? 'cymru' };
const freeswitch = { host: '127.0.0.1', port: 8021, secret: env.BENCH_FREESWITCH_SECRET ?? 'ClueCon', listenAddress: '127.0.0.1', listenPort: 8095 };
const BARE_DID = '4500';
const ROOM_DID = '4600';
const AGENT_PORT = 5300;
const CUSTOMER_PORT = 5301;

type Kind = 'bridge' | 'room' | 'two' | 'three';
const BARE: readonly Kind[] = ['bridge', 'room'];

interface Run {
  kind: Kind;
  rate: number;
  pair: number;
  planned: number;
  ok: number;
  failed: number;
  skipped: number;
  leftovers: number;
  setupP50: number;
  setupP99: number;
  fsCpuSeconds: number;
  cpuMsPerCall: number;
  channelSeconds: number;
  cpuMsPerChannelSecond: number;
  peakChannels: number;
  machineBusy: number;
  clean: boolean;
  note: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function fsPid(): number {
  const out = execFileSync('pgrep', ['-x', 'freeswitch']).toString().trim().split('\n')[0];
  if (!out) throw new Error('FreeSWITCH is not running on this machine');
  return Number(out);
}

function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

type Esl = InstanceType<typeof esl.Connection>;
function eslConnect(): Promise<Esl> {
  return new Promise((res, rej) => {
    const c: Esl = new esl.Connection(freeswitch.host, freeswitch.port, freeswitch.secret, () => res(c));
    c.on('error', rej);
  });
}
const eslApi = (c: Esl, cmd: string) => new Promise<string>((r) => c.api(cmd, (res) => r(res.getBody())));

/** Samples FreeSWITCH's CPU and channel count every second. */
class Sampler {
  private readonly samples: { t: number; cpu: number; channels: number; busy: number; total: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly conn: Esl,
    private readonly pid: number,
  ) {}
  start(): void {
    const take = async () => {
      const text = await eslApi(this.conn, 'show channels count');
      const channels = Number(/(\d+) total/.exec(text)?.[1] ?? 0);
      this.samples.push({ t: Date.now(), cpu: cpuOf(this.pid), channels, ...machineTicks() });
    };
    void take();
    this.timer = setInterval(() => void take(), 1000);
  }
  stop(): { cpu: number; channelSeconds: number; peak: number; busy: number } {
    if (this.timer) clearInterval(this.timer);
    const s = this.samples;
    const first = s.findIndex((x) => x.channels > 0);
    let last = s.length - 1;
    while (last > 0 && (s[last]?.channels ?? 0) === 0) last--;
    if (first < 0) return { cpu: 0, channelSeconds: 0, peak: 0, busy: NaN };
    // From the sample before the first channel to the one after the last.
    const a = s[Math.max(0, first - 1)]!;
    const b = s[Math.min(s.length - 1, last + 1)]!;
    let channelSeconds = 0;
    for (let i = Math.max(1, first); i <= Math.min(s.length - 1, last + 1); i++) channelSeconds += (s[i]!.channels * (s[i]!.t - s[i - 1]!.t)) / 1000;
    return { cpu: b.cpu - a.cpu, channelSeconds, peak: Math.max(...s.map((x) => x.channels)), busy: (b.busy - a.busy) / Math.max(1, b.total - a.total) };
  }
}

function sipp(args: string[]): { child: ChildProcess; done: Promise<number> } {
  const child = spawn('sipp', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  return { child, done: new Promise((r) => child.on('exit', (code) => r(code ?? -1))) };
}

function lastStat(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const header = (lines[0] ?? '').split(';');
  const last = (lines.at(-1) ?? '').split(';');
  return Object.fromEntries(header.map((h, i) => [h, last[i] ?? '']));
}

async function leftoversOnFreeswitch(conn: Esl): Promise<{ channels: number; rooms: number }> {
  const channels = Number(/(\d+) total/.exec(await eslApi(conn, 'show channels count'))?.[1] ?? 0);
  const rooms = (await eslApi(conn, 'conference list')).split('\n').filter((l) => l.startsWith('+OK Conference ')).length;
  return { channels, rooms };
}

async function settle(conn: Esl, ms: number): Promise<{ channels: number; rooms: number }> {
  const deadline = Date.now() + ms;
  let left = await leftoversOnFreeswitch(conn);
  while ((left.channels > 0 || left.rooms > 0) && Date.now() < deadline) {
    await sleep(500);
    left = await leftoversOnFreeswitch(conn);
  }
  return left;
}

async function runBare(kind: 'bridge' | 'room', rate: number, pair: number, conn: Esl, pid: number, dir: string): Promise<Run> {
  const bare = await startBareB2bua({ drachtio, freeswitch, target: `sip:{caller}@127.0.0.1:${AGENT_PORT}`, roomDid: ROOM_DID });
  const tag = `${kind}-${rate}-${pair}`;
  const errorsBefore = libraryErrors;
  const calls = Math.max(1, Math.round(rate * RUN_S));
  const csv = join(dir, `${tag}.csv`);
  writeFileSync(csv, `SEQUENTIAL\n${Array.from({ length: calls }, (_, i) => `${7200000 + i};${HOLD_S * 1000};${HOLD_S * 1000};`).join('\n')}\n`);
  const timeout = `${RUN_S + HOLD_S * 3 + 60}s`;
  const common = ['-nostdin', '-trace_logs', '-trace_stat', '-fd', '1', '-timeout', timeout, '-i', '127.0.0.1', '-mi', '127.0.0.1'];
  const agents = sipp([
    '-sf', join(SIPP_DIR, 'agent.xml'), '-key', 'answer_ms', '300', '-key', 'hangup_ms', '0', '-rtp_echo',
    '-p', String(AGENT_PORT), '-mp', '34000', '-log_file', join(dir, `${tag}.agents.log`), '-stf', join(dir, `${tag}.agents.csv`), ...common,
  ]);
  await sleep(500);
  const sampler = new Sampler(conn, pid);
  sampler.start();
  const customers = sipp([
    '-sf', join(SIPP_DIR, 'customer.xml'), '-inf', csv, '-s', kind === 'room' ? ROOM_DID : BARE_DID, '127.0.0.1:5060',
    ...(Number.isInteger(rate) ? ['-r', String(rate)] : ['-r', String(Math.round(rate * 100)), '-rp', '100000']),
    '-m', String(calls), '-l', String(calls), '-p', String(CUSTOMER_PORT), '-mp', '36000',
    '-log_file', join(dir, `${tag}.customers.log`), '-stf', join(dir, `${tag}.customers.csv`), ...common,
  ]);
  await customers.done;
  await sleep(1500);
  const left = await settle(conn, 3000);
  const m = sampler.stop();
  const custStat = lastStat(join(dir, `${tag}.customers.csv`));
  const agentStat = lastStat(join(dir, `${tag}.agents.csv`));
  agents.child.kill('SIGTERM');
  await Promise.race([agents.done, sleep(3000)]);
  if (agents.child.exitCode === null) agents.child.kill('SIGKILL');
  bare.stop();
  // Setup: the customer's INVITE to the (last) INVITE its legs bring to the phones.
  const invites = new Map<string, number>();
  for (const line of readFileSync(join(dir, `${tag}.customers.log`), 'utf8').split('\n')) {
    const x = /(\d{9,}\.\d+) customer invite (\S+)/.exec(line);
    if (x) invites.set(x[2]!, Number(x[1]) * 1000);
  }
  const legs = new Map<string, number[]>();
  for (const line of readFileSync(join(dir, `${tag}.agents.log`), 'utf8').split('\n')) {
    const x = /(\d{9,}\.\d+) phone invite sip:(\S+)/.exec(line);
    if (x) legs.set(x[2]!, [...(legs.get(x[2]!) ?? []), Number(x[1]) * 1000]);
  }
  const setups: number[] = [];
  let missingLegs = 0;
  for (const [caller, t] of invites) {
    const l = legs.get(caller) ?? [];
    if (l.length < (kind === 'room' ? 2 : 1)) missingLegs++;
    else setups.push(Math.max(...l) - t);
  }
  const ok = Number(custStat['SuccessfulCall(C)'] ?? 0);
  const failedSipp = Number(custStat['FailedCall(C)'] ?? 0) + Number(agentStat['FailedCall(C)'] ?? 0);
  const failed = Math.max(failedSipp, bare.failures(), missingLegs) + Math.max(0, calls - ok - Number(custStat['FailedCall(C)'] ?? 0));
  const leftovers = left.channels + left.rooms;
  const setupP99 = pct(setups, 99);
  const run: Run = {
    kind, rate, pair, planned: calls, ok, failed, skipped: 0, leftovers,
    setupP50: pct(setups, 50), setupP99,
    fsCpuSeconds: m.cpu, cpuMsPerCall: (m.cpu / Math.max(1, ok)) * 1000,
    channelSeconds: m.channelSeconds, cpuMsPerChannelSecond: (m.cpu / Math.max(1, m.channelSeconds)) * 1000,
    peakChannels: m.peak, machineBusy: m.busy,
    clean: failed === 0 && leftovers === 0 && setupP99 < SETUP_LIMIT_MS,
    note: `SIPp failed ${failedSipp}, app failures ${bare.failures()}, calls without their legs ${missingLegs}, unhandled rejections ${libraryErrors - errorsBefore}; logs ${dir}/${tag}.*`,
  };
  // Nothing of this run may reach the next one.
  await settle(conn, 10000);
  return run;
}

async function startService(agents: number, dir: string, logFile: string): Promise<{ child: ChildProcess; configFile: string }> {
  const configFile = join(dir, `service-${agents}.json`);
  const writer = spawn(TSX, ['bench/load/main.ts', '--write-config', configFile, '--agents', String(agents), '--help-timeout', '3'], { cwd: ROOT, stdio: 'ignore' });
  const code = await new Promise((r) => writer.on('exit', r));
  if (code !== 0) throw new Error('--write-config failed');
  // Its own process group, so that stopping it stops tsx and the service under it; its log next to the run's files.
  const child = spawn(TSX, ['src/main.ts'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, CONFIG_FILE: configFile, TELEPHONY_BACKEND: 'drachtio', TELEPHONY_OWNER: 'capacity' },
    stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
  });
  for (let i = 0; i < 120; i++) {
    await sleep(250);
    const health = await fetch('http://127.0.0.1:8043/health')
      .then((r) => r.json() as Promise<{ servers?: { drachtio: boolean; freeswitch: boolean } }>)
      .catch(() => null);
    if (health?.servers?.drachtio && health.servers.freeswitch) return { child, configFile };
  }
  await stopService(child);
  throw new Error('the service did not come up');
}

async function stopService(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const exited = new Promise((r) => child.on('exit', r));
  process.kill(-child.pid, 'SIGTERM');
  await Promise.race([exited, sleep(15000)]);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

interface LoadReport {
  totals: { ok: number; failed: number; skipped: number };
  latenciesMs: Record<string, { count: number; p50: number; p99: number }>;
  leftoverCount: number;
  phoneFailures: Record<string, number>;
}

async function runService(kind: 'two' | 'three', rate: number, pair: number, conn: Esl, pid: number, dir: string): Promise<Run> {
  const tag = `${kind}-${rate}-${pair}`;
  // Enough agents that no session waits for a free one: each pool holds ~ rate x session length.
  const agents = Math.max(60, Math.ceil(rate * 40));
  const service = await startService(agents, dir, join(dir, `${tag}.service.log`));
  const calls = Math.max(1, Math.round(rate * RUN_S));
  const json = join(dir, `${tag}.json`);
  const sampler = new Sampler(conn, pid);
  sampler.start();
  const driver = spawn(
    TSX,
    [
      'bench/load/main.ts', '--agents', String(agents), '--rate', String(rate), '--calls', String(calls), '--call-ms', String(CALL_MS),
      '--mix', kind === 'two' ? 'none:0,two:1,three:0' : 'none:0,two:0,three:1', '--seed', String(rate * 100 + pair),
      '--owner', 'capacity', '--json', json,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'] },
  );
  await new Promise((r) => driver.on('exit', r));
  const m = sampler.stop();
  await stopService(service.child);
  const left = await settle(conn, 10000);
  let report: LoadReport | null = null;
  try {
    report = JSON.parse(readFileSync(json, 'utf8')) as LoadReport;
  } catch {
    // the driver died: counted as all failed
  }
  const lat = report?.latenciesMs ?? {};
  const steps = ['customer INVITE -> agent phone INVITE', 'innerhelp request -> helper phone INVITE', kind === 'two' ? "helper's 200 -> A-C connected (two-party)" : "helper's 200 -> room complete (three-party)"];
  const setupP99 = Math.max(...steps.map((s) => lat[s]?.p99 ?? NaN));
  const setupP50 = lat['customer INVITE -> agent phone INVITE']?.p50 ?? NaN;
  const ok = report?.totals.ok ?? 0;
  const phoneFailed = Object.values(report?.phoneFailures ?? {}).reduce((a, b) => a + b, 0);
  const failed = report ? report.totals.failed + phoneFailed : calls;
  const leftovers = (report?.leftoverCount ?? 0) + left.channels + left.rooms;
  return {
    kind, rate, pair, planned: calls, ok, failed, skipped: report?.totals.skipped ?? 0, leftovers,
    setupP50, setupP99,
    fsCpuSeconds: m.cpu, cpuMsPerCall: (m.cpu / Math.max(1, ok)) * 1000,
    channelSeconds: m.channelSeconds, cpuMsPerChannelSecond: (m.cpu / Math.max(1, m.channelSeconds)) * 1000,
    peakChannels: m.peak, machineBusy: m.busy,
    clean: report !== null && failed === 0 && leftovers === 0 && setupP99 < SETUP_LIMIT_MS,
    note: `setup p99 of ${steps.map((s) => `${s} ${lat[s]?.p99?.toFixed(0) ?? '-'}`).join(', ')}; SIPp failed ${phoneFailed}; report ${json}`,
  };
}

function line(r: Run): string {
  const f = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  return `${r.kind.padEnd(6)} ${String(r.rate).padStart(4)}/s pair ${r.pair}: ${r.ok}/${r.planned} ok, ${r.failed} failed, ${r.skipped} skipped, ${r.leftovers} left | setup p50 ${f(r.setupP50)} p99 ${f(r.setupP99)} ms | FS ${f(r.fsCpuSeconds, 2)} CPU-s, ${f(r.cpuMsPerCall, 1)} ms/call, ${f(r.cpuMsPerChannelSecond, 2)} ms/channel-s, peak ${r.peakChannels} ch | machine ${f(r.machineBusy * 100)}% busy | ${r.clean ? 'CLEAN' : 'NOT CLEAN'}`;
}

const median = (v: number[]): number => {
  const s = [...v].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

// drachtio-srf and drachtio-fsmrf reject some promises nobody awaits (a BYE or destroy racing the far end's, when
// the dialog is already gone: ENODIALOG). They must not end the whole bench; they are counted for the run.
let libraryErrors = 0;
process.on('unhandledRejection', (error) => {
  libraryErrors++;
  if (libraryErrors <= 3) console.log(`(unhandled rejection in a library: ${(error as Error)?.message ?? String(error)})`);
});

const dir = mkdtempSync(join(tmpdir(), 'capacity-'));
const conn = await eslConnect();
const pid = fsPid();
const runs: Run[] = [];
const active = new Set<Kind>(KINDS);
console.log(`capacity: rates ${RATES.join(',')} /s, kinds ${KINDS.join(',')}, ${PAIRS} pair(s) per rate, ${RUN_S} s of new calls per run, bare holds ${HOLD_S} s, driver --call-ms ${CALL_MS}; files in ${dir}`);
for (const rate of RATES) {
  if (active.size === 0) break;
  for (let pair = FIRST_PAIR; pair < FIRST_PAIR + PAIRS; pair++) {
    // Alternate: bare first in odd pairs, the service first in even ones.
    const order = KINDS.filter((k) => active.has(k));
    const bare = order.filter((k) => BARE.includes(k));
    const svc = order.filter((k) => !BARE.includes(k));
    const seq: Kind[] = [];
    for (let i = 0; i < Math.max(bare.length, svc.length); i++) {
      const pairKinds = [bare[i], svc[i]].filter((k): k is Kind => k !== undefined);
      seq.push(...(pair % 2 === 1 ? pairKinds : pairKinds.reverse()));
    }
    for (const kind of seq) {
      let run: Run;
      try {
        run = kind === 'bridge' || kind === 'room' ? await runBare(kind, rate, pair, conn, pid, dir) : await runService(kind, rate, pair, conn, pid, dir);
      } catch (error) {
        console.log(`${kind} ${rate}/s pair ${pair}: run failed: ${(error as Error).message}`);
        continue;
      }
      runs.push(run);
      console.log(line(run));
      if (env.JSON) writeFileSync(env.JSON, `${JSON.stringify(runs, null, 2)}\n`);
    }
  }
  for (const kind of [...active]) {
    const here = runs.filter((r) => r.kind === kind && r.rate === rate);
    if (here.length > 0 && !here.some((r) => r.clean)) active.delete(kind);
  }
}
console.log('\nsummary (medians over the pairs at each rate)');
for (const kind of KINDS) {
  const rates = [...new Set(runs.filter((r) => r.kind === kind).map((r) => r.rate))];
  const cleanRates = rates.filter((rate) => runs.filter((r) => r.kind === kind && r.rate === rate).every((r) => r.clean));
  for (const rate of rates) {
    const here = runs.filter((r) => r.kind === kind && r.rate === rate);
    console.log(
      `${kind.padEnd(6)} ${String(rate).padStart(4)}/s: ${here.filter((r) => r.clean).length}/${here.length} clean, setup p99 ${median(here.map((r) => r.setupP99)).toFixed(0)} ms, FS ${median(here.map((r) => r.cpuMsPerCall)).toFixed(1)} CPU-ms/call, ${median(here.map((r) => r.cpuMsPerChannelSecond)).toFixed(2)} CPU-ms/channel-s`,
    );
  }
  console.log(`${kind.padEnd(6)} highest rate with every run clean: ${cleanRates.length ? Math.max(...cleanRates) : 'none'}`);
}
conn.disconnect();
process.exit(0);
