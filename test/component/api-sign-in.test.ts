/**
 * Sign-in on the agent API: which phone an agent may take, and what repeated wrong passwords cost.
 */
import { request } from 'node:http';
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

/** A sign-in sent from another loopback address (another "source" to the throttle). */
function signInFrom(s: Service, localAddress: string, workNo: string, password: string): Promise<{ retcode: string; retryAfter: string | undefined }> {
  const { port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ password });
    const req = request(
      { host: '127.0.0.1', port, localAddress, method: 'PUT', path: `${BASE}/onlineagent/${workNo}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ retcode: (JSON.parse(text) as { retcode: string }).retcode, retryAfter: res.headers['retry-after'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('sign-in: wrong passwords (throttled per source address, no account lock)', () => {
  it("a stranger's wrong passwords never keep the agent out: its right password from its own address works at once, forcelogin too", async () => {
    service = await startService(testConfig({ signIn: { maxFailures: 3, lockSeconds: 300, maxDelaySeconds: 0.05, maxWaiting: 2 } }));
    for (let i = 0; i < 8; i++) expect(['100-001', '100-032']).toContain((await signInFrom(service, '127.0.0.2', '101', 'guess')).retcode);
    expect((await signIn(service, '101', 'pw101')).body.retcode).toBe('0');
    expect((await signIn(service, '101', 'pw101', undefined, true)).body.retcode).toBe('0');
  });

  it('slows the guessing address: past maxFailures its sign-ins wait, and more than maxWaiting at once are refused at once (100-032, Retry-After)', async () => {
    service = await startService(testConfig({ signIn: { maxFailures: 2, lockSeconds: 300, maxDelaySeconds: 2, maxWaiting: 1 } }));
    for (let i = 0; i < 3; i++) await signInFrom(service, '127.0.0.2', '102', 'guess');
    const answers = await Promise.all([1, 2, 3].map(() => signInFrom(service as Service, '127.0.0.2', '102', 'guess')));
    const refused = answers.filter((a) => a.retcode === '100-032');
    expect(refused).toHaveLength(2);
    for (const a of refused) expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    // The one let through was checked (and wrong), after its wait.
    expect(answers.filter((a) => a.retcode === '100-001')).toHaveLength(1);
  });

  it("an agent behind the guesser's own address waits its turn, and is let in with its right password", async () => {
    service = await startService(testConfig({ signIn: { maxFailures: 2, lockSeconds: 300, maxDelaySeconds: 0.05, maxWaiting: 2 } }));
    for (let i = 0; i < 5; i++) await signIn(service, '101', 'guess');
    expect((await signIn(service, '101', 'pw101')).body.retcode).toBe('0');
  });

  it('the same answer (100-001) for an unknown work number and a wrong password', async () => {
    service = await startService();
    expect((await signIn(service, '555', 'pw101')).body).toEqual((await signIn(service, '101', 'nope')).body);
  });
});
