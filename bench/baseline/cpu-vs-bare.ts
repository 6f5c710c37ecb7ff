/**
 * FreeSWITCH's CPU per bridged customer call: this service against the barest drachtio-fsmrf B2BUA
 * (bare-b2bua.ts), the same SIPp traffic at the same rate, alternating runs on the same machine, so the figure that
 * matters is the ratio. It prints figures and asserts nothing.
 *
 *   npm run bench:media-cpu        (drachtio-server and FreeSWITCH on 127.0.0.1, FreeSWITCH on this machine)
 *
 * RATE calls/s (8), HOLD_S seconds per call (10), CALLS per run (RATE x 30), PAIRS of runs (3). Customers are a
 * SIPp UAC streaming a tone; agents are a SIPp UAS echoing RTP. FreeSWITCH's CPU is read from /proc for the run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AgentDirectory } from '../../src/orchestrator/agent-directory.js';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { DrachtioBackend } from '../../src/telephony/drachtio/backend.js';
import { writeToneFile } from '../../test/integration/support/audio.js';
import { uacScenario, uasScenario } from '../../test/integration/support/sipp.js';
import { startBareB2bua } from './bare-b2bua.js';

const env = process.env;
const RATE = Number(env.RATE ?? 8);
const HOLD_S = Number(env.HOLD_S ?? 10);
const CALLS = Number(env.CALLS ?? RATE * 30);
const PAIRS = Number(env.PAIRS ?? 3);
const drachtio = { host: env.BENCH_DRACHTIO_HOST ?? '127.0.0.1', port: 9022, secret: env.BENCH_DRACHTIO_SECRET ?? 'cymru' };
const freeswitch = { host: env.BENCH_FREESWITCH_HOST ?? '127.0.0.1', port: 8021, secret: env.BENCH_FREESWITCH_SECRET ?? 'ClueCon', listenAddress: '127.0.0.1', listenPort: 8095 };
const AGENT_PORT = 5300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freeswitchCpuSeconds(): number {
  const pid = execFileSync('pgrep', ['-x', 'freeswitch']).toString().trim().split('\n')[0];
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startService(): Promise<{ stop(): Promise<void> }> {
  const agents = Array.from({ length: Math.ceil(RATE * HOLD_S * 2) + 20 }, (_, i) => ({ workNo: String(100000 + i), phone: String(700000 + i), skills: ['load'] }));
  const backend = new DrachtioBackend({
    drachtio,
    freeswitch,
    contactFor: (number) => `sip:${number}@127.0.0.1:${AGENT_PORT}`,
    logger: pino({ level: 'error' }),
    owner: 'bench',
  });
  const directory = new AgentDirectory(agents);
  const orchestrator = new Orchestrator({
    backend,
    directory,
    routes: [{ did: '4500', route: { kind: 'skill', skill: 'load' } }],
    core: { helpAnswerTimeoutSeconds: 20, offerAnswerTimeoutSeconds: 20, requeueSeconds: 10 },
    logger: pino({ level: 'error' }),
  });
  await orchestrator.start();
  for (const a of agents) directory.signIn(a.workNo);
  while (!(backend.connected.drachtio && backend.connected.freeswitch)) await sleep(100);
  return { stop: () => orchestrator.stop() };
}

async function startBare(): Promise<{ stop(): Promise<void> }> {
  const bare = await startBareB2bua({ drachtio, freeswitch, target: `sip:agent@127.0.0.1:${AGENT_PORT}` });
  return {
    async stop() {
      bare.stop();
    },
  };
}

function sipp(args: string[]): { done: Promise<string>; kill(): void } {
  const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { done: new Promise((resolve) => child.on('exit', () => resolve(out))), kill: () => child.kill('SIGINT') };
}

function successful(screen: string): { ok: number; failed: number } {
  const last = (label: string) => Number([...screen.matchAll(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'g'))].at(-1)?.[1] ?? NaN);
  return { ok: last('Successful call'), failed: last('Failed call') };
}

async function run(kind: 'service' | 'bare', dir: string): Promise<{ cpuPerCall: number; ok: number; failed: number }> {
  const target = kind === 'service' ? await startService() : await startBare();
  const uasFile = join(dir, 'uas.xml');
  const uacFile = join(dir, 'uac.xml');
  writeFileSync(uasFile, uasScenario({ kind: 'answer', afterMs: 100, then: { kind: 'stay' } }));
  writeFileSync(uacFile, uacScenario({ kind: 'bye', afterMs: HOLD_S * 1000 }, true).replaceAll('[tone_file]', writeToneFile(dir, 1000)));
  const inf = join(dir, 'from.csv');
  writeFileSync(inf, 'SEQUENTIAL\n5550001;\n');
  const agentsSipp = sipp(['-sf', uasFile, '-i', '127.0.0.1', '-p', String(AGENT_PORT), '-mi', '127.0.0.1', '-mp', '34000', '-rtp_echo', '-nostdin', '-timeout', `${HOLD_S * 4 + CALLS / RATE + 30}s`]);
  await sleep(500);
  const before = freeswitchCpuSeconds();
  const started = Date.now();
  const customers = sipp(['-sf', uacFile, '-inf', inf, '-s', '4500', '127.0.0.1:5060', '-i', '127.0.0.1', '-p', '5301', '-mi', '127.0.0.1', '-mp', '36000', '-r', String(RATE), '-m', String(CALLS), '-l', String(Math.ceil(RATE * HOLD_S * 1.5)), '-nostdin', '-timeout', `${HOLD_S * 3 + CALLS / RATE + 30}s`]);
  const screen = await customers.done;
  const cpu = freeswitchCpuSeconds() - before;
  const seconds = (Date.now() - started) / 1000;
  agentsSipp.kill();
  await agentsSipp.done;
  await target.stop();
  await sleep(2000);
  const { ok, failed } = successful(screen);
  console.log(`  ${kind.padEnd(7)} ${ok} calls ok, ${failed} failed in ${seconds.toFixed(0)} s: FreeSWITCH ${cpu.toFixed(2)} CPU-s, ${((cpu / ok) * 1000).toFixed(1)} CPU-ms per call`);
  return { cpuPerCall: cpu / ok, ok, failed };
}

const dir = mkdtempSync(join(tmpdir(), 'media-cpu-'));
console.log(`FreeSWITCH CPU per bridged call, ${RATE} calls/s, ${HOLD_S} s each, ${CALLS} calls per run, ${PAIRS} alternating pairs`);
const ratios: number[] = [];
for (let pair = 0; pair < PAIRS; pair++) {
  const order: ('service' | 'bare')[] = pair % 2 === 0 ? ['service', 'bare'] : ['bare', 'service'];
  const results: Record<string, { cpuPerCall: number }> = {};
  for (const kind of order) results[kind] = await run(kind, dir);
  const ratio = (results.service?.cpuPerCall ?? NaN) / (results.bare?.cpuPerCall ?? NaN);
  ratios.push(ratio);
  console.log(`pair ${pair + 1}: service / bare = ${ratio.toFixed(3)}`);
}
const sorted = [...ratios].sort((a, b) => a - b);
const middle = sorted.length / 2;
const median = sorted.length % 2 === 1 ? (sorted[Math.floor(middle)] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
console.log(`median ratio service / bare: ${median.toFixed(3)} (pairs: ${ratios.map((r) => r.toFixed(3)).join(', ')})`);
process.exit(0);
