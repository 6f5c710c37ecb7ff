/**
 * Two instances on one real redis-server (Debian's, started for this file): the tests of instances.shared.ts with
 * the Redis adapter, each instance on its own connections.
 */
import pino from 'pino';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { describeWithRedis } from '../support/redis-server.js';
import { instanceTests } from './instances.shared.js';

const silent = pino({ level: 'silent' });
let prefixes = 0;

describeWithRedis('two instances on one redis-server', (server) => {
  instanceTests(async () => {
    const prefix = `inst${++prefixes}:`;
    const connect = (): Promise<RedisStateStore> => RedisStateStore.connect({ url: server().url, prefix, logger: silent });
    return Promise.all([connect(), connect()]);
  });
});
