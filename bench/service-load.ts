/**
 * Benchmarks of the whole service (HTTP API, agent sessions, orchestrator) on the simulated backend, for
 * `npm run bench`. They print figures and assert nothing.
 *  - memory per concurrent help session, with 10,000 sessions held (20,000 agents signed in through the API, the
 *    events of every call queued for desktops that do not poll, as a real desktop between two polls);
 *  - API latency while 500 agents sign in and ask for help at once (each: sign in, its customer calls and its phone
 *    answers, its desktop polls, innerhelp), over HTTP on 127.0.0.1 from a worker thread (api-burst-worker.ts).
 */
import { Worker } from 'node:worker_threads';
import { percentiles } from './load/driver.js';
import { startSimService, type SimService } from './load/sim-service.js';

const hr = () => performance.now();

interface Plan {
  readonly pairs: number;
  readonly helpTimeoutSeconds: number;
}

/** Agent 100000+2i takes DID 40000+i (phone 500000+2i) and asks agent 100000+2i+1 for help. */
function config({ pairs, helpTimeoutSeconds }: Plan): Record<string, unknown> {
  const agents = [];
  const routes = [];
  for (let i = 0; i < pairs * 2; i++) agents.push({ workNo: String(100000 + i), password: `pw${100000 + i}`, phone: String(500000 + i), skills: [] });
  for (let i = 0; i < pairs; i++) routes.push({ did: String(40000 + i), agent: String(100000 + 2 * i) });
  return { agents, routes, help: { answerTimeoutSeconds: helpTimeoutSeconds }, routing: { offerTimeoutSeconds: 300, requeueSeconds: 300 }, events: { pollTimeoutSeconds: 10, heartbeatTimeoutSeconds: 3600, queueLimit: 1000 } };
}

async function signIn(service: SimService, workNo: string): Promise<{ guid: string; ms: number }> {
  const t = hr();
  const response = await fetch(`${service.url}/agentgateway/resource/onlineagent/${workNo}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: `pw${workNo}` }),
  });
  const body = (await response.json()) as { retcode: string };
  const ms = hr() - t;
  const guid = response.headers.get('set-guid');
  if (body.retcode !== '0' || !guid) throw new Error(`sign-in of ${workNo}: ${body.retcode}`);
  return { guid, ms };
}

async function settle(service: SimService): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
    await service.orchestrator.settle();
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export async function benchMemoryPerHelpSession(sessions = 10_000): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const service = await startSimService(config({ pairs: sessions, helpTimeoutSeconds: 300 }));
  const agents = sessions * 2;
  const start = hr();
  for (let i = 0; i < agents; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, agents - i) }, (_, k) => signIn(service, String(100000 + i + k))));
  }
  const signInSeconds = (hr() - start) / 1000;
  gc?.();
  const before = process.memoryUsage();
  const customer = (i: number) => String(7000000 + i);
  const phoneA = (i: number) => String(500000 + 2 * i);
  const phoneC = (i: number) => String(500000 + 2 * i + 1);
  await Promise.all(Array.from({ length: sessions }, (_, i) => service.sim.placeCustomerCall(customer(i), String(40000 + i))));
  await settle(service);
  for (let i = 0; i < sessions; i++) service.sim.answer(phoneA(i));
  await settle(service);
  await Promise.all(
    Array.from({ length: sessions }, (_, i) =>
      service.orchestrator.request({ kind: 'innerhelp', workNo: String(100000 + 2 * i), mode: 1, helper: { kind: 'agent', workNo: String(100000 + 2 * i + 1) }, callappdata: '' }),
    ),
  );
  await settle(service);
  for (let i = 0; i < sessions; i++) service.sim.answer(phoneC(i));
  await settle(service);
  gc?.();
  const twoParty = process.memoryUsage();
  const held = service.orchestrator.activeCallCount();
  await service.stop();
  const perTwo = (twoParty.heapUsed - before.heapUsed) / sessions;
  console.log(
    `memory: ${sessions.toLocaleString('en')} two-party help sessions held (${held.toLocaleString('en')} calls, 3 legs each; ${agents.toLocaleString('en')} agents signed in over HTTP in ${signInSeconds.toFixed(1)} s, their events queued): ` +
      `heap +${mib(twoParty.heapUsed - before.heapUsed)} = ${(perTwo / 1024).toFixed(1)} KiB per session${gc ? '' : ' (run with --expose-gc for steadier figures)'}`,
  );
}

export async function benchApiUnderSignInBurst(agentsAtOnce = 500): Promise<void> {
  const inService = new Map<string, number[]>();
  let measuring = false;
  const service = await startSimService(config({ pairs: agentsAtOnce, helpTimeoutSeconds: 60 }), (method, route, ms) => {
    if (!measuring) return;
    const key = `${method} ${route}`;
    inService.set(key, [...(inService.get(key) ?? []), ms]);
  });
  // The helpers are signed in already; the askers arrive all at once.
  await Promise.all(Array.from({ length: agentsAtOnce }, (_, i) => signIn(service, String(100000 + 2 * i + 1))));
  measuring = true;
  // A worker does not inherit tsx's loader on Node 20: it registers it, then loads the TypeScript file.
  const script = new URL('./api-burst-worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: { url: service.url, agents: agentsAtOnce } });
  const result = await new Promise<{ signInMs: number[]; pollMs: number[]; helpMs: number[]; refused: string[]; answerRetries: number; seconds: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const { signInMs, pollMs, helpMs, seconds } = result;
  const failures = result.refused;
  await service.stop();
  const show = (name: string, values: number[]) => {
    const p = percentiles(values);
    return `${name} p50 ${p.p50.toFixed(1)} / p95 ${p.p95.toFixed(1)} / p99 ${p.p99.toFixed(1)} / max ${p.max.toFixed(1)} ms`;
  };
  const served = (route: string) => inService.get(route) ?? [];
  console.log(
    `api: ${agentsAtOnce} agents sign in, take a call and ask for help at once (HTTP on 127.0.0.1, ${seconds.toFixed(2)} s in all, ${agentsAtOnce * 5 + result.answerRetries} requests${failures.length ? `, ${failures.length} refused: ${[...new Set(failures)].join(' ')}` : ''})\n` +
      `  as the desktops see it (a worker thread): ${show('sign-in', signInMs)}; ${show('first event poll', pollMs)}; ${show('innerhelp', helpMs)}\n` +
      `  inside the service (Fastify elapsedTime): ${show('sign-in', served('PUT /agentgateway/resource/onlineagent/:agentid'))}; ${show('event poll', served('GET /agentgateway/resource/agentevent/:agentid'))}; ${show('innerhelp', served('POST /agentgateway/resource/voicecall/:agentid/innerhelp'))}`,
  );
}
