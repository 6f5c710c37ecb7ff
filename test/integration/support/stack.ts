/**
 * The service on the real backend, for the integration suite: drachtio-server and FreeSWITCH must be running
 * (INTEGRATION_* variables), agents' phones are SIPp processes on 127.0.0.1, and FreeSWITCH is asked directly
 * (its event socket) who is bridged to whom and who is in which room.
 */
import { SupervisionShell } from '../../../src/orchestrator/supervision-shell.js';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AgentDirectory } from '../../../src/orchestrator/agent-directory.js';
import type { Reply } from '../../../src/core/types.js';
import type { TimedAgentEvent } from '../../../src/orchestrator/call-control.js';
import { Orchestrator, type RouteEntry } from '../../../src/orchestrator/orchestrator.js';
import { DrachtioBackend, type DrachtioBackendOptions } from '../../../src/telephony/drachtio/backend.js';
import { readWav } from './audio.js';
import { freeswitchApi } from './freeswitch.js';
import type { SippPhone } from './sipp.js';

export interface IntegrationEnv {
  readonly drachtio: { host: string; port: number; secret: string };
  readonly freeswitch: { host: string; port: number; secret: string; listenAddress: string; listenPort: number };
  /** Where drachtio-server takes SIP from phones. */
  readonly sipPort: number;
}

/** The environment, or why the suite cannot run. */
export function integrationEnv(env: NodeJS.ProcessEnv = process.env): IntegrationEnv | string {
  const drachtioHost = env.INTEGRATION_DRACHTIO_HOST;
  const fsHost = env.INTEGRATION_FREESWITCH_HOST;
  if (!drachtioHost || !fsHost) {
    return 'INTEGRATION_DRACHTIO_HOST and INTEGRATION_FREESWITCH_HOST are not set (start drachtio-server and FreeSWITCH, e.g. with docker-compose, then set them; see docs/telephony.md)';
  }
  return {
    drachtio: { host: drachtioHost, port: Number(env.INTEGRATION_DRACHTIO_PORT ?? 9022), secret: env.INTEGRATION_DRACHTIO_SECRET ?? 'cymru' },
    freeswitch: {
      host: fsHost,
      port: Number(env.INTEGRATION_FREESWITCH_PORT ?? 8021),
      secret: env.INTEGRATION_FREESWITCH_SECRET ?? 'ClueCon',
      listenAddress: env.INTEGRATION_LISTEN_ADDRESS ?? '127.0.0.1',
      listenPort: Number(env.INTEGRATION_LISTEN_PORT ?? 8085),
    },
    sipPort: Number(env.INTEGRATION_SIP_PORT ?? 5060),
  };
}

/**
 * The agents' SIPp phones. Each test moves them to fresh ports (`portShift`), so a phone of the previous test, or
 * a late retransmission to it, never meets the next test's phone on the same port.
 */
export const portShift = { value: 0 };

export const AGENTS = [
  { workNo: '101', phone: '2001', sipPort: 5071, rtpPort: 16000 },
  { workNo: '102', phone: '2002', sipPort: 5072, rtpPort: 16010 },
  { workNo: '103', phone: '2003', sipPort: 5073, rtpPort: 16020 },
];

export interface Stack {
  readonly backend: DrachtioBackend;
  readonly orchestrator: Orchestrator;
  /** Supervisors on live calls (monitor, coach, barge). */
  readonly supervision: SupervisionShell;
  readonly directory: AgentDirectory;
  readonly events: TimedAgentEvent[];
  /** How long each media change took to show on FreeSWITCH (from its events), in the order they happened. */
  readonly effects: { op: string; ms: number }[];
  waitFor(predicate: (e: TimedAgentEvent) => boolean, what: string, ms?: number): Promise<TimedAgentEvent>;
  /** The FreeSWITCH channel of the phone's current leg. */
  channelOfPhone(number: string): string | undefined;
  /** Runs an API command on FreeSWITCH's event socket. */
  fsApi(command: string): Promise<string>;
  /** Records, on FreeSWITCH, what it sends to the phone for `ms` (FreeSWITCH must share this machine's /tmp). */
  recordHeard(number: string, ms: number): Promise<Int16Array>;
  stop(): Promise<void>;
}

