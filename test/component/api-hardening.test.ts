/**
 * What strangers and careless clients cannot do to the API (issue 20, hardening): each test here failed on the
 * service before the change it checks.
 */
import { Writable } from 'node:stream';
import { connect } from 'node:net';
import pino from 'pino';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { scryptHasher, type PasswordHasher } from '../../src/api/passwords.js';
import { until } from '../support/until.js';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

let s: Service | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

function socketOf(service: Service, workNo: string, guid: string): { ws: WebSocket; closed: Promise<{ code: number; reason: string }>; opened: Promise<void> } {
  const ws = new WebSocket(`${service.url.replace('http', 'ws')}${BASE}/agentevent/${workNo}/stream?guid=${guid}`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  return { ws, closed, opened };
}

/** Raw bytes to the port: what a browser or fetch would never send. */
function raw(service: Service, text: string): Promise<string> {
  const { port } = new URL(service.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('password checks: the same work for every work number, off the event loop', () => {
  it('one scrypt for an unknown number, a plain and a hashed password alike', async () => {
    const keyLengths: string[] = [];
    const counting: PasswordHasher = async (password, salt, keyLength) => {
      keyLengths.push(`${keyLength}`);
      return scryptHasher(password, salt, keyLength);
    };
    s = await startService(testConfig(), { passwordHasher: counting });
    for (const agent of ['555', '101', '103']) {
      expect((await s.http('PUT', `${BASE}/onlineagent/${agent}`, { body: { password: 'wrong' } })).body.retcode).toBe('100-001');
    }
    expect(keyLengths).toEqual(['32', '32', '32']);
  });

  it('the service answers other requests while a password is being hashed', async () => {
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const hashing = new Promise<void>((resolve) => (started = resolve));
    const held: PasswordHasher = async (password, salt, keyLength) => {
      started();
      await new Promise<void>((resolve) => (release = resolve));
      return scryptHasher(password, salt, keyLength);
    };
    s = await startService(testConfig(), { passwordHasher: held });
    const signIn = s.http('PUT', `${BASE}/onlineagent/103`, { body: { password: 'pw103' } });
    await hashing;
    // The hash has not finished: the event loop is free, /health answers.
    expect((await s.http('GET', '/health')).status).toBe(200);
    release();
    expect((await signIn).body.retcode).toBe('0');
  });
});

describe('WebSocket: closed with a 4xxx code and a reason when the session ends', () => {
  it('sign-out: 4001', async () => {
    s = await startService();
    const guid = await s.signIn('101');
    const socket = socketOf(s, '101', guid);
    await socket.opened;
    expect((await s.http('DELETE', `${BASE}/onlineagent/101/logout`, { guid })).body.retcode).toBe('0');
    expect(await socket.closed).toEqual({ code: 4001, reason: 'signed out' });
  });

  it('takeover by forcelogin: 4002', async () => {
    s = await startService();
    const guid = await s.signIn('101');
    const socket = socketOf(s, '101', guid);
    await socket.opened;
    expect((await s.http('PUT', `${BASE}/onlineagent/101/forcelogin`, { body: { password: 'pw101' } })).body.retcode).toBe('0');
    expect(await socket.closed).toEqual({ code: 4002, reason: 'taken over by another sign-in' });
  });

  it('a stale Guid: the handshake itself is refused (401), no socket is left open', async () => {
    s = await startService();
    const guid = await s.signIn('101');
    await s.http('PUT', `${BASE}/onlineagent/101/forcelogin`, { body: { password: 'pw101' } });
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}${BASE}/agentevent/101/stream?guid=${guid}`);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)));
    expect(status).toBe(401);
    ws.on('error', () => undefined);
    ws.terminate();
  });
});

describe('heartbeat: never signed out under a call', () => {
  it('an agent on a call whose desk stops polling stays signed in; when it comes back the desk is told why', async () => {
    s = await startService(testConfig({ events: { pollTimeoutSeconds: 0.1, heartbeatTimeoutSeconds: 0.3, queueLimit: 50 } }));
    const guid = await s.signIn('101');
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    await s.http('POST', '/sim/phones/2001/answer');
    expect(await s.hears('5550100')).toEqual(['2001']);
    // The desk is away (no poll); the heartbeat runs out at least once meanwhile: the kept event is its trace.
    await until(async () => (await s?.parts.store.lastEventId('101')) !== undefined && (await s!.parts.store.eventsAfter('101', '0', 100)).some((e) => (e.event as { eventType: string }).eventType === 'AgentState_KeptSignedIn'), 'the heartbeat ran out', 5000);
    const kept = await s.waitForEvent('101', guid, 'AgentState_KeptSignedIn');
    expect(kept.content).toMatchObject({ reason: 'on a call' });
    expect(await s.hears('5550100')).toEqual(['2001']);
    expect((await s.http('GET', `${BASE}/onlineagent/101/agentstatus`, { guid })).body.retcode).toBe('0');
  });
});

describe('long polls: a cap per agent', () => {
  it('past events.maxWaitingPolls the oldest waiting poll is answered at once (event null)', async () => {
    s = await startService(testConfig({ events: { pollTimeoutSeconds: 30, heartbeatTimeoutSeconds: 60, queueLimit: 50, maxWaitingPolls: 2 } }));
    const guid = await s.signIn('101');
    const polls = Array.from({ length: 6 }, () => s!.http('GET', `${BASE}/agentevent/101`, { guid }));
    // Four of six come back without waiting for the 30 s poll timeout; two stay waiting.
    const settled: unknown[] = [];
    for (const p of polls) void p.then((r) => settled.push(r.body.event));
    await until(() => settled.length >= 4, 'four polls answered');
    expect(settled.slice(0, 4)).toEqual([null, null, null, null]);
    expect(s.parts.app.hasRoute({ method: 'GET', url: `${BASE}/agentevent/:agentid` })).toBe(true);
    // An event now reaches a poll that still waits.
    await s.http('POST', `${BASE}/onlineagent/101/saybusy`, { guid });
    await until(() => settled.length >= 5, 'a waiting poll gets the event');
  });
});

describe('the Guid: in the WebSocket handshake only, and never in a log line', () => {
  it('?guid= on a REST route is not a session', async () => {
    s = await startService();
    const guid = await s.signIn('101');
    const r = await s.http('GET', `${BASE}/onlineagent/101/agentstatus?guid=${guid}`);
    expect([r.status, r.body.retcode]).toEqual([401, '000-003']);
  });

  it('no log line holds a Guid, whatever the request (handshake, bad URL, errors)', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    s = await startService(testConfig({ log: { level: 'trace' } }), {}, {}, {}, pino({ level: 'trace' }, sink));
    const guid = await s.signIn('101');
    const socket = socketOf(s, '101', guid);
    await socket.opened;
    socket.ws.close();
    await s.http('GET', `${BASE}/onlineagent/101/agentstatus?guid=${guid}`);
    await s.http('GET', `${BASE}/agentevent/101?guid=${guid}&after=bad`, { guid });
    await raw(s, `GET /%E0%A4%A?guid=${guid} HTTP/1.1\r\nHost: x\r\nGuid: ${guid}\r\n\r\n`);
    await s.http('DELETE', `${BASE}/onlineagent/101/logout`, { guid });
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((l) => l.includes(guid))).toEqual([]);
  });
});

describe('every answer in the envelope, with security headers', () => {
  it('a malformed URL: 400 000-013 in the envelope', async () => {
    s = await startService();
    const answer = await raw(s, 'GET /agentgateway/resource/onlineagent/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ retcode: '000-013', result: null });
  });

  it('over-long headers: 431 000-014 in the envelope', async () => {
    s = await startService();
    const answer = await raw(s, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 431/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ retcode: '000-014', result: null });
  });

  it('garbage instead of HTTP: 400 in the envelope', async () => {
    s = await startService();
    const answer = await raw(s, 'HELLO\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ retcode: '000-013' });
  });

  it('pages and API answers carry CSP, X-Frame-Options, X-Content-Type-Options and Referrer-Policy', async () => {
    s = await startService();
    for (const path of ['/desk', '/wall', '/play', `${BASE}/agentgroup/901/agents`, '/health', '/nowhere']) {
      const r = await fetch(`${s.url}${path}`);
      expect(r.headers.get('content-security-policy'), path).toContain("default-src 'self'");
      expect(r.headers.get('content-security-policy'), path).toContain("frame-ancestors 'self'");
      expect(r.headers.get('x-frame-options'), path).toBe('SAMEORIGIN');
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(r.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });
});

describe('/play and /sim: simulator only, no password anywhere', () => {
  it('the play page holds no password of the configuration, in its text or its addresses', async () => {
    s = await startService(testConfig({ supervisors: [{ id: '901', password: 'sup-secret-901', skills: ['support'], groups: [] }] }));
    const page = await (await fetch(`${s.url}/play`)).text();
    expect(page).toContain('<iframe');
    for (const secret of ['pw101', 'pw102', 'sup-secret-901', 'password=']) expect(page).not.toContain(secret);
  });
});
