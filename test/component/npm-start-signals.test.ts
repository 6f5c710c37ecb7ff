/**
 * `npm start` under a supervisor: the supervisor knows only the pid it started, npm's. SIGTERM to that pid must stop
 * the service gracefully (main.ts's stop runs: its "stopped" line, exit 0) and leave no process behind and the port
 * closed. And Ctrl-C in a terminal, which signals npm's whole process group (npm then passes its SIGINT on as well,
 * so the service gets two), must still be one graceful stop, not "second signal: exiting at once".
 *
 * Each case runs the real `npm start`, prestart (build:web) included. Times are printed; the bound is generous
 * (2 shared cores).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';

const EXIT_BOUND_MS = 10_000;

interface Started {
  readonly npm: ChildProcess;
  readonly port: number;
  /** The service's own pid, as its log says it. */
  readonly servicePid: number;
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The service's pino lines (npm's own lines, and a line still being written, left out). */
function logLines(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

async function npmStart(options: { ownProcessGroup: boolean; env?: Record<string, string> }): Promise<Started> {
  const port = await freePort();
  const npm = spawn('npm', ['start'], {
    env: { ...process.env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', TELEPHONY_BACKEND: 'sim', LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a terminal's foreground job has: a signal to the group reaches every process in it.
    detached: options.ownProcessGroup,
  });
  let output = '';
  npm.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    npm.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  cleanups.push(() => {
    // Whatever a failed case left running: npm (and its group), and the service if it outlived npm.
    if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
    if (options.ownProcessGroup && npm.pid !== undefined) {
      try {
        process.kill(-npm.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
    const pid = logLines(output).find((line) => line.msg === 'service started')?.pid;
    if (typeof pid === 'number' && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || npm.exitCode !== null) throw new Error(`npm start did not bring the service up:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const servicePid = logLines(output).find((line) => line.msg === 'service started')?.pid;
  if (typeof servicePid !== 'number') throw new Error(`no "service started" line with a pid:\n${output}`);
  return { npm, port, servicePid, output: () => output, exited };
}

async function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function exitWithin(started: Started, ms: number) {
  return Promise.race([started.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);
}

describe('npm start and signals', () => {
  it('SIGTERM to the npm process (what a supervisor sends) stops the service gracefully, exits 0, leaves nothing running', async () => {
    const service = await npmStart({ ownProcessGroup: false });
    expect(service.servicePid).not.toBe(service.npm.pid);
    const signalled = performance.now();
    service.npm.kill('SIGTERM');
    const exit = await exitWithin(service, EXIT_BOUND_MS);
    expect(exit, service.output()).toMatchObject({ code: 0, signal: null });
    expect(alive(service.servicePid), `service pid ${service.servicePid} still running\n${service.output()}`).toBe(false);
    expect(await portClosed(service.port)).toBe(true);
    const lines = logLines(service.output());
    expect(lines.filter((line) => line.msg === 'signal received')).toEqual([expect.objectContaining({ signal: 'SIGTERM' })]);
    expect(lines.filter((line) => line.msg === 'stopped')).toEqual([expect.objectContaining({ completed: true })]);
    if (typeof exit === 'object') console.log(`npm start, SIGTERM to npm's pid: exited 0 after ${Math.round(exit.at - signalled)} ms`);
  }, 90_000);

  it("Ctrl-C (SIGINT to npm's process group: the service gets it twice) is one graceful stop", async () => {
    // A call in progress, so that the stop lasts (its grace time) until npm's SIGINT comes after the terminal's.
    const service = await npmStart({ ownProcessGroup: true, env: { SHUTDOWN_CALLS_GRACE_SECONDS: '1', SHUTDOWN_TIMEOUT_SECONDS: '5' } });
    const url = `http://127.0.0.1:${service.port}`;
    const retcode = async (method: 'PUT' | 'POST', path: string, body?: unknown) => {
      const response = await fetch(`${url}${path}`, { method, headers: { 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return ((await response.json()) as { retcode: string }).retcode;
    };
    expect(await retcode('PUT', '/agentgateway/resource/onlineagent/101', { password: 'demo-101', phonenum: '2001' })).toBe('0');
    expect(await retcode('POST', '/sim/calls', { from: '5550100', to: '4000' })).toBe('0');
    expect(await retcode('POST', '/sim/phones/2001/answer')).toBe('0');
    expect(((await (await fetch(`${url}/health`)).json()) as { activeCalls: number }).activeCalls).toBe(1);
    const signalled = performance.now();
    process.kill(-(service.npm.pid as number), 'SIGINT');
    const exit = await exitWithin(service, EXIT_BOUND_MS);
    expect(exit, service.output()).toMatchObject({ code: 0, signal: null });
    expect(alive(service.servicePid)).toBe(false);
    expect(await portClosed(service.port)).toBe(true);
    const lines = logLines(service.output());
    expect(lines.filter((line) => line.msg === 'second signal: exiting at once'), service.output()).toEqual([]);
    expect(lines.filter((line) => line.msg === 'signal received')).toEqual([expect.objectContaining({ signal: 'SIGINT' })]);
    // npm's copy came too, and was taken for the same stop.
    expect(lines.filter((line) => line.msg === 'signal again at once: the same stop, already under way')).toEqual([expect.objectContaining({ signal: 'SIGINT' })]);
    expect(lines.filter((line) => line.msg === 'stopped')).toEqual([expect.objectContaining({ callsAtSignal: 1, callsHungUp: 1, completed: true })]);
    if (typeof exit === 'object') console.log(`npm start, Ctrl-C: exited 0 after ${Math.round(exit.at - signalled)} ms`);
  }, 90_000);
});
