/**
 * Sign-in on the agent API: which phone an agent may take, and what repeated wrong passwords cost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

let service: Service | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

const signIn = (s: Service, workNo: string, password: string, phonenum?: string, force = false) =>
  s.http('PUT', `${BASE}/onlineagent/${workNo}${force ? '/forcelogin' : ''}`, { body: { password, ...(phonenum !== undefined ? { phonenum } : {}) } });

describe('sign-in: phones', () => {
  it('refuses a phone that exists nowhere in the configuration (100-030), and takes a configured handset', async () => {
    service = await startService(testConfig({ phones: [{ number: '2050', password: 'handset-secret' }] }));
    expect((await signIn(service, '101', 'pw101', '9999')).body.retcode).toBe('100-030');
    const ok = await signIn(service, '101', 'pw101', '2050');
    expect(ok.body.retcode).toBe('0');
    expect(ok.body.result).toEqual({ workNo: '101', phonenum: '2050' });
  });

  it("refuses another signed-in agent's phone (100-031), also by forcelogin; free again once that agent signs out", async () => {
    service = await startService();
    const guid101 = await service.signIn('101');
    expect((await signIn(service, '102', 'pw102', '2001')).body.retcode).toBe('100-031');
    expect((await signIn(service, '102', 'pw102', '2001', true)).body.retcode).toBe('100-031');
    // 101 itself may sign in again on its own phone by forcelogin.
    expect((await signIn(service, '101', 'pw101', '2001', true)).body.retcode).toBe('0');
    expect((await service.http('GET', `${BASE}/agentevent/101`, { guid: guid101 })).body.retcode).toBe('000-003');
    const again = await signIn(service, '101', 'pw101', '2001', true);
    const guid = again.headers.get('set-guid') ?? '';
    expect((await service.http('DELETE', `${BASE}/onlineagent/101/logout`, { guid })).body.retcode).toBe('0');
    expect((await signIn(service, '102', 'pw102', '2001')).body.retcode).toBe('0');
  });
});

describe('sign-in: wrong passwords', () => {
  it('locks the account after maxFailures wrong passwords, also against the right one, until lockSeconds have passed', async () => {
    let now = 1_000_000;
    service = await startService(testConfig({ signIn: { maxFailures: 3, lockSeconds: 60 } }), { clock: () => now });
    for (let i = 0; i < 3; i++) expect((await signIn(service, '101', 'wrong')).body.retcode).toBe('100-001');
    expect((await signIn(service, '101', 'pw101')).body.retcode).toBe('100-032');
    // Other agents are not affected.
    expect((await signIn(service, '102', 'pw102')).body.retcode).toBe('0');
    now += 59_000;
    expect((await signIn(service, '101', 'pw101')).body.retcode).toBe('100-032');
    now += 2_000;
    expect((await signIn(service, '101', 'pw101')).body.retcode).toBe('0');
  });

  it('counts wrong passwords in a row only: a success starts the count again', async () => {
    service = await startService(testConfig({ signIn: { maxFailures: 3, lockSeconds: 60 } }), { clock: () => 5_000 });
    for (let i = 0; i < 2; i++) await signIn(service, '101', 'wrong');
    const ok = await signIn(service, '101', 'pw101');
    expect(ok.body.retcode).toBe('0');
    await service.http('DELETE', `${BASE}/onlineagent/101/logout`, { guid: ok.headers.get('set-guid') ?? '' });
    for (let i = 0; i < 2; i++) await signIn(service, '101', 'wrong');
    expect((await signIn(service, '101', 'pw101')).body.retcode).toBe('0');
  });
});
