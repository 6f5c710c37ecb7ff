/**
 * A restart as an operator does it: the service runs as its own process (`node --import tsx src/main.ts`, on the
 * simulated backend, default configuration but the port), desktops wait in long polls and on WebSockets, and it
 * gets SIGTERM. Every poll must be answered and every WebSocket closed with 1012 by the service, and the process
 * must exit with status 0. The time to exit is printed, not asserted (2 shared cores).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../support/free-port.js';

const BASE = '/agentgateway/resource';

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything the process printed so far (pino JSON lines). */
  output(): string;
  /** Resolves with the exit code, and the moment of the exit. */
  readonly exited: Promise<{ code: number | null; at: number }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

async function startProcess(env: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', TELEPHONY_BACKEND: 'sim', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: performance.now() })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the service did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, output: () => output, exited };
}

async function signIn(url: string, workNo: string): Promise<string> {
  const response = await fetch(`${url}${BASE}/onlineagent/${workNo}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: `demo-${workNo}`, phonenum: `200${workNo.slice(-1)}` }),
  });
  const guid = response.headers.get('set-guid');
  if (!guid) throw new Error(`sign-in of ${workNo} failed: ${await response.text()}`);
  return guid;
}

/** A long poll; resolves with what it got and when, or with the error that ended it. */
function longPoll(url: string, workNo: string, guid: string): Promise<{ status: number; body: unknown; at: number; wall: number } | { error: string; at: number; wall: number }> {
  return fetch(`${url}${BASE}/agentevent/${workNo}`, { headers: { Guid: guid } }).then(
    async (response) => ({ status: response.status, body: (await response.json()) as unknown, at: performance.now(), wall: Date.now() }),
    (error: unknown) => ({ error: String(error), at: performance.now(), wall: Date.now() }),
  );
}

async function openStream(url: string, workNo: string, guid: string): Promise<{ closed: Promise<{ code: number; reason: string; at: number }> }> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}${BASE}/agentevent/${workNo}/stream?guid=${guid}`);
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString(), at: performance.now() })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { closed };
}

/** The process's pino lines with this message. */
function logLines(output: string, msg: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);
}

describe('a restart (SIGTERM) of the service process', () => {
  it('answers every waiting long poll, closes every WebSocket with 1012 and exits with 0', async () => {
    const service = await startProcess();
    const [g101, g102, g103] = [await signIn(service.url, '101'), await signIn(service.url, '102'), await signIn(service.url, '103')];
    // Two desktops wait in a long poll (10 s by default), one listens on a WebSocket.
    const polls = [longPoll(service.url, '101', g101), longPoll(service.url, '102', g102)];
    const stream = await openStream(service.url, '103', g103);
    await new Promise((r) => setTimeout(r, 300)); // let both polls reach the service and wait there
    const health = (await (await fetch(`${service.url}/health`)).json()) as { signedInAgents: number };
    expect(health.signedInAgents).toBe(3);

    const signalled = performance.now();
    service.child.kill('SIGTERM');
    const exit = await service.exited;
    const answers = await Promise.all(polls);
    const closed = await stream.closed;

    // Answered by the service (a poll cut off by the exit would end in a fetch error instead).
    for (const answer of answers) expect(answer, service.output()).toMatchObject({ status: 200, body: { retcode: '0', event: null } });
    expect(closed).toMatchObject({ code: 1012, reason: 'service restarting' });
    expect(exit.code, service.output()).toBe(0);
    expect(logLines(service.output(), 'stopped')).toEqual([expect.objectContaining({ callsAtSignal: 0, callsHungUp: 0, completed: true })]);
    console.log(`SIGTERM with 2 long polls and 1 WebSocket open, no call: exited after ${Math.round(exit.at - signalled)} ms`);
  }, 40_000);

  it('with a call in progress: answers the polls at once, then hangs the call up after its grace time and exits with 0', async () => {
    const service = await startProcess({ SHUTDOWN_CALLS_GRACE_SECONDS: '1', SHUTDOWN_TIMEOUT_SECONDS: '5' });
    await signIn(service.url, '101');
    const g102 = await signIn(service.url, '102');
    const post = (path: string, body?: unknown) =>
      fetch(`${service.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    expect(((await (await post('/sim/calls', { from: '5550100', to: '4000' })).json()) as { retcode: string }).retcode).toBe('0');
    expect(((await (await post('/sim/phones/2001/answer')).json()) as { retcode: string }).retcode).toBe('0');
    // 101 is on the call (its events wait in its queue); 102's desktop waits in a long poll.
    const poll = longPoll(service.url, '102', g102);
    await new Promise((r) => setTimeout(r, 300));
    expect(((await (await fetch(`${service.url}/health`)).json()) as { activeCalls: number }).activeCalls).toBe(1);

    const signalled = performance.now();
    service.child.kill('SIGTERM');
    const answer = await poll;
    const exit = await service.exited;
    expect(answer, service.output()).toMatchObject({ status: 200, body: { event: null } });
    // The poll did not wait for the call: it was answered while the call still had its grace time.
    const hungUp = logLines(service.output(), 'calls still in progress at the end of their grace time: hanging them up');
    expect(hungUp, service.output()).toEqual([expect.objectContaining({ calls: 1 })]);
    expect(answer.wall).toBeLessThanOrEqual(hungUp[0]?.time as number);
    expect(exit.code, service.output()).toBe(0);
    expect(logLines(service.output(), 'stopped')).toEqual([expect.objectContaining({ callsAtSignal: 1, callsHungUp: 1, completed: true })]);
    console.log(
      `SIGTERM with 1 call (grace 1 s) and 1 long poll: poll answered after ${Math.round(answer.at - signalled)} ms, exited after ${Math.round(exit.at - signalled)} ms`,
    );
  }, 40_000);
});
