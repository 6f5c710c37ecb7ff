/**
 * Two instances on one real redis-server (Debian's, started for this file): the tests of instances.shared.ts with
 * the Redis adapter, each instance on its own connections. Without redis-server: fails under CI, skipped (loudly)
 * elsewhere, as the Redis contract tests do.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { redisServerBinary, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { instanceTests } from './instances.shared.js';

const binary = redisServerBinary();
const silent = pino({ level: 'silent' });

if (!binary) {
  const missing = 'redis-server is not installed (.ci/run installs it)';
  if (process.env.CI) {
    describe('two instances on Redis', () => {
      it('needs redis-server', () => {
        throw new Error(missing);
      });
    });
  } else {
    console.warn(`\n*** ${missing}: the two-instance tests on Redis are SKIPPED ***\n`);
    describe.skip('two instances on Redis', () => it('runs on a real redis-server', () => undefined));
  }
} else {
  let server: RedisServer;
  let prefixes = 0;
  beforeAll(async () => {
    server = await startRedisServer(binary);
  });
  afterAll(async () => {
    await server?.stop();
  });
  describe('two instances on one redis-server', () => {
    instanceTests(async () => {
      const prefix = `inst${++prefixes}:`;
      return Promise.all([RedisStateStore.connect({ url: server.url, prefix, logger: silent }), RedisStateStore.connect({ url: server.url, prefix, logger: silent })]);
    });
  });
}
