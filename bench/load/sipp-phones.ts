/**
 * Phones on a real stack: SIPp processes running the scenarios of sipp/ (one UAS per pool of agents' phones, one
 * UAC for every customer), and after the run the checks on FreeSWITCH (event socket) and, if it exports metrics,
 * drachtio-server. Time stamps come from the scenarios' log lines ([timestamp]: this machine's clock).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import esl from 'modesl';
import { now, type AgentEvent } from './api.js';
import { DID, POOLS, type Agent, type Pool, type SessionPlan, type Timing } from './plan.js';
import { sleep, type Leftover, type Phones, type Stamp } from './phones.js';

export interface SippOptions {
  /** drachtio-server's SIP address, where customers send their INVITEs. */
  readonly sipTarget: string;
  /** Address the SIPp processes bind to (SIP and RTP); the generated configuration rings agents there. */
  readonly host: string;
  /** Customers' SIPp on this port; the pools' phones on the next five (agent, helper, busy, noanswer, hangup). */
  readonly basePort: number;
  /** RTP ports from here, 100 per process. */
  readonly rtpBasePort: number;
  readonly timing: Timing;
  /** FreeSWITCH's event socket, for the leftover check (host:port); null: not checked. */
  readonly esl: { host: string; port: number; password: string } | null;
  /** drachtio-server's Prometheus endpoint (--prometheus-scrape-port); null: dialogs not checked there. */
  readonly drachtioMetrics: string | null;
  /** drachtio-server's log file: the dialog count it logs on every change is read from its end. */
  readonly drachtioLog?: string | null;
  /** The FreeSWITCH owner tag of the service (telephony.owner); channels of other owners are reported apart. */
  readonly owner: string | null;
  /** Upper bound on the whole run, so every SIPp stops by itself even if the driver dies. */
  readonly maxSeconds: number;
  readonly sipp?: string;
  readonly scenarioDir?: string;
}

export function poolPorts(basePort: number): Record<Pool, number> {
  return Object.fromEntries(POOLS.map((p, i) => [p, basePort + 1 + i])) as Record<Pool, number>;
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  readonly stat: string;
  readonly exited: Promise<number>;
  output: string;
}

export class SippPhones implements Phones {
  readonly name = 'real stack (SIPp phones)';
  private readonly dir = mkdtempSync(join(tmpdir(), 'load-sipp-'));
  private readonly procs: Proc[] = [];
  private customers: Proc | null = null;
  private dialogsBefore = 0;
  private readonly scenarios: string;

  constructor(private readonly options: SippOptions) {
    this.scenarios = options.scenarioDir ?? resolve(import.meta.dirname, '../../sipp');
  }

