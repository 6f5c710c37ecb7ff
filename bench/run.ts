/**
 * Benchmarks: they print figures, they assert nothing. `npm run bench`.
 *  1. the pure core: decisions per second over a full two-party help scenario;
 *  2. orchestrator + simulated backend: complete help calls per second, with many calls at once;
 *  3. memory: heap per call held in two-party help;
 *  4. the whole service (HTTP API, sessions, orchestrator) on the simulator: memory per help session with 10,000
 *     sessions held, and API latency while 500 agents sign in and ask for help at once (service-load.ts).
 */
import pino from 'pino';
import { decide, initialState } from '../src/core/decide.js';
import type { CallEvent, CallState, CoreConfig } from '../src/core/types.js';
import { AgentDirectory } from '../src/orchestrator/agent-directory.js';
import { Orchestrator, type TimerSource } from '../src/orchestrator/orchestrator.js';
import { SimBackend } from '../src/telephony/sim/sim-backend.js';
import { benchApiUnderSignInBurst, benchMemoryPerHelpSession } from './service-load.js';

const CORE: CoreConfig = { helpAnswerTimeoutSeconds: 20, offerAnswerTimeoutSeconds: 20, requeueSeconds: 10 };
const idleTimers: TimerSource = { set: () => 0, clear: () => undefined };

function coreScenario(): number {
  let state: CallState = initialState('bench');
  let decisions = 0;
  const step = (event: CallEvent): void => {
    state = decide(state, event, CORE).state;
    decisions++;
  };
  const agents = [
    { workNo: '101', phone: '2001', signedIn: true, busy: false, ready: true },
    { workNo: '102', phone: '2002', signedIn: true, busy: false, ready: true },
  ];
  step({ type: 'CustomerArrived', leg: { id: 'B', number: '555' }, called: '4000', route: { kind: 'agent', workNo: '101' }, candidates: agents });
  step({ type: 'LegRinging', legId: 'bench-L2' });
  step({ type: 'LegAnswered', legId: 'bench-L2' });
  step({ type: 'Api', request: { kind: 'innerhelp', workNo: '101', mode: 1, helper: { kind: 'agent', workNo: '102' }, candidates: [agents[1]!], callappdata: '' } });
  const helper = Object.values(state.legs).find((l) => l.workNo === '102')!.id;
  step({ type: 'LegRinging', legId: helper });
  step({ type: 'LegAnswered', legId: helper });
  step({ type: 'Api', request: { kind: 'confjoin', workNo: '101', callid: 'bench' } });
  step({ type: 'LegHungUp', legId: helper });
  step({ type: 'LegHungUp', legId: 'bench-L2' });
  return decisions;
}

function benchCore(): void {
  const rounds = 50_000;
  for (let i = 0; i < 2_000; i++) coreScenario();
  const start = process.hrtime.bigint();
  let decisions = 0;
  for (let i = 0; i < rounds; i++) decisions += coreScenario();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`core: ${decisions} decisions in ${seconds.toFixed(2)} s = ${Math.round(decisions / seconds).toLocaleString('en')} decisions/s (${((seconds / decisions) * 1e6).toFixed(2)} µs each)`);
}

async function world(agentCount: number): Promise<{ backend: SimBackend; orchestrator: Orchestrator; directory: AgentDirectory }> {
  const profiles = Array.from({ length: agentCount }, (_, i) => ({ workNo: String(1000 + i), phone: String(20000 + i), skills: ['s'] }));
  const directory = new AgentDirectory(profiles);
  const backend = new SimBackend();
  const orchestrator = new Orchestrator({
    backend,
    directory,
    routes: profiles.map((p, i) => ({ did: String(40000 + i), route: { kind: 'agent' as const, workNo: p.workNo } })),
    core: CORE,
    logger: pino({ level: 'silent' }),
    timers: idleTimers,
  });
  await orchestrator.start();
  for (const p of profiles) directory.signIn(p.workNo);
  return { backend, orchestrator, directory };
}

async function settle(orchestrator: Orchestrator): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
    await orchestrator.settle();
  }
}

/** `pairs` calls at once: agent 2i talks with a customer and asks agent 2i+1 for help. */
async function toHelpTalking(w: Awaited<ReturnType<typeof world>>, pairs: number): Promise<void> {
  const { backend, orchestrator } = w;
  await Promise.all(Array.from({ length: pairs }, (_, i) => backend.placeCustomerCall(String(900000 + i), String(40000 + 2 * i))));
  await settle(orchestrator);
  for (let i = 0; i < pairs; i++) backend.answer(String(20000 + 2 * i));
  await settle(orchestrator);
  await Promise.all(
    Array.from({ length: pairs }, (_, i) =>
      orchestrator.request({ kind: 'innerhelp', workNo: String(1000 + 2 * i), mode: 1, helper: { kind: 'agent', workNo: String(1000 + 2 * i + 1) }, callappdata: '' }),
    ),
  );
  await settle(orchestrator);
  for (let i = 0; i < pairs; i++) backend.answer(String(20000 + 2 * i + 1));
  await settle(orchestrator);
}

async function benchShell(): Promise<void> {
  const pairs = 500;
  const rounds = 4;
  const w = await world(pairs * 2);
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    await toHelpTalking(w, pairs);
    for (let i = 0; i < pairs; i++) w.backend.hangup(String(20000 + 2 * i)); // A leaves: B goes to C
    await settle(w.orchestrator);
    for (let i = 0; i < pairs; i++) w.backend.hangup(String(900000 + i));
    await settle(w.orchestrator);
    if (w.orchestrator.activeCallCount() !== 0) throw new Error('calls left over');
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const calls = pairs * rounds;
  console.log(`shell: ${calls} help calls (arrive, answer, help, answer, A leaves, B leaves), ${pairs} at once: ${seconds.toFixed(2)} s = ${Math.round(calls / seconds)} calls/s`);
  await w.orchestrator.stop();
}

async function benchMemory(): Promise<void> {
  const pairs = 2_000;
  const gc = (globalThis as { gc?: () => void }).gc;
  const w = await world(pairs * 2);
  gc?.();
  const before = process.memoryUsage().heapUsed;
  await toHelpTalking(w, pairs);
  gc?.();
  const after = process.memoryUsage().heapUsed;
  console.log(
    `memory: ${pairs} calls in two-party help (3 legs each): ${((after - before) / 1024 / 1024).toFixed(1)} MiB heap, ${Math.round((after - before) / pairs / 1024)} KiB per call${gc ? '' : ' (run with --expose-gc for steadier figures)'}`,
  );
  await w.orchestrator.stop();
}

benchCore();
await benchShell();
await benchMemory();
await benchMemoryPerHelpSession();
await benchApiUnderSignInBurst();