export interface StackOptions {
  readonly helpAnswerTimeoutSeconds?: number;
  /** Agents and where their phones are (default: AGENTS, at their SIPp ports moved by portShift). */
  readonly agents?: readonly { workNo: string; phone: string }[];
  contactFor?(phone: string): string | undefined;
  readonly routes?: readonly RouteEntry[];
  /** Where FreeSWITCH connects back for fsmrf's per-channel sockets (each test file has its own). */
  readonly listenPort?: number;
  /** FreeSWITCH's media timeout for the stack's channels (ms); only for phones that really send RTP. */
  readonly mediaSilenceTimeoutMs?: number;
  /** Handsets that register with digest. */
  readonly registrar?: DrachtioBackendOptions['registrar'];
  /** Several FreeSWITCH servers (the first is env.freeswitch's): see media-servers.test.ts. */
  readonly freeswitchServers?: DrachtioBackendOptions['freeswitch']['servers'];
}

export async function startStack(env: IntegrationEnv, options: StackOptions = {}): Promise<Stack> {
  const recordDir = mkdtempSync(join(tmpdir(), 'heard-'));
  const logger = pino({ level: process.env.INTEGRATION_LOG_LEVEL ?? 'warn' });
  const agents = options.agents ?? AGENTS;
  const effects: { op: string; ms: number }[] = [];
  const backend = new DrachtioBackend({
    drachtio: env.drachtio,
    freeswitch: { ...env.freeswitch, ...(options.listenPort ? { listenPort: options.listenPort } : {}), ...(options.freeswitchServers ? { servers: options.freeswitchServers } : {}) },
    contactFor:
      options.contactFor ??
      ((number) => {
        const agent = AGENTS.find((a) => a.phone === number);
        return agent ? `sip:${number}@127.0.0.1:${agent.sipPort + portShift.value}` : undefined;
      }),
    logger,
    operationTimeoutMs: 4000,
    owner: 'integration',
    // The suite checks for leftovers itself: the reconciler would hide them.
    reconcileIntervalMs: 0,
    ...(options.mediaSilenceTimeoutMs !== undefined ? { mediaSilenceTimeoutMs: options.mediaSilenceTimeoutMs } : {}),
    ...(options.registrar ? { registrar: options.registrar } : {}),
  });
  backend.telemetry.onEffect((op, ms) => effects.push({ op, ms }));
  const directory = new AgentDirectory(agents.map((a) => ({ workNo: a.workNo, phone: a.phone, skills: ['support'] })));
  // Supervisors on live calls (issue 20): the shell sees the calls' media and the supervisors' phones first.
  const calls: { orchestrator?: Orchestrator } = {};
  const supervision = new SupervisionShell({
    signalling: backend.signalling,
    media: backend.media,
    supervisionMedia: backend.supervision,
    logger,
    callState: (callId) => calls.orchestrator?.callState(callId),
    callOfLeg: (legId) => calls.orchestrator?.callOfLegId(legId),
  });
  const orchestrator = new Orchestrator({
    backend: supervision.wrapBackend(backend),
    directory,
    routes: options.routes ?? [
      { did: '4000', route: { kind: 'agent', workNo: '101' } },
      { did: '4001', route: { kind: 'skill', skill: 'support' } },
    ],
    core: { helpAnswerTimeoutSeconds: options.helpAnswerTimeoutSeconds ?? 5, offerAnswerTimeoutSeconds: 10, requeueSeconds: 10 },
    logger,
  });
  calls.orchestrator = orchestrator;
  orchestrator.onCallDecided((state) => supervision.callDecided(state));
  backend.setCallLookup({ callOfLeg: (legId) => supervision.callOfLeg(legId) ?? orchestrator.callOfLegId(legId), legsOfCall: (callId) => orchestrator.legsOfCall(callId) });
  await orchestrator.start();
  for (const a of agents) directory.signIn(a.workNo);
  const events: TimedAgentEvent[] = [];
  orchestrator.onAgentEvent((e) => events.push(e));

  const started = Date.now();
  while (!(backend.connected.drachtio && backend.connected.freeswitch)) {
    if (Date.now() - started > 15_000) throw new Error(`servers not reachable: ${JSON.stringify(backend.connected)}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  // A separate inbound event-socket connection for checks (not the service's own).
  const fs = freeswitchApi(env.freeswitch);
  const fsApi = fs.api;

  const stack: Stack = {
    backend,
    orchestrator,
    supervision,
    directory,
    events,
    effects,
    async waitFor(predicate, what, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const found = events.find(predicate);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events.map((e) => [e.workNo, e.eventType]))}`);
    },
    channelOfPhone(number) {
      for (const state of orchestrator.callStates()) {
        for (const leg of Object.values(state.legs)) if (leg.number === number && leg.status === 'up') return backend.channelOf(leg.id);
      }
      const supervisorLeg = supervision.legOfPhone(number);
      return supervisorLeg === undefined ? undefined : backend.channelOf(supervisorLeg);
    },
    fsApi,
    async recordHeard(number, ms) {
      const uuid = stack.channelOfPhone(number);
      if (!uuid) throw new Error(`${number} has no channel`);
      await stack.fsApi(`uuid_setvar ${uuid} RECORD_WRITE_ONLY true`);
      // A recording started while uuid_bridge is still moving the channel can be lost: then record again.
      for (let attempt = 1; ; attempt++) {
        const path = join(recordDir, `heard-${number}-${Date.now()}.wav`);
        const started = await stack.fsApi(`uuid_record ${uuid} start ${path}`);
        if (!started.startsWith('+OK')) throw new Error(`uuid_record: ${started}`);
        await new Promise((r) => setTimeout(r, ms));
        await stack.fsApi(`uuid_record ${uuid} stop ${path}`);
        await new Promise((r) => setTimeout(r, 200));
        if (existsSync(path) || attempt === 3) return readWav(path);
      }
    },
    async stop() {
      await orchestrator.stop();
      await fs.close();
    },
  };
  return stack;
}


