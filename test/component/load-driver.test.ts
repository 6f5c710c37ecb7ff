/**
 * The load driver (`npm run load -- --sim`) against the service on the simulated backend: a short run completes
 * every help scenario with nothing left; failures and leftovers are counted when they are forced.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Api } from '../../bench/load/api.js';
import { LATENCIES, runLoad, type Report } from '../../bench/load/driver.js';
import { DID, HELP_KINDS, makeAgents, makePlans, rng, serviceConfig, type Agent, type Timing } from '../../bench/load/plan.js';
import type { Phones } from '../../bench/load/phones.js';
import { SimPhones } from '../../bench/load/sim-phones.js';
import { Api as ApiClient } from '../../bench/load/api.js';
import { startSimInstances, startSimService, type SimInstances, type SimService } from '../../bench/load/sim-service.js';
import { poolPorts } from '../../bench/load/sipp-phones.js';

const timing: Timing = { answerMs: 50, helperHangupMs: 300, callMs: 600, helpTimeoutSeconds: 0.3 };
const contacts = { host: '127.0.0.1', ports: poolPorts(15400) };

let service: SimService | null = null;
let instances: SimInstances | null = null;
afterEach(async () => {
  await service?.stop();
  service = null;
  await instances?.stop();
  instances = null;
});

async function run(agentCount: number, calls: number, rate: number, phones: (api: Api) => Phones, stepTimeoutMs?: number): Promise<Report> {
  const agents = makeAgents(agentCount);
  service = await startSimService(serviceConfig(agents, contacts, timing));
  const plans = makePlans(calls, { none: 1, two: 4, three: 4, kinds: HELP_KINDS }, timing, rng(7));
  return runLoad({ api: service.url, agents, plans, rate, timing, phones, settleMs: 2000, ...(stepTimeoutMs ? { stepTimeoutMs } : {}) });
}

describe('load driver on the simulator', () => {
  it('runs every scenario of a short run to its end, with latencies and nothing left', async () => {
    const report = await run(60, 24, 10, (api) => new SimPhones(api, timing));
    expect(report.mode).toBe('simulator');
    expect(report.planned).toBe(24);
    expect(report.totals.ok + report.totals.failed + report.totals.skipped).toBe(24);
    const perScenario = Object.values(report.scenarios).reduce((n, r) => n + r.ok + r.failed + r.skipped, 0);
    expect(perScenario).toBe(24);
    expect(report.totals.failed).toBe(0);
    expect(Object.keys(report.latenciesMs).sort()).toEqual([...LATENCIES].sort());
    for (const p of Object.values(report.latenciesMs)) {
      expect(p.count).toBeGreaterThanOrEqual(0);
      if (p.count > 0) expect(p.p50).toBeLessThanOrEqual(p.p99);
    }
    expect(report.latenciesMs['customer INVITE -> agent phone INVITE'].count).toBe(24);
    expect(report.latenciesMs['innerhelp request -> helper phone INVITE'].count).toBeGreaterThan(0);
    expect(report.leftovers.map((l) => l.what)).toEqual(
      expect.arrayContaining(['calls in the service (/health activeCalls)', 'agents still on a call at sign-out (100-007)', 'simulated phones not idle']),
    );
    expect(report.leftoverCount).toBe(0);
  });

  it('counts failures when helpers never answer, and still leaves nothing behind', async () => {
    // Every helper's phone is dead (it never answers, whatever its pool), so sessions that wait for C fail.
    const deafHelpers = (api: Api): Phones => {
      const sim = new SimPhones(api, timing);
      return Object.assign(Object.create(sim) as Phones, {
        onAgentEvent: (event: Parameters<Phones['onAgentEvent']>[0], agent: Agent) => {
          if (agent.pool === 'agent') sim.onAgentEvent(event, agent);
        },
      });
    };
    const report = await run(30, 10, 10, deafHelpers, 1500);
    expect(report.totals.failed).toBeGreaterThan(0);
    const reasons = Object.values(report.scenarios).flatMap((r) => Object.keys(r.reasons));
    expect(reasons.some((r) => r.startsWith('no '))).toBe(true);
    expect(report.leftoverCount).toBe(0);
  });

  it('counts a call the driver did not make and nobody ended as a leftover', async () => {
    let stray: Promise<unknown> = Promise.resolve();
    const withStrayCall = (api: Api): Phones => {
      const sim = new SimPhones(api, timing);
      return Object.assign(Object.create(sim) as Phones, {
        startCustomers: async (plans: Parameters<Phones['startCustomers']>[0], rate: number) => {
          stray = api.request('POST', '/sim/calls', { body: { from: '5559999', to: DID } });
          await sim.startCustomers(plans, rate);
        },
      });
    };
    const report = await run(30, 3, 10, withStrayCall);
    await stray;
    expect(report.leftoverCount).toBeGreaterThan(0);
    expect(report.leftovers.find((l) => l.what.startsWith('calls in the service'))?.count).toBe(1);
  });
});

describe('load driver on two instances sharing one store', () => {
  it('plays the calls at one instance and the desks at the other: every request forwarded, every event crossing over, nothing left', async () => {
    const agents = makeAgents(60);
    instances = await startSimInstances(serviceConfig(agents, contacts, timing), { count: 2 });
    const [first, second] = instances.instances;
    if (!first || !second) throw new Error('two instances expected');
    const plans = makePlans(16, { none: 0, two: 1, three: 1, kinds: HELP_KINDS }, timing, rng(7));
    const report = await runLoad({
      api: second.url,
      instances: [first.url, second.url],
      classifyElsewhere: async () => (instances as SimInstances).madeElsewhere,
      readsPerSecond: 20,
      agents,
      plans,
      rate: 10,
      timing,
      phones: (api) => new SimPhones(api, timing, new ApiClient(first.url)),
      settleMs: 2000,
    });
    expect(report.totals.failed).toBe(0);
    expect(report.leftoverCount).toBe(0);
    expect(report.apiServerErrors).toBe(0);
    // The calls are the first instance's: its phones had them, the second one's never had one.
    expect(Object.keys(first.sim.phones()).length).toBeGreaterThan(16);
    expect(second.sim.phones()).toEqual({});
    const latencies = report.latenciesMs;
    expect(latencies['innerhelp request -> reply'].count).toBeGreaterThan(0);
    expect(latencies['agent API read (GET agentstatus)'].count).toBeGreaterThan(0);
    // Every event the desks got after the start was made by the first instance.
    expect(latencies['event made on another instance -> desk'].count).toBeGreaterThan(0);
    expect(latencies['event made on another instance -> desk'].count).toBe(latencies['event made -> desk received'].count);
  });
});
