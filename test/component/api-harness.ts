/**
 * Boots the whole service (config -> orchestrator on the simulated backend -> HTTP API) on 127.0.0.1 with a free
 * port, and offers small helpers to talk to it as an agent desktop and to play the simulated phones.
 */
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { AppDeps } from '../../src/api/context.js';
import { validateConfig, type AppConfig } from '../../src/config/config.js';
import type { Orchestrator, TimerSource } from '../../src/orchestrator/orchestrator.js';
import type { StateStore } from '../../src/ports/state-store.js';
import { assembleService, type Service as AssembledService } from '../../src/service.js';
import { SimBackend } from '../../src/telephony/sim/sim-backend.js';

export const BASE = '/agentgateway/resource';

export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return validateConfig({
    http: { port: 0, host: '127.0.0.1', bodyLimitBytes: 4096 },
    telephony: { backend: 'sim' },
    agents: [
      { workNo: '101', password: 'pw101', phone: '2001', skills: ['support'] },
      { workNo: '102', password: 'pw102', phone: '2002', skills: ['support'] },
      // The production form of a password: scrypt hash of "pw103".
      { workNo: '103', passwordHash: 'scrypt$c2FsdHNhbHRzYWx0c2FsdA==$bRDrWt8bp66pQAIHjvuXmVc1vFzS2MYNYEwshizrsL4=', phone: '2003', skills: ['support', 'billing'] },
    ],
    // 901 supervises the support skill (every agent); 902 only billing (agent 103).
    supervisors: [
      { id: '901', password: 'pw901', skills: ['support'] },
      { id: '902', password: 'pw902', skills: ['billing'] },
    ],
    routes: [
      { did: '4000', agent: '101' },
      { did: '4001', skill: 'support' },
    ],
    // Long enough that a loaded machine never lets a help request run out while a test answers it; the test of
    // the timeout sets its own.
    help: { answerTimeoutSeconds: 10 },
    routing: { offerTimeoutSeconds: 5, requeueSeconds: 5 },
    events: { pollTimeoutSeconds: 0.2, heartbeatTimeoutSeconds: 30, queueLimit: 100 },
    drachtio: { host: '127.0.0.1', port: 9022, secret: 'x' },
    freeswitch: { host: '127.0.0.1', port: 8021, secret: 'x', listenAddress: '127.0.0.1', listenPort: 8085, advertisedAddress: null },
    gateway: { uriTemplate: 'sip:{number}@127.0.0.1:5090' },
    log: { level: 'silent' },
    ...overrides,
  });
}

export interface Response {
  readonly status: number;
  readonly body: { message: string; retcode: string; result?: unknown; event?: { eventType: string; workNo: string; eventGenTime: number; content: unknown } | null };
  readonly headers: Headers;
}

export interface Service {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly sim: SimBackend;
  readonly orchestrator: Orchestrator;
  /** The assembled parts (cluster member, directory, store) for tests that look inside. */
  readonly parts: AssembledService;
  http(method: string, path: string, options?: { body?: unknown; raw?: string; guid?: string; contentType?: string }): Promise<Response>;
  signIn(workNo: string, password?: string): Promise<string>;
  /** A supervisor's sign-in (PUT /onlinesupervisor/{id}); the Guid. */
  signInSupervisor(id: string, password?: string): Promise<string>;
  /** Polls until an event of the type arrives for the agent (other events are kept in `seen`). */
  waitForEvent(workNo: string, guid: string, eventType: string): Promise<{ eventType: string; content: unknown }>;
  hears(number: string): Promise<string[]>;
  phoneState(number: string): Promise<string>;
  stop(): Promise<void>;
}

/** Timers and clock of the shell, when a test drives them itself (default: real ones). */
export interface ShellTime {
  readonly timers?: TimerSource;
  readonly now?: () => number;
}

/** Where the service stands among others (several instances on one store); default: alone, in memory. */
export interface ClusterPlace {
  readonly store?: StateStore;
  readonly instanceId?: string;
  readonly heartbeat?: { readonly everyMs: number; readonly ttlMs: number };
}