  private spawnSipp(name: string, args: string[]): Proc {
    const log = join(this.dir, `${name}.log`);
    const stat = join(this.dir, `${name}.stat.csv`);
    const all = [...args, '-nostdin', '-trace_logs', '-log_file', log, '-trace_stat', '-stf', stat, '-fd', '1', '-timeout', `${this.options.maxSeconds}s`];
    const child = spawn(this.options.sipp ?? 'sipp', all, { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc: Proc = { name, child, log, stat, exited: new Promise((r) => child.on('exit', (code) => r(code ?? -1))), output: '' };
    const keep = (d: Buffer) => {
      proc.output = (proc.output + d.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.procs.push(proc);
    return proc;
  }

  async startPhones(_agents: readonly Agent[]): Promise<void> {
    const { host, timing } = this.options;
    // Dialogs drachtio-server had before the run (another app's, or left by an earlier run) are not this run's.
    if (this.options.drachtioLog) this.dialogsBefore = drachtioLogDialogs(this.options.drachtioLog) ?? 0;
    const ports = poolPorts(this.options.basePort);
    const keys: Record<Pool, [string, string[]]> = {
      agent: ['agent.xml', ['-key', 'answer_ms', String(timing.answerMs), '-key', 'hangup_ms', '0']],
      helper: ['helper.xml', ['-key', 'reply', '200', '-key', 'answer_ms', String(timing.answerMs), '-key', 'hangup_ms', '0']],
      busy: ['helper.xml', ['-key', 'reply', '486', '-key', 'answer_ms', String(timing.answerMs), '-key', 'hangup_ms', '0']],
      noanswer: ['helper.xml', ['-key', 'reply', '0', '-key', 'answer_ms', '0', '-key', 'hangup_ms', '0']],
      hangup: ['helper.xml', ['-key', 'reply', '200', '-key', 'answer_ms', String(timing.answerMs), '-key', 'hangup_ms', String(timing.helperHangupMs)]],
    };
    POOLS.forEach((pool, i) => {
      const [file, k] = keys[pool];
      const rtp = this.options.rtpBasePort + 100 * (i + 1);
      this.spawnSipp(pool, ['-sf', join(this.scenarios, file), ...k, '-i', host, '-p', String(ports[pool]), '-mi', host, '-mp', String(rtp), '-rtp_echo']);
    });
    // An INVITE that finds a phone's port still closed fails the call at once: wait until every one listens.
    await Promise.all(POOLS.map((pool) => udpBound(ports[pool])));
    const dead = this.procs.find((p) => p.child.exitCode !== null);
    if (dead) throw new Error(`SIPp for ${dead.name} ended at once:\n${dead.output}`);
  }

  async startCustomers(plans: readonly SessionPlan[], rate: number): Promise<void> {
    const csv = join(this.dir, 'customers.csv');
    writeFileSync(csv, `SEQUENTIAL\n${plans.map((p) => `${p.customer};${p.holdMs};${p.holdMs};`).join('\n')}\n`);
    const rateArgs = Number.isInteger(rate) ? ['-r', String(rate)] : ['-r', String(Math.max(1, Math.round(rate * 100))), '-rp', '100000'];
    const { host } = this.options;
    this.customers = this.spawnSipp('customers', [
      '-sf',
      join(this.scenarios, 'customer.xml'),
      '-inf',
      csv,
      '-s',
      DID,
      this.options.sipTarget,
      ...rateArgs,
      '-m',
      String(plans.length),
      '-l',
      String(plans.length),
      '-i',
      host,
      '-p',
      String(this.options.basePort),
      '-mi',
      host,
      '-mp',
      String(this.options.rtpBasePort),
    ]);
  }

  onAgentEvent(_event: AgentEvent, _agent: Agent): void {
    // SIPp's phones act by their scenarios.
  }

  async abandon(_customer: string): Promise<void> {
    // A SIPp customer hangs up after the hold time of its plan (or never, waiting for the BYE): nothing to tell it.
  }

  async customersDone(timeoutMs: number): Promise<void> {
    if (!this.customers) return;
    await Promise.race([this.customers.exited, sleep(timeoutMs)]);
  }

  async stamps(): Promise<Stamp[]> {
    const stamps: Stamp[] = [];
    for (const proc of this.procs) {
      if (!existsSync(proc.log)) continue;
      for (const line of readFileSync(proc.log, 'utf8').split('\n')) {
        // "<date>\t<time>\t<epoch s.us> <who> <what> <number> <call id>"
        const m = /(\d{9,}\.\d+) (customer|phone) (\S+) (?:sip:)?(\S+) /.exec(line);
        if (m) stamps.push({ who: m[2] as Stamp['who'], what: m[3] as string, number: m[4] as string, t: Number(m[1]) * 1000 });
      }
    }
    return stamps;
  }

  /** The last line of a SIPp statistics file, by column. */
  private lastStat(proc: Proc): Record<string, string> {
    if (!existsSync(proc.stat)) return {};
    const lines = readFileSync(proc.stat, 'utf8').trim().split('\n');
    const header = (lines[0] ?? '').split(';');
    const last = (lines.at(-1) ?? '').split(';');
    return Object.fromEntries(header.map((h, i) => [h, last[i] ?? '']));
  }

  async leftovers(): Promise<Leftover[]> {
    const result: Leftover[] = [];
    // Let each SIPp write one more statistics line after the last hang-up.
    await sleep(1500);
    const open: string[] = [];
    for (const proc of this.procs) {
      const current = Number(this.lastStat(proc).CurrentCall ?? 0);
      if (current > 0) open.push(`${proc.name}:${current}`);
    }
    result.push({ what: "SIPp phones' calls still up", count: open.reduce((n, s) => n + Number(s.split(':')[1]), 0), ...(open.length ? { detail: open.join(' ') } : {}) });
    if (this.options.esl) {
      try {
        result.push(...(await freeswitchLeftovers(this.options.esl, this.options.owner)));
      } catch (error) {
        // Could not look: a leftover of unknown size, so the run does not pass as clean.
        result.push({ what: 'FreeSWITCH channels and rooms', count: 1, detail: `could not check: ${(error as Error).message}` });
      }
    }
    else result.push({ what: 'FreeSWITCH channels and rooms', count: 0, detail: 'not checked: no --esl' });
    if (this.options.drachtioMetrics) {
      try {
        const text = await (await fetch(this.options.drachtioMetrics)).text();
        const dialogs = text
          .split('\n')
          .filter((l) => l.startsWith('drachtio_stable_dialogs'))
          .reduce((n, l) => n + Number(l.split(/\s+/).at(-1)), 0);
        result.push({ what: 'drachtio-server dialogs (drachtio_stable_dialogs)', count: dialogs });
      } catch (error) {
        result.push({ what: 'drachtio-server dialogs', count: 0, detail: `not checked: ${(error as Error).message}` });
      }
    } else if (this.options.drachtioLog) {
      const count = drachtioLogDialogs(this.options.drachtioLog);
      result.push(
        count === null
          ? { what: 'drachtio-server dialogs', count: 1, detail: `could not check: no dialog count in the end of ${this.options.drachtioLog}` }
          : { what: 'drachtio-server dialogs added by the run (its log)', count: Math.max(0, count - this.dialogsBefore), detail: `${count} at the end, ${this.dialogsBefore} before the run` },
      );
    } else {
      result.push({ what: 'drachtio-server dialogs', count: 0, detail: 'not checked directly (no --drachtio-metrics or --drachtio-log); see the SIPp and FreeSWITCH lines' });
    }
    return result;
  }

  async failures(): Promise<Record<string, number>> {
    const failures: Record<string, number> = {};
    for (const proc of this.procs) failures[`SIPp ${proc.name} failed calls`] = Number(this.lastStat(proc)['FailedCall(C)'] ?? 0);
    return failures;
  }

  async stop(): Promise<void> {
    for (const proc of this.procs) if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), sleep(3000)]);
    for (const proc of this.procs) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  }

  get logDirectory(): string {
    return this.dir;
  }
}

/**
 * The number of dialogs drachtio-server tracks, from the last line of its log that tells it (loglevel info:
 * "ClientController::removeDialog - after removing dialogs count is now: N" and "... added dialog (uac), now
 * tracking: N dialogs"), read from the last 4 MiB of the file; null if none is there.
 */
export function drachtioLogDialogs(file: string): number | null {
  const size = statSync(file).size;
  const length = Math.min(size, 4 * 1024 * 1024);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  const matches = [...buffer.toString('latin1').matchAll(/dialogs count is now: (\d+)|now tracking: (\d+) dialogs/g)];
  const last = matches.at(-1);
  return last ? Number(last[1] ?? last[2]) : null;
}

/**
 * Whether a /proc/net/udp (or udp6) table has a socket bound to the port, on any local address. Lines are
 * "   12: 0100007F:151A 00000000:0000 07 ...": from slot 10000 on the slot has no leading blank, so the line is
 * trimmed before it is split (the local address is then the second field).
 */
export function udpTableHasPort(table: string, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex) ?? false);
}

