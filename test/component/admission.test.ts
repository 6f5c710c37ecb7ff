/**
 * Admission control (issue 21) through the whole service on the simulator: the media servers' capacity is set on
 * the simulated backend; a customer call that does not fit gets 503 with Retry-After before any phone rings; an
 * admitted call's help session always fits (its helper's session is reserved); when the servers lose room, a help
 * request gets 200-030 and B stays with A. Refusals are in /health and /metrics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SESSIONS_PER_CALL } from '../../src/core/media-servers.js';
import { BASE, startService, type Service } from './api-harness.js';

let s: Service;
afterEach(async () => {
  await s?.stop();
});

async function talking(from: string, guid: string): Promise<void> {
  expect((await s.http('POST', '/sim/calls', { body: { from, to: '4000' } })).body.retcode).toBe('0');
  await s.waitForEvent('101', guid, 'AgentEvent_Ringing');
  expect((await s.http('PUT', `${BASE}/voicecall/101/answer`, { guid })).body.retcode).toBe('0');
  await s.waitForEvent('101', guid, 'AgentEvent_Talking');
}

describe('admission control', () => {
  it('a customer call over capacity gets 503 with Retry-After before any phone rings; counted in /health and /metrics', async () => {
    s = await startService();
    const guidA = await s.signIn('101');
    await s.signIn('102');
    // Room for one call (its three sessions) and not two.
    s.sim.mediaSessionLimit = SESSIONS_PER_CALL * 2 - 1;
    await talking('5550100', guidA);
    const placed = await s.sim.placeCustomerCall('5550101', '4001');
    expect(placed).toEqual({ ok: false, status: 503, reason: 'Service Unavailable', retryAfterSeconds: 5 });
    expect(s.sim.phone('2002').state).toBe('idle');
    const health = await s.http('GET', '/health');
    expect(health.body).toMatchObject({ admission: { capacity: 5, reserved: 3, admittedCalls: 1, refused: { customer: 1, help: 0 } } });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/admission_refusals_total\{kind="customer",why="over-capacity"\} 1/);
  });

  it('an admitted call always has room for its help session, even when the servers are otherwise full', async () => {
    s = await startService();
    const guidA = await s.signIn('101');
    const guidC = await s.signIn('102');
    s.sim.mediaSessionLimit = SESSIONS_PER_CALL;
    await talking('5550100', guidA);
    expect((await s.sim.placeCustomerCall('5550101', '4001')).ok).toBe(false);
    const r = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', devicetype: 2, mode: 1, callappdata: '' } });
    expect(r.body.retcode).toBe('0');
    await s.waitForEvent('102', guidC, 'AgentEvent_Ringing');
  });

  it('the servers lost room (one died): a help request gets 200-030 and B stays with A', async () => {
    s = await startService();
    const guidA = await s.signIn('101');
    await s.signIn('102');
    await talking('5550100', guidA);
    s.sim.mediaSessionLimit = 2;
    const r = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', devicetype: 2, mode: 1, callappdata: '' } });
    expect(r.status).toBe(200);
    expect(r.body.retcode).toBe('200-030');
    expect(await s.hears('5550100')).toEqual(['2001']);
    expect(s.sim.phone('2002').state).toBe('idle');
    expect((await s.http('GET', '/health')).body).toMatchObject({ admission: { refused: { customer: 0, help: 1 } } });
  });

  it('a call that ends gives its reservation back', async () => {
    s = await startService();
    const guidA = await s.signIn('101');
    s.sim.mediaSessionLimit = SESSIONS_PER_CALL;
    await talking('5550100', guidA);
    s.sim.hangup('5550100');
    await s.waitForEvent('101', guidA, 'AgentEvent_Call_Release');
    expect((await s.http('GET', '/health')).body).toMatchObject({ admission: { reserved: 0, admittedCalls: 0 } });
    await talking('5550102', guidA);
  });
});