/** `extras`: what the real backend adds (server status, media telemetry), played by the test. */
export async function startService(
  config: AppConfig = testConfig(),
  extras: Pick<AppDeps, 'backendStatus' | 'mediaTelemetry' | 'clock' | 'passwordHasher'> = {},
  time: ShellTime = {},
  cluster: ClusterPlace = {},
  logger: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
): Promise<Service> {
  const sim = new SimBackend();
  const assembled = await assembleService(config, logger, { backend: sim, appExtras: extras, ...time, ...cluster });
  const { app, orchestrator } = assembled;
  const address = await assembled.listen(0);

  const http: Service['http'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    if (options.guid) headers.Guid = options.guid;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json;charset=UTF-8';
    const response = await fetch(`${address}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    return { status: response.status, body: JSON.parse(text) as Response['body'], headers: response.headers };
  };

  const service: Service = {
    url: address,
    parts: assembled,
    app,
    sim,
    orchestrator,
    http,
    async signIn(workNo, password = `pw${workNo}`) {
      const response = await http('PUT', `${BASE}/onlineagent/${workNo}`, { body: { password, phonenum: config.agents.find((a) => a.workNo === workNo)?.phone } });
      const guid = response.headers.get('set-guid');
      if (response.body.retcode !== '0' || !guid) throw new Error(`sign-in of ${workNo} failed: ${JSON.stringify(response.body)}`);
      return guid;
    },
    async signInSupervisor(id, password = `pw${id}`) {
      const response = await http('PUT', `${BASE}/onlinesupervisor/${id}`, { body: { password } });
      const guid = response.headers.get('set-guid');
      if (response.body.retcode !== '0' || !guid) throw new Error(`sign-in of supervisor ${id} failed: ${JSON.stringify(response.body)}`);
      return guid;
    },
    async waitForEvent(workNo, guid, eventType) {
      for (let i = 0; i < 50; i++) {
        const response = await http('GET', `${BASE}/agentevent/${workNo}`, { guid });
        const event = response.body.event;
        if (event && event.eventType === eventType) return event;
      }
      throw new Error(`no ${eventType} for ${workNo}`);
    },
    async hears(number) {
      await settle(orchestrator);
      return ((await http('GET', `/sim/phones/${number}`)).body.result as { hears: string[] }).hears;
    },
    async phoneState(number) {
      await settle(orchestrator);
      return ((await http('GET', `/sim/phones/${number}`)).body.result as { state: string }).state;
    },
    stop: () => assembled.close(),
  };
  return service;
}

async function settle(orchestrator: Orchestrator): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await orchestrator.settle();
  }
}

/** The customer on a call with agent A: a service with 101 (A) and 102 (C) signed in, B (5550100) called DID 4000,
 * A answered and talks with B. `alsoSignIn`: further agents to sign in first. */
export async function startWithCustomerTalking(
  config: AppConfig = testConfig(),
  alsoSignIn: readonly string[] = [],
): Promise<{ s: Service; guidA: string; guidC: string }> {
  const s = await startService(config);
  const guidA = await s.signIn('101');
  const guidC = await s.signIn('102');
  for (const workNo of alsoSignIn) await s.signIn(workNo);
  const call = await s.http('POST', '/sim/calls', { body: { from: '5550100', to: '4000' } });
  if (call.body.retcode !== '0') throw new Error(`the customer's call failed: ${JSON.stringify(call.body)}`);
  await s.waitForEvent('101', guidA, 'AgentEvent_Ringing');
  const answer = await s.http('PUT', `${BASE}/voicecall/101/answer`, { guid: guidA });
  if (answer.body.retcode !== '0') throw new Error(`A's answer failed: ${JSON.stringify(answer.body)}`);
  await s.waitForEvent('101', guidA, 'AgentEvent_Talking');
  return { s, guidA, guidC };
}
