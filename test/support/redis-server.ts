/**
 * A throwaway Debian `redis-server` for the tests: on a free loopback port, nothing saved to disk, started and
 * stopped by the test (restart() keeps the port, for the reconnection tests). The caller stops it in afterAll;
 * should the test process end first, the server is killed with it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { freePort } from './free-port.js';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** "Redis server v=7.0.15 ..." */
  readonly version: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); resolves once it exited. */
  stop(): Promise<void>;
  /** Stops it if running, then starts it again on the same port (empty: nothing was saved). */
  restart(): Promise<void>;
  /** Starts it again on the same port after stop() or kill(). */
  start(): Promise<void>;
  /** SIGKILL: gone at once, whatever it was doing (even paused). */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

/** The redis-server binary, or null when it is not installed. */
export function redisServerBinary(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  return which.status === 0 && path ? path : null;
}

export async function startRedisServer(binary = redisServerBinary() ?? 'redis-server'): Promise<RedisServer> {
  const port = await freePort();
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  let child: ChildProcess | null = null;
  let output = '';
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const start = async (): Promise<void> => {
    if (child) throw new Error('redis-server is already running');
    output = '';
    const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.once('exit', () => {
      if (child === proc) child = null;
    });
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(port))) {
      if (child !== proc) throw new Error(`redis-server exited at start (port ${port}):\n${output}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server did not answer PING within 10 s (port ${port}):\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    child = null;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    version,
    stop: async () => {
      await stop();
      process.off('exit', killOnExit);
    },
    start: async () => {
      process.once('exit', killOnExit);
      await start();
    },
    restart: async () => {
      await stop();
      await start();
    },
    kill: () => stop('SIGKILL'),
    pause: () => {
      child?.kill('SIGSTOP');
    },
    resume: () => {
      child?.kill('SIGCONT');
    },
  };
}

/** True if something on the port answers PING with +PONG (raw RESP, not the client under test). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Registers `body` as a describe block run against a throwaway redis-server (`server()` gives it once started).
 * Without redis-server installed: in CI a failing test says so (CI must not pass without these tests); elsewhere
 * the block is skipped, loudly.
 */
export function describeWithRedis(name: string, body: (server: () => RedisServer) => void): void {
  const binary = redisServerBinary();
  const missing = 'redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)';
  if (!binary) {
    if (process.env.CI) {
      describe(name, () => {
        it('needs redis-server', () => {
          throw new Error(`${missing}: these tests cannot run, and CI must not pass without them`);
        });
      });
    } else {
      console.warn(`\n*** ${missing}: "${name}" is SKIPPED ***\n`);
      describe.skip(`${name} (skipped: ${missing})`, () => it('runs on a real redis-server', () => undefined));
    }
    return;
  }
  describe(name, () => {
    let server: RedisServer | undefined;
    beforeAll(async () => {
      server = await startRedisServer(binary);
    });
    afterAll(async () => {
      await server?.stop();
    });
    body(() => {
      if (!server) throw new Error('redis-server not started');
      return server;
    });
  });
}
