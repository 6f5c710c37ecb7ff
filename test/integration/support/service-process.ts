/**
 * The service as its own process (`node --import tsx src/main.ts`, the real backend), as an operator runs one
 * instance of several: configuration from a JSON file (CONFIG_FILE) plus environment variables, desks over HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const API = '/agentgateway/resource';

export interface ServiceProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** Where everything it printed is kept (for reading after a failure). */
  readonly logFile: string;
  /** Resolves with the exit code (null: ended by a signal) and when it came (Date.now()). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Everything the process printed so far (pino JSON lines). */
  output(): string;
  /** GET /health: its status and body (null body when the process does not answer). */
  health(): Promise<{ status: number; body: { status: string; activeCalls: number; signedInAgents: number; instance: string } | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** Writes a configuration file (merged over config/default.json by the service) into a fresh temporary directory. */
export function writeConfigFile(config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'service-config-')), 'config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/**
 * Starts one instance and waits (30 s at most) until /health says ok: both servers reached, store up. What it
 * prints goes to `logFile` (in `logDir`) as well.
 */
export async function startServiceProcess(name: string, port: number, env: Record<string, string>, logDir: string): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  let output = '';
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-500_000);
    log.write(d);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => log.end());
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    name,
    url,
    child,
    logFile,
    exited,
    output: () => output,
    async health() {
      try {
        const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
        return { status: response.status, body: (await response.json()) as NonNullable<Awaited<ReturnType<ServiceProcess['health']>>['body']> };
      } catch {
        return { status: 0, body: null };
      }
    },
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const health = await service.health();
    if (health.status === 200 && health.body?.status === 'ok') return service;
    if (child.exitCode !== null || Date.now() > deadline) {
      service.kill('SIGKILL');
      throw new Error(`instance ${name} did not become healthy (last /health: ${JSON.stringify(health)}):\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface DeskEvent {
  readonly eventType: string;
  readonly content: unknown;
  readonly eventId: string;
  /** When the poll brought it (Date.now()). */
  readonly at: number;
}

/**
 * An agent's desk: signed in once, then its events fetched by long poll, one after the other, from the first of
 * `urls()` that answers; when an instance goes (a poll answered with "Connection: close" as a draining or stopping
 * instance does, or a failed poll) the desk goes on at the next, after the last event it saw, as a desktop that
 * reconnects elsewhere does.
 */
export class Desk {
  readonly events: DeskEvent[] = [];
  /** Every poll that failed (status, retcode or error), with the instance asked. */
  readonly failures: string[] = [];
  /** Every time an instance said it serves no more desks (Connection: close). */
  readonly moves: string[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;

  private constructor(
    readonly workNo: string,
    readonly guid: string,
    private readonly urls: () => string[],
  ) {}

  static async signIn(url: string, workNo: string, password: string, urls: () => string[]): Promise<Desk> {
    const response = await fetch(`${url}${API}/onlineagent/${workNo}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ password }),
      signal: AbortSignal.timeout(5000),
    });
    const guid = response.headers.get('set-guid');
    if (!guid) throw new Error(`sign-in of ${workNo} at ${url} failed: ${response.status} ${await response.text()}`);
    const desk = new Desk(workNo, guid, urls);
    desk.loop = desk.run();
    return desk;
  }

  /** One poll at `url` with this desk's Guid: the HTTP status and the envelope. */
  async pollOnce(url: string): Promise<{ status: number; body: { retcode: string; event: unknown } }> {
    const response = await fetch(`${url}${API}/agentevent/${this.workNo}`, { headers: { Guid: this.guid }, signal: AbortSignal.timeout(15_000) });
    return { status: response.status, body: (await response.json()) as { retcode: string; event: unknown } };
  }

  /** A request of this agent (its Guid) to `url`. */
  async request(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: { retcode: string; message: string; result: unknown } }> {
    const response = await fetch(`${url}${API}${path}`, {
      method,
      headers: { Guid: this.guid, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: (await response.json()) as { retcode: string; message: string; result: unknown } };
  }

  /** Waits for an event of that type at or after index `from` of `events`. */
  async waitFor(eventType: string, from = 0, ms = 15_000): Promise<DeskEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.find((e, i) => i >= from && e.eventType === eventType);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`${this.workNo}: no ${eventType} within ${ms} ms; events ${JSON.stringify(this.events.map((e) => e.eventType))}; failed polls ${JSON.stringify(this.failures.slice(-5))}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let current = 0;
    while (!this.stopped) {
      const urls = this.urls();
      const url = urls[current % Math.max(1, urls.length)];
      if (url === undefined) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const last = this.events[this.events.length - 1]?.eventId;
      try {
        const response = await fetch(`${url}${API}/agentevent/${this.workNo}${last ? `?after=${last}` : ''}`, { headers: { Guid: this.guid }, signal: AbortSignal.timeout(15_000) });
        const body = (await response.json()) as { retcode: string; event: { eventType: string; content: unknown; eventId: string } | null };
        if (response.status === 200 && body.retcode === '0') {
          if (body.event) this.events.push({ ...body.event, at: Date.now() });
          // "Connection: close": that instance stops serving desks (it drains or stops); go on at the next.
          if (response.headers.get('connection') !== 'close') continue;
          this.moves.push(`${url}: Connection: close`);
          current++;
          continue;
        }
        this.failures.push(`${url}: ${response.status} ${JSON.stringify(body)}`);
      } catch (error) {
        this.failures.push(`${url}: ${String(error)}`);
      }
      // That instance does not serve this desk (any more): the next one.
      current++;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