/** What FreeSWITCH says a channel is doing: bridged to which channel, in which room, playing what. */
export async function channelState(stack: Stack, uuid: string): Promise<{ bridgedTo: string | null; room: string | null; app: string | null; appData: string | null }> {
  const get = async (name: string): Promise<string | null> => {
    const value = (await stack.fsApi(`uuid_getvar ${uuid} ${name}`)).trim();
    return value === '' || value === '_undef_' || value.startsWith('-ERR') ? null : value;
  };
  return { bridgedTo: await get('bridge_uuid'), room: await get('conference_name'), app: await get('current_application'), appData: await get('current_application_data') };
}

/**
 * After a test: its SIPp phones stopped and gone (the next test's phones may reuse their ports), and whatever call
 * its agents are still on released, so every test starts from a quiet system.
 */
export async function clearAfterTest(stack: Stack, phones: SippPhone[], workNos: readonly string[]): Promise<void> {
  const leaving = phones.splice(0);
  for (const p of leaving) p.stop();
  await Promise.all(leaving.map((p) => p.done));
  for (const workNo of workNos) await stack.orchestrator.request({ kind: 'release', workNo });
}

/** Waits (5 s at most) until FreeSWITCH says the two phones' channels are bridged to each other. */
export async function expectBridgedOn(stack: Stack, x: string, y: string): Promise<void> {
  const deadline = Date.now() + 5000;
  let last = '';
  while (Date.now() < deadline) {
    const [cx, cy] = [stack.channelOfPhone(x), stack.channelOfPhone(y)];
    if (cx && cy) {
      const [sx, sy] = [await channelState(stack, cx), await channelState(stack, cy)];
      if (sx.bridgedTo === cy && sy.bridgedTo === cx) return;
      last = JSON.stringify({ [x]: sx, [y]: sy });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${x} and ${y} are not bridged on FreeSWITCH: ${last}`);
}

/** A reply's result, or the test fails with the refusal's code and message. */
export function ok(reply: Reply): string {
  if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
  return reply.result ?? '';
}

/** `since()` marks the events so far; `waitEvent(mark, workNo, type)` waits for that agent event after the mark. */
export function eventWaiters(current: () => Stack): {
  since(): number;
  waitEvent(from: number, workNo: string, type: string): Promise<TimedAgentEvent>;
} {
  return {
    since: () => current().events.length,
    waitEvent: (from, workNo, type) => {
      const stack = current();
      return stack.waitFor((e) => stack.events.indexOf(e) >= from && e.workNo === workNo && e.eventType === type, `${type} for ${workNo}`);
    },
  };
}
