/**
 * The service on a real redis-server (Debian's, started for this file): a restart of the service keeps the agents
 * signed in (their Guid still works, the desk resumes its events), and while Redis is away calls in progress go on
 * and a sign-in gets a clear retcode (000-009), until Redis is back (issue 17, item 6).
 */
import pino from 'pino';
import { expect, it } from 'vitest';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { describeWithRedis } from '../support/redis-server.js';
import { until } from '../support/until.js';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

const silent = pino({ level: 'silent' });

describeWithRedis('the service on Redis', (redis) => {
  const connect = (prefix: string): Promise<RedisStateStore> => RedisStateStore.connect({ url: redis().url, prefix, logger: silent, reconnectMaxDelayMs: 300 });
  let prefixes = 0;

  it('a restart of the service keeps the agents signed in: the same Guid works, and the desk resumes its events', async () => {
    const prefix = `restart${++prefixes}:`;
    const before = await startService(testConfig(), {}, {}, { store: await connect(prefix), instanceId: 'a' });
    const guid = await before.signIn('101');
    const presence = await before.http('POST', `${BASE}/onlineagent/101/saybusy`, { guid });
    expect(presence.body.retcode).toBe('0');
    await before.stop();

    const after = await startService(testConfig(), {}, {}, { store: await connect(prefix), instanceId: 'a' });
    try {
      expect(after.parts.directory.isSignedIn('101')).toBe(true);
      // The desk was away during the restart: its poll goes on with the same Guid, and nothing it missed is lost.
      const poll = await after.http('GET', `${BASE}/agentevent/101`, { guid });
      expect(poll.body.retcode).toBe('0');
      expect(poll.body.event?.eventType).toMatch(/^AgentState_/);
      expect((await after.http('PUT', `${BASE}/onlineagent/101`, { body: { password: 'pw101' } })).body.retcode).toBe('100-002');
    } finally {
      await after.stop();
    }
  });

  it('Redis away: a call in progress goes on, a sign-in gets 000-009; Redis back: sign-ins work again', async () => {
    const prefix = `outage${++prefixes}:`;
    const s: Service = await startService(testConfig(), {}, {}, { store: await connect(prefix), instanceId: 'a' });
    try {
      await s.signIn('101');
      expect((await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } })).body.retcode).toBe('0');
      await until(async () => (await s.phoneState('2001')) === 'ringing', 'A rings');
      s.sim.answer('2001');
      await until(async () => (await s.hears('5550100')).join() === '2001', 'A and B talk');

      await redis().stop();
      await until(() => !s.parts.store.available, 'the store sees Redis gone');
      const refused = await s.http('PUT', `${BASE}/onlineagent/102`, { body: { password: 'pw102' } });
      expect(refused.status).toBe(503);
      expect(refused.body.retcode).toBe('000-009');
      // The call goes on, and its parties still end it.
      expect(await s.hears('5550100')).toEqual(['2001']);
      s.sim.hangup('5550100');
      await until(() => s.orchestrator.activeCallCount() === 0, 'the call ended');

      await redis().start();
      await until(() => s.parts.store.available, 'the store back', 15000);
      await s.signIn('102');
    } finally {
      await s.stop();
      if (!s.parts.store.available) await redis().start().catch(() => undefined);
    }
  });
});
