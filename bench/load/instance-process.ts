/**
 * The service's instances for `npm run load -- --sim`, each in a process of its own (the default; `--in-process`
 * runs them in the driver's process as before): the figures then measure the service, not the driver's phones
 * and desks sharing its event loop. The parent (`startInstanceProcesses`) forks this file once per instance
 * (`node --import tsx`, plus LOAD_INSTANCE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), tells it
 * what to start over IPC, and at the end asks for what it collected: the time it spent on the timed routes
 * (Fastify's elapsedTime), the keys of the agent events it made (to tell events made on another instance), and
 * what it logged at warn or above. Run as a child only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { StateStore } from '../../src/ports/state-store.js';
import { assembleService } from '../../src/service.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { SimBackend } from '../../src/telephony/sim/sim-backend.js';
import { simConfig } from './sim-service.js';

interface StartMessage {
  readonly kind: 'start';
  readonly instanceId: string;
  readonly overrides: Record<string, unknown>;
  readonly redisUrl?: string;
  readonly prefix: string;
  readonly timedRoutes: readonly string[];
  /** Keep the keys of the agent events this instance makes. */
  readonly keepEventKeys: boolean;
}

export interface Collected {
  /** "METHOD route" -> elapsed ms of each request. */
  readonly times: Record<string, number[]>;
  readonly eventKeys: string[];
  readonly logged: Record<string, number>;
}

type ToChild = StartMessage | { readonly kind: 'collect' } | { readonly kind: 'stop' };
type ToParent = { readonly kind: 'started'; readonly url: string } | { readonly kind: 'failed'; readonly error: string } | ({ readonly kind: 'collected' } & Collected) | { readonly kind: 'stopped' };

/** How an event is recognised across processes: agent, type, eventGenTime and content. */
export function eventKey(e: { readonly workNo: string; readonly eventType: string; readonly eventGenTime?: number | undefined; readonly content: unknown }): string {
  return `${e.workNo}|${e.eventType}|${e.eventGenTime}|${JSON.stringify(e.content)}`;
}

export interface InstanceProcess {
  readonly instanceId: string;
  readonly url: string;
  readonly child: ChildProcess;
  collect(): Promise<Collected>;
  stop(): Promise<void>;
}

function request<T extends ToParent['kind']>(child: ChildProcess, message: ToChild, answer: T): Promise<Extract<ToParent, { kind: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ToParent): void => {
      if (m.kind === answer) {
        cleanup();
        resolve(m as Extract<ToParent, { kind: T }>);
      } else if (m.kind === 'failed') {
        cleanup();
        reject(new Error(m.error));
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`instance process exited (${code}) before "${answer}"`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message);
  });
}

/** Forks one process per instance (ids load-1, load-2, ...) on Redis at `redisUrl` (else: one instance, memory). */
export async function startInstanceProcesses(
  overrides: Record<string, unknown>,
  options: { readonly count: number; readonly redisUrl?: string; readonly timedRoutes: readonly string[] },
): Promise<InstanceProcess[]> {
  if (options.count > 1 && !options.redisUrl) throw new Error('several instance processes need Redis (--redis or --redis-url)');
  const prefix = `load-${process.pid}-${Date.now()}:`;
  const extra = (process.env.LOAD_INSTANCE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const started: InstanceProcess[] = [];
  try {
    for (let i = 1; i <= options.count; i++) {
      const instanceId = `load-${i}`;
      const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx', ...extra], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const { url } = await request(
        child,
        { kind: 'start', instanceId, overrides, prefix, timedRoutes: options.timedRoutes, keepEventKeys: i < options.count, ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}) },
        'started',
      );
      started.push({
        instanceId,
        url,
        child,
        collect: async () => {
          const { kind: _kind, ...collected } = await request(child, { kind: 'collect' }, 'collected');
          return collected;
        },
        stop: async () => {
          if (child.exitCode === null) await request(child, { kind: 'stop' }, 'stopped').catch(() => undefined);
          await exited;
        },
      });
    }
  } catch (error) {
    for (const s of started.reverse()) await s.stop();
    throw error;
  }
  return started;
}

/* ------------------------------------------------------------------------------------------ the child */

async function child(start: StartMessage): Promise<void> {
  const send = (m: ToParent): void => void process.send?.(m);
  const config = simConfig(start.overrides);
  const logged: Record<string, number> = {};
  const logger = pino(
    { level: 'warn' },
    {
      write(line: string) {
        const { level, msg } = JSON.parse(line) as { level?: number; msg?: string };
        const key = `${pino.levels.labels[level ?? 0] ?? level}: ${msg ?? '(no message)'}`;
        logged[key] = (logged[key] ?? 0) + 1;
      },
    },
  );
  const store: StateStore = start.redisUrl
    ? await RedisStateStore.connect({ url: start.redisUrl, prefix: start.prefix, eventLimit: config.events.queueLimit, logger })
    : new MemoryStateStore({ eventLimit: config.events.queueLimit, logger });
  const service = await assembleService(config, logger, { backend: new SimBackend(), store, instanceId: start.instanceId });
  const timed = new Set(start.timedRoutes);
  const times: Record<string, number[]> = {};
  service.app.addHook('onResponse', async (request, reply) => {
    const key = `${request.method} ${request.routeOptions.url ?? ''}`;
    if (timed.has(key)) (times[key] ??= []).push(reply.elapsedTime);
  });
  const eventKeys: string[] = [];
  if (start.keepEventKeys) service.orchestrator.onAgentEvent((e) => eventKeys.push(eventKey(e)));
  const url = await service.listen(0);
  process.on('message', (m: ToChild) => {
    if (m.kind === 'collect') send({ kind: 'collected', times, eventKeys, logged });
    else if (m.kind === 'stop')
      void service.close().finally(() => {
        send({ kind: 'stopped' });
        process.disconnect?.();
        // Let --cpu-prof write its profile: a normal exit, once the IPC channel is gone.
        setTimeout(() => process.exit(0), 50).unref();
      });
  });
  send({ kind: 'started', url });
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  // The driver gone (crashed, interrupted): so is this instance.
  process.once('disconnect', () => setTimeout(() => process.exit(0), 50).unref());
  process.once('message', (m: ToChild) => {
    if (m.kind !== 'start') return;
    child(m).catch((error: unknown) => {
      void process.send?.({ kind: 'failed', error: String((error as Error).stack ?? error) } satisfies ToParent);
      process.exitCode = 1;
    });
  });
}
