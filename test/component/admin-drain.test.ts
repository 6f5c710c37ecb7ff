/** POST /admin/drain: the same stop as SIGTERM, asked by an operator on the host itself, refused from elsewhere. */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { assembleService, type Service } from '../../src/service.js';
import { SimBackend } from '../../src/telephony/sim/sim-backend.js';
import { testConfig } from './api-harness.js';

let service: Service | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

describe('the admin drain request', () => {
  it('starts the stop when asked from loopback, and is refused (403, 000-011) from another address', async () => {
    const asked: string[] = [];
    service = await assembleService(testConfig(), pino({ level: 'silent' }), { backend: new SimBackend(), requestStop: (why) => asked.push(why) });
    const away = await service.app.inject({ method: 'POST', url: '/admin/drain', remoteAddress: '192.0.2.7' });
    expect(away.statusCode).toBe(403);
    expect(away.json()).toMatchObject({ retcode: '000-011' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked).toEqual([]);
    const here = await service.app.inject({ method: 'POST', url: '/admin/drain', remoteAddress: '127.0.0.1' });
    expect(here.json()).toMatchObject({ retcode: '0', result: { instance: 'local', draining: true } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked).toEqual(['admin request']);
  });

  it('is not offered where nothing may stop the process (000-004)', async () => {
    service = await assembleService(testConfig(), pino({ level: 'silent' }), { backend: new SimBackend() });
    const answer = await service.app.inject({ method: 'POST', url: '/admin/drain', remoteAddress: '127.0.0.1' });
    expect(answer.json()).toMatchObject({ retcode: '000-004' });
  });
});
