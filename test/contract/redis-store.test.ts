/**
 * The StateStore contract on the Redis adapter, against a real Debian redis-server started for this file (each test
 * on a key prefix of its own; two instances are two RedisStateStore objects on the server), then what only Redis
 * has: a server restart, commands while it is down, an unreachable server, the URL's password.
 *
 * No redis-server installed: in CI (CI set) this file fails, saying so; elsewhere it is skipped, loudly.
 */
import { inspect } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/ports/state-store.js';
import { RedisStateStore, redactedUrl } from '../../src/state/redis-store.js';
import { freePort } from '../support/free-port.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { stateStoreContract } from './state-store.contract.js';

const binary = redisServerBinary();
const MISSING = 'redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)';
const silent = pino({ level: 'silent' });

if (!binary) {
  if (process.env.CI) {
    describe('RedisStateStore', () => {
      it('needs redis-server', () => {
        throw new Error(`${MISSING}: the Redis adapter's contract tests cannot run, and CI must not pass without them`);
      });
    });
  } else {
    console.warn(`\n*** ${MISSING}: the RedisStateStore contract tests are SKIPPED ***\n`);
    describe.skip(`RedisStateStore (skipped: ${MISSING})`, () => {
      it('runs the contract on a real redis-server', () => undefined);
    });
  }
} else {
  let server: RedisServer;
  let prefixes = 0;
  beforeAll(async () => {
    server = await startRedisServer(binary);
    console.log(`RedisStateStore tests on ${server.version} at ${server.url}`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  stateStoreContract<RedisStateStore>({
    name: 'RedisStateStore',
    open: ({ eventLimit }) => RedisStateStore.connect({ url: server.url, prefix: `t${++prefixes}-${process.pid}:`, eventLimit, logger: silent }),
    peer: (store) => RedisStateStore.connect({ url: server.url, prefix: store.prefix, eventLimit: 5, logger: silent }),
    separateInstances: true,
  });

  describe('RedisStateStore on a server that goes away', () => {
    it('a restart of redis-server: unavailable meanwhile, commands fail fast; back by itself, events flow again', async () => {
      const store = await RedisStateStore.connect({ url: server.url, prefix: 'restart:', logger: silent, reconnectMaxDelayMs: 500 });
      try {
        const seen: unknown[] = [];
        store.onEvent((stored) => seen.push(stored.event));
        // Reconnect listeners: told once the connection is back; one that unsubscribed is not.
        let told = 0;
        let toldAfterLeaving = 0;
        store.onReconnect(() => (told += 1));
        const leave = store.onReconnect(() => (toldAfterLeaving += 1));
        leave();
        await store.appendEvent('1001', { n: 'before' });
        await expect.poll(() => seen, { timeout: 5000 }).toEqual([{ n: 'before' }]);
        expect(store.available).toBe(true);

        await server.stop();
        await expect.poll(() => store.available, { timeout: 5000, interval: 20 }).toBe(false);
        for (const attempt of [() => store.sessionOf('1001'), () => store.reserveAgent('1001', 'c1'), () => store.appendEvent('1001', {})]) {
          const started = Date.now();
          await expect(attempt()).rejects.toBeInstanceOf(StoreUnavailableError);
          expect(Date.now() - started).toBeLessThan(1500);
        }

        await server.start();
        await expect.poll(() => store.available, { timeout: 10_000, interval: 50 }).toBe(true);
        await expect.poll(() => told, { timeout: 5000 }).toBeGreaterThan(0);
        expect(toldAfterLeaving).toBe(0);
        // The server kept nothing (--save ''): the store works on an empty one.
        expect(await store.reserveAgent('1001', 'c1')).toBe(true);
        expect(await store.callOfAgent('1001')).toBe('c1');
        await store.appendEvent('1001', { n: 'after' });
        await expect.poll(() => seen, { timeout: 10_000 }).toEqual([{ n: 'before' }, { n: 'after' }]);
      } finally {
        await store.close();
        if (!(await isUp(server))) await server.start();
      }
    });

    it('a server that stops answering (SIGSTOP): a command rejects after commandTimeoutMs, and works once it answers again', async () => {
      const store = await RedisStateStore.connect({ url: server.url, prefix: 'paused:', commandTimeoutMs: 500, logger: silent });
      try {
        server.pause();
        const started = Date.now();
        await expect(store.reserveAgent('1001', 'c1')).rejects.toBeInstanceOf(StoreUnavailableError);
        expect(Date.now() - started).toBeGreaterThanOrEqual(450);
        expect(Date.now() - started).toBeLessThan(1500);
        server.resume();
        // The command that timed out may have been applied meanwhile ("its effect is then unknown"): it was.
        expect(await store.callOfAgent('1001')).toBe('c1');
      } finally {
        server.resume();
        await store.close();
      }
    });

    it('commands in flight when the connection drops reject at once with StoreUnavailableError', async () => {
      const store = await RedisStateStore.connect({ url: server.url, prefix: 'inflight:', commandTimeoutMs: 10_000, logger: silent });
      try {
        server.pause();
        const pending = Array.from({ length: 20 }, (_, n) => store.appendEvent('1001', { n }).then(() => 'answered', (error: unknown) => error));
        await new Promise((resolve) => setTimeout(resolve, 100));
        const started = Date.now();
        await server.kill();
        const outcomes = await Promise.all(pending);
        expect(Date.now() - started).toBeLessThan(2000);
        expect(outcomes).toHaveLength(20);
        for (const outcome of outcomes) expect(outcome).toBeInstanceOf(StoreUnavailableError);
      } finally {
        await store.close();
        await server.start();
      }
    });

    it('an unreachable server: connect gives up within its timeout with StoreUnavailableError', async () => {
      const port = await freePort();
      const started = Date.now();
      const error = await RedisStateStore.connect({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 800, logger: silent }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(String((error as Error).message)).toContain(`127.0.0.1:${port}`);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it("never shows the URL's password: not in errors, logs, nor a dump of the store", async () => {
      const logged: string[] = [];
      const logger = pino({ level: 'debug' }, { write: (line: string) => logged.push(line) });
      const secret = 'S3cr3t-pa55';
      // This server has no password: AUTH with one fails, and connect gives up.
      const error = await RedisStateStore.connect({ url: `redis://:${secret}@127.0.0.1:${server.port}`, connectTimeoutMs: 600, logger }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(inspect(error)).not.toContain(secret);
      expect(logged.join('\n')).not.toContain(secret);
      expect(redactedUrl(`redis://user:${secret}@example.net:6380/2`)).toBe('redis://user:***@example.net:6380/2');
      expect(() => redactedUrl(`redis//:${secret}@bad url`)).toThrow(/not a valid URL/);
      expect(() => redactedUrl(`redis//:${secret}@bad url`)).not.toThrow(new RegExp(secret));

      const store = await RedisStateStore.connect({ url: `redis://default:@127.0.0.1:${server.port}`, logger });
      try {
        expect(store.where).toBe(`redis://default@127.0.0.1:${server.port}`);
        expect(inspect(store, { depth: 10 })).not.toContain('default:@');
      } finally {
        await store.close();
      }
    });

    it('closed: commands reject with StoreUnavailableError and available is false', async () => {
      const store = await RedisStateStore.connect({ url: server.url, prefix: 'closed:', logger: silent });
      await store.close();
      expect(store.available).toBe(false);
      await expect(store.sessions()).rejects.toBeInstanceOf(StoreUnavailableError);
      await store.close();
    });
  });
}

async function isUp(server: RedisServer): Promise<boolean> {
  try {
    const probe = await RedisStateStore.connect({ url: server.url, connectTimeoutMs: 300, logger: silent });
    await probe.close();
    return true;
  } catch {
    return false;
  }
}
