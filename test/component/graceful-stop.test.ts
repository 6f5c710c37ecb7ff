/**
 * Stopping gracefully, in process (orchestrator + simulated backend + HTTP API): new calls refused with 503 and
 * Retry-After, calls in progress allowed to finish within their grace time and hung up after it, and a stop that
 * cannot finish cut short at the deadline. The same stop as a real process under SIGTERM is in restart.test.ts.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { stopGracefully, type ShutdownOptions } from '../../src/shutdown.js';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

const silent = pino({ level: 'silent' });
const options: ShutdownOptions = { timeoutMs: 10_000, idleTimeoutMs: 1000, callsGraceMs: 8000, retryAfterSeconds: 17, logger: silent, checkEveryMs: 10 };

/** A customer on DID 4000, answered by agent 101's phone (2001). */
async function customerTalkingTo101(service: Service): Promise<void> {
  await service.signIn('101');
  const placed = await service.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
  expect(placed.body.retcode).toBe('0');
  expect(await service.phoneState('2001')).toBe('ringing');
  await service.http('POST', '/sim/phones/2001/answer');
  expect(await service.hears('5550100')).toEqual(['2001']);
}

function stopOf(service: Service, overrides: Partial<ShutdownOptions> = {}) {
  return stopGracefully({ http: service.app, calls: service.orchestrator, signalling: service.sim.signalling }, { ...options, ...overrides });
}

describe('a graceful stop', () => {
  it('refuses new calls with 503 and Retry-After, and lets a call in progress finish by itself', async () => {
    const service = await startService(testConfig());
    await customerTalkingTo101(service);
    const stopping = stopOf(service);
    // A new customer call while the service stops: refused before any routing.
    expect(await service.sim.placeCustomerCall('5550111', '4001')).toEqual({ ok: false, status: 503, reason: 'the service is stopping', retryAfterSeconds: 17 });
    expect(service.orchestrator.activeCallCount()).toBe(1);
    // The call in progress goes on, and ends as its parties end it.
    expect(service.sim.phone('5550100')).toEqual({ state: 'talking', hears: ['2001'] });
    service.sim.hangup('5550100');
    const report = await stopping;
    expect(report).toMatchObject({ callsAtSignal: 1, callsHungUp: 0, completed: true });
    expect(service.sim.phone('2001').state).toBe('idle');
  });

  it('hangs up the calls still in progress when their grace time is over', async () => {
    const service = await startService(testConfig());
    await customerTalkingTo101(service);
    const report = await stopOf(service, { callsGraceMs: 100 });
    expect(report).toMatchObject({ callsAtSignal: 1, callsHungUp: 1, completed: true });
    expect(service.sim.phone('5550100').state).toBe('idle');
    expect(service.sim.phone('2001').state).toBe('idle');
  });

  it('answers a waiting long poll at once and refuses new requests', async () => {
    const service = await startService(testConfig({ events: { pollTimeoutSeconds: 30, heartbeatTimeoutSeconds: 60, queueLimit: 10 } }));
    const guid = await service.signIn('102');
    const poll = service.http('GET', `${BASE}/agentevent/102`, { guid });
    // The poll is waiting (30 s) when the stop begins; the stop completes only once it has been answered.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const report = await stopOf(service);
    const answered = await poll;
    expect(report).toMatchObject({ callsAtSignal: 0, completed: true });
    expect(answered.status).toBe(200);
    expect(answered.body).toEqual({ message: '', retcode: '0', event: null });
    expect(answered.headers.get('connection')).toBe('close');
    await expect(fetch(`${service.url}/health`)).rejects.toThrow();
  });

  it('gives up at the deadline when something does not close', async () => {
    const drained: number[] = [];
    const report = await stopGracefully(
      {
        http: { close: () => new Promise(() => undefined) },
        calls: { activeCallCount: () => 0, stop: async () => undefined },
        signalling: { drain: (seconds) => drained.push(seconds) },
      },
      { ...options, idleTimeoutMs: 50 },
    );
    expect(drained).toEqual([17]);
    expect(report).toMatchObject({ callsAtSignal: 0, completed: false });
  });

  it('reports a step that fails as not completed', async () => {
    const report = await stopGracefully(
      {
        http: { close: async () => undefined },
        calls: { activeCallCount: () => 0, stop: () => Promise.reject(new Error('media server gone')) },
        signalling: { drain: () => undefined },
      },
      options,
    );
    expect(report.completed).toBe(false);
  });
});
