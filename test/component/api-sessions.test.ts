/**
 * The agent API over real HTTP: sign-in, sessions, heartbeat, event delivery, and every kind of bad input, each
 * answered with the envelope, a retcode and the right HTTP status, while other calls go on.
 */
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MediaTelemetry } from '../../src/ports/media-telemetry.js';
import { BASE, startService, testConfig, type Service } from './api-harness.js';

let s: Service;
beforeEach(async () => {
  s = await startService();
});
afterEach(async () => {
  await s.stop();
});

describe('sign in and sessions', () => {
  it('sign-in returns a token in Set-GUID; the plain and the scrypt-hashed password both work', async () => {
    const r = await s.http('PUT', `${BASE}/onlineagent/101`, { body: { password: 'pw101', phonenum: '2001' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ retcode: '0', result: { workNo: '101', phonenum: '2001' } });
    expect(r.headers.get('set-guid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await s.signIn('103')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('wrong password and unknown agent get the same refusal', async () => {
    const wrong = await s.http('PUT', `${BASE}/onlineagent/101`, { body: { password: 'nope', phonenum: '2001' } });
    const unknown = await s.http('PUT', `${BASE}/onlineagent/555`, { body: { password: 'pw555', phonenum: '2001' } });
    const wrongHash = await s.http('PUT', `${BASE}/onlineagent/103`, { body: { password: 'pw101' } });
    for (const r of [wrong, unknown, wrongHash]) {
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ retcode: '100-001', result: null });
      expect(r.headers.get('set-guid')).toBeNull();
    }
  });

  it('a second sign-in is refused (100-002); forcelogin takes over and the old token goes stale (000-003)', async () => {
    const first = await s.signIn('101');
    expect((await s.http('PUT', `${BASE}/onlineagent/101`, { body: { password: 'pw101' } })).body.retcode).toBe('100-002');
    const forced = await s.http('PUT', `${BASE}/onlineagent/101/forcelogin`, { body: { password: 'pw101' } });
    expect(forced.body.retcode).toBe('0');
    const stale = await s.http('POST', `${BASE}/voicecall/101/hold`, { guid: first });
    expect(stale.status).toBe(401);
    expect(stale.body.retcode).toBe('000-003');
    const fresh = forced.headers.get('set-guid') as string;
    expect((await s.http('POST', `${BASE}/voicecall/101/hold`, { guid: fresh })).body.retcode).toBe('200-008');
  });

  it('a request without Guid: 000-003 when the agent is signed in, 100-006 when it is not', async () => {
    expect((await s.http('POST', `${BASE}/voicecall/102/hold`)).body.retcode).toBe('100-006');
    await s.signIn('102');
    const r = await s.http('POST', `${BASE}/voicecall/102/hold`);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ message: 'the Guid header is missing or stale: sign in again', retcode: '000-003', result: null });
  });

  it('an agent cannot act on another agent’s calls', async () => {
    const a = await s.signIn('101');
    await s.signIn('102');
    const r = await s.http('POST', `${BASE}/voicecall/102/innerhelp`, { guid: a, body: { dstaddress: '103' } });
    expect(r.status).toBe(403);
    expect(r.body.retcode).toBe('000-007');
  });

  it('logout is refused while on a call; forcelogout releases the call and signs out', async () => {
    const a = await s.signIn('101');
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    await s.http('POST', '/sim/phones/2001/answer');
    expect(await s.hears('5550100')).toEqual(['2001']);
    expect((await s.http('DELETE', `${BASE}/onlineagent/101/logout`, { guid: a })).body.retcode).toBe('100-007');
    expect((await s.http('DELETE', `${BASE}/onlineagent/101/forcelogout`, { guid: a })).body.retcode).toBe('0');
    expect(await s.phoneState('5550100')).toBe('idle');
    expect((await s.http('GET', '/health')).body).toMatchObject({ signedInAgents: 0 });
  });

  it('an agent that stops polling is signed out after the heartbeat time', async () => {
    await s.stop();
    s = await startService(testConfig({ events: { pollTimeoutSeconds: 0.1, heartbeatTimeoutSeconds: 0.3, queueLimit: 10 } }));
    const a = await s.signIn('101');
    await new Promise((r) => setTimeout(r, 500));
    const r = await s.http('GET', `${BASE}/agentevent/101`, { guid: a });
    expect(r.body.retcode).toBe('100-006');
    expect((await s.http('GET', '/health')).body).toMatchObject({ signedInAgents: 0 });
  });
});

describe('events', () => {
  it('the long poll returns an event at once when one waits, else null after the poll timeout', async () => {
    const a = await s.signIn('101');
    const started = Date.now();
    const empty = await s.http('GET', `${BASE}/agentevent/101`, { guid: a });
    expect(empty.body).toEqual({ message: '', retcode: '0', event: null });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    const r = await s.http('GET', `${BASE}/agentevent/101`, { guid: a });
    expect(r.body.event).toMatchObject({ eventType: 'AgentEvent_Ringing', workNo: '101', content: { caller: '5550100', called: '4000' } });
    expect(typeof r.body.event?.eventGenTime).toBe('number');
  });

  it('a WebSocket stream carries the same envelopes', async () => {
    const a = await s.signIn('101');
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}${BASE}/agentevent/101/stream?guid=${a}`);
    const messages: string[] = [];
    ws.on('message', (data: Buffer) => messages.push(data.toString()));
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    await s.http('POST', '/sim/phones/2001/answer');
    await s.hears('2001');
    await new Promise((r) => setTimeout(r, 50));
    ws.close();
    const events = messages.map((m) => JSON.parse(m) as { retcode: string; event: { eventType: string } });
    expect(events.map((e) => e.event.eventType)).toEqual(['AgentEvent_Ringing', 'AgentEvent_Talking']);
    expect(events[0]?.retcode).toBe('0');
  });

  it('a WebSocket without a valid Guid is refused', async () => {
    await s.signIn('101');
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}${BASE}/agentevent/101/stream?guid=wrong`);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });
});