/** Resolves when something listens on the UDP port (any local address), within 5 s. */
async function udpBound(port: number): Promise<void> {
  const deadline = now() + 5000;
  while (now() < deadline) {
    const tables = ['/proc/net/udp', '/proc/net/udp6'].filter(existsSync).map((f) => readFileSync(f, 'utf8'));
    if (tables.some((t) => udpTableHasPort(t, port))) return;
    await sleep(20);
  }
  throw new Error(`no SIPp listening on UDP port ${port}`);
}

/** FreeSWITCH's channels (ours by the owner tag, and others) and conference rooms, over the event socket. */
export async function freeswitchLeftovers(target: { host: string; port: number; password: string }, owner: string | null): Promise<Leftover[]> {
  const conn = await new Promise<InstanceType<typeof esl.Connection>>((resolveConn, reject) => {
    const timer = setTimeout(() => reject(new Error('event socket did not answer in 5 s')), 5000);
    const c: InstanceType<typeof esl.Connection> = new esl.Connection(target.host, target.port, target.password, () => {
      clearTimeout(timer);
      resolveConn(c);
    });
    c.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    c.on('esl::event::auth::fail', () => {
      clearTimeout(timer);
      reject(new Error('event socket password refused'));
    });
  });
  const api = (command: string) => new Promise<string>((r) => conn.api(command, (res) => r(res.getBody())));
  try {
    const listing = JSON.parse((await api('show channels as json')) || '{}') as { rows?: { uuid: string; name?: string }[] };
    const rows = listing.rows ?? [];
    let ours = 0;
    const others: string[] = [];
    for (const row of rows) {
      const tag = (await api(`uuid_getvar ${row.uuid} sip_h_X-Helpdesk-Owner`)).trim();
      if (owner === null ? tag !== '_undef_' && tag !== '' && !tag.startsWith('-ERR') : tag === owner) ours++;
      else others.push(row.name ?? row.uuid);
    }
    const rooms = (await api('conference list'))
      .split('\n')
      .filter((l) => l.startsWith('+OK Conference '))
      .map((l) => l.split(' ')[2] ?? '');
    return [
      { what: `FreeSWITCH channels of the service${owner ? ` (owner ${owner})` : ' (any X-Helpdesk-Owner)'}`, count: ours },
      { what: 'FreeSWITCH channels of anybody else (not counted as ours, listed)', count: 0, ...(others.length ? { detail: `${others.length}: ${others.slice(0, 5).join(' ')}` } : {}) },
      { what: 'FreeSWITCH conference rooms', count: rooms.length, ...(rooms.length ? { detail: rooms.slice(0, 5).join(' ') } : {}) },
    ];
  } finally {
    conn.disconnect();
  }
}
