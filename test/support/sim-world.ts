/**
 * A small contact center on the simulated backend, for component tests: three agents, two DIDs, manual timers.
 */
import pino from 'pino';
import type { PresenceConfig } from '../../src/core/presence/types.js';
import type { CoreConfig } from '../../src/core/types.js';
import type { StateStore } from '../../src/ports/state-store.js';
import { AgentDirectory, type AgentProfile } from '../../src/orchestrator/agent-directory.js';
import type { TimedAgentEvent } from '../../src/orchestrator/call-control.js';
import { Orchestrator, type TimerSource } from '../../src/orchestrator/orchestrator.js';
import { SimBackend } from '../../src/telephony/sim/sim-backend.js';

/** Timers that fire only when a test says so. */
export class ManualTimers implements TimerSource {
  private seq = 0;
  private readonly pending = new Map<number, { callback: () => void; ms: number }>();

  set(callback: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { callback, ms });
    return id;
  }

  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get count(): number {
    return this.pending.size;
  }

  /** Fires every timer pending now. */
  fireAll(): void {
    this.fireWhere(() => true);
  }

  /** Fires the timers pending now that were set for this many seconds (e.g. only the wrap-up, not a ringing offer). */
  fireSetFor(seconds: number): number {
    return this.fireWhere((ms) => ms === seconds * 1000);
  }

  /** The durations (seconds) of the timers pending now. */
  pendingSeconds(): number[] {
    return [...this.pending.values()].map((t) => t.ms / 1000).sort((a, b) => a - b);
  }

  private fireWhere(due: (ms: number) => boolean): number {
    const firing = [...this.pending.entries()].filter(([, t]) => due(t.ms));
    for (const [id] of firing) this.pending.delete(id);
    for (const [, t] of firing) t.callback();
    return firing.length;
  }
}

/** A clock that moves only when a test moves it. */
export class FakeClock {
  constructor(private ms = 1_000_000) {}

  readonly now = (): number => this.ms;

  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export const AGENTS: AgentProfile[] = [
  { workNo: '101', phone: '2001', skills: ['support'] },
  { workNo: '102', phone: '2002', skills: ['support'] },
  { workNo: '103', phone: '2003', skills: ['support', 'billing'] },
];

export const CUSTOMER = '5550100';
export const A = { workNo: '101', phone: '2001' };
export const C = { workNo: '102', phone: '2002' };
export const D = { workNo: '103', phone: '2003' };

export const CORE: CoreConfig = { helpAnswerTimeoutSeconds: 20, offerAnswerTimeoutSeconds: 20, requeueSeconds: 10 };

export interface World {
  readonly backend: SimBackend;
  readonly directory: AgentDirectory;
  readonly orchestrator: Orchestrator;
  readonly timers: ManualTimers;
  readonly events: TimedAgentEvent[];
  settle(): Promise<void>;
  hears(number: string): string[];
  state(number: string): string;
  eventsOf(workNo: string, type?: string): TimedAgentEvent[];
  /** B calls the DID routed to A; A answers: A and B talk. Returns the customer call id. */
  customerTalkingWithA(): Promise<string>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  readonly presence?: PresenceConfig;
  readonly queues?: CoreConfig['queues'];
  readonly clock?: FakeClock;
  /** A state store shared with the orchestrator (default: none, one instance alone). */
  readonly store?: StateStore;
}

export async function createWorld(signIn: string[] = ['101', '102', '103'], options: WorldOptions = {}): Promise<World> {
  const backend = new SimBackend();
  const timers = new ManualTimers();
  const clock = options.clock ?? new FakeClock();
  const directory = new AgentDirectory(AGENTS, {
    timers,
    now: clock.now,
    ...(options.presence ? { presence: options.presence } : {}),
  });
  const orchestrator = new Orchestrator({
    backend,
    directory,
    routes: [
      { did: '4000', route: { kind: 'agent', workNo: '101' } },
      { did: '4001', route: { kind: 'skill', skill: 'support' } },
    ],
    core: options.queues ? { ...CORE, queues: options.queues } : CORE,
    logger: pino({ level: 'silent' }),
    timers,
    now: clock.now,
    ...(options.store ? { store: options.store } : {}),
  });
  await orchestrator.start();
  for (const workNo of signIn) directory.signIn(workNo);
  const events: TimedAgentEvent[] = [];
  orchestrator.onAgentEvent((e) => events.push(e));

  const settle = async (): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await orchestrator.settle();
    }
  };

  const world: World = {
    backend,
    directory,
    orchestrator,
    timers,
    events,
    settle,
    hears: (number) => backend.phone(number).hears,
    state: (number) => backend.phone(number).state,
    eventsOf: (workNo, type) => events.filter((e) => e.workNo === workNo && (type === undefined || e.eventType === type)),
    async customerTalkingWithA() {
      const placed = await backend.placeCustomerCall(CUSTOMER, '4000');
      if (!placed.ok) throw new Error(`call refused: ${placed.reason}`);
      await settle();
      backend.answer(A.phone);
      await settle();
      const talking = world.eventsOf(A.workNo, 'AgentEvent_Talking').at(-1);
      if (!talking || typeof talking.content === 'string' || talking.content === null) throw new Error('A is not talking');
      return String(talking.content.callid);
    },
    stop: () => orchestrator.stop(),
  };
  return world;
}