describe('bad input never crashes the service nor touches other calls', () => {
  it('answers each kind of bad request with the envelope and a retcode, and the call in progress goes on', async () => {
    const a = await s.signIn('101');
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    await s.http('POST', '/sim/phones/2001/answer');
    const cases: [string, () => ReturnType<Service['http']>, number, string][] = [
      ['malformed JSON', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, raw: '{"dstaddress": ' }), 400, '000-001'],
      ['wrong type', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { dstaddress: '102', mode: 'three' } }), 400, '000-002'],
      ['missing field', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { mode: 1 } }), 400, '000-002'],
      ['object for a string', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { dstaddress: { $gt: '' } } }), 400, '000-002'],
      ['bad agent id', () => s.http('POST', `${BASE}/voicecall/abc/hold`, { guid: a }), 400, '000-002'],
      ['oversize body', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { dstaddress: '102', callappdata: 'x'.repeat(10_000) } }), 413, '000-005'],
      ['not JSON', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, raw: 'dstaddress=102', contentType: 'text/plain' }), 415, '000-008'],
      ['unknown interface', () => s.http('GET', `${BASE}/nothing`), 404, '000-004'],
      ['unknown helper', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { dstaddress: '999' } }), 200, '200-003'],
      ['helper not signed in', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { dstaddress: '102' } }), 200, '200-004'],
      ['asking oneself', () => s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { dstaddress: '101' } }), 200, '200-006'],
      ['dropping an unknown call', () => s.http('POST', `${BASE}/voicecall/101/dropcall/nope`, { guid: a }), 200, '200-008'],
      ['confjoin without help', () => s.http('POST', `${BASE}/voicecall/101/confjoin`, { guid: a, body: { callid: 'x' } }), 200, '200-011'],
      ['unknown sim phone', () => s.http('POST', '/sim/phones/777/answer'), 200, '300-001'],
      ['sim call to no route', () => s.http('POST', '/sim/calls', { body: { from: '5550200', to: '4999' } }), 200, '300-003'],
    ];
    for (const [what, send, status, retcode] of cases) {
      const r = await send();
      expect({ what, status: r.status, retcode: r.body.retcode }).toEqual({ what, status, retcode });
      expect(typeof r.body.message).toBe('string');
      expect(r.body.result ?? null).toBeNull();
    }
    expect(await s.hears('5550100')).toEqual(['2001']);
    expect((await s.http('GET', '/health')).body).toMatchObject({ status: 'ok', activeCalls: 1 });
  });
});

describe('operations', () => {
  it('serves /health, Prometheus /metrics and an OpenAPI description', async () => {
    expect((await s.http('GET', '/health')).body).toEqual({
      status: 'ok',
      backend: 'sim',
      instance: 'local',
      store: { kind: 'memory', available: true },
      activeCalls: 0,
      signedInAgents: 0,
      admission: { capacity: Number.MAX_SAFE_INTEGER, othersSessions: 0, reserved: 0, admittedCalls: 0, refused: { customer: 0, help: 0 } },
    });
    const a = await s.signIn('101');
    await s.signIn('102');
    await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
    await s.http('POST', '/sim/phones/2001/answer');
    await s.hears('2001');
    await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: a, body: { dstaddress: '102', mode: 2 } });
    await s.http('POST', '/sim/phones/2002/answer');
    await s.hears('2002');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain('help_sessions_total{mode="2",outcome="requested"} 1');
    expect(metrics).toContain('help_sessions_total{mode="2",outcome="answered"} 1');
    expect(metrics).toContain('calls_active 1');
    expect(metrics).toMatch(/api_request_duration_seconds_count\{method="POST",route="\/agentgateway\/resource\/voicecall\/:agentid\/innerhelp",status="200"\} 1/);
    const openapi = (await (await fetch(`${s.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(openapi.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.paths)).toContain('/agentgateway/resource/voicecall/{agentid}/innerhelp');
  });

  it('shows the reconciler in /health and the media server\'s timings and orphans in /metrics (real backend)', async () => {
    const effects = new Set<(op: string, ms: number, legId: string) => void>();
    const orphans = new Set<(o: { uuid: string; legId: string | null; callId: string | null }) => void>();
    let hungUp = 0;
    const telemetry: MediaTelemetry = {
      onEffect: (l) => (effects.add(l), () => effects.delete(l)),
      onOrphan: (l) => (orphans.add(l), () => orphans.delete(l)),
      report: () => ({ orphansHungUp: hungUp, staleRooms: 0, lastRunAt: '2026-12-01T10:00:00.000Z', lastError: null }),
    };
    const real = await startService(testConfig(), { backendStatus: () => ({ drachtio: true, freeswitch: false }), mediaTelemetry: telemetry });
    try {
      for (const l of effects) l('bridge', 12, 'leg-1');
      hungUp = 1;
      for (const l of orphans) l({ uuid: 'u1', legId: 'leg-2', callId: null });
      const health = await real.http('GET', '/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'degraded', servers: { freeswitch: false }, reconciler: { orphansHungUp: 1, lastError: null } });
      const metrics = await (await fetch(`${real.url}/metrics`)).text();
      expect(metrics).toContain('freeswitch_orphan_channels_total 1');
      expect(metrics).toContain('media_change_seconds_bucket{le="0.02",op="bridge"} 1');
      expect(metrics).toContain('media_change_seconds_bucket{le="0.01",op="bridge"} 0');
    } finally {
      await real.stop();
    }
  });
});
