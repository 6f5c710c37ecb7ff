/**
 * The simulator's phones, played through the service's /sim routes (telephony.backend "sim"): the driver places
 * the customers' calls, and answers, refuses or hangs up the agents' phones as their pools say.
 * There is no SIP here: a phone's "invite" is the moment its agent's AgentEvent_Ringing reaches the driver, and
 * its "answered"/"bye-sent" the moment the driver sends the /sim request.
 * With several instances on one store (`--instances 2`), the phones are those of the instance the customers call
 * (`simApi`, its /sim routes); the agents' events still come through `api` (the instance their desks use).
 */
import { now, type AgentEvent, type Api } from './api.js';
import { DID, type Agent, type SessionPlan, type Timing } from './plan.js';
import { sleep, type Leftover, type Phones, type Stamp } from './phones.js';

export class SimPhones implements Phones {
  readonly name = 'simulator';
  private readonly log: Stamp[] = [];
  private readonly numbers = new Set<string>();
  private placing: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly simFailures: Record<string, number> = {};
  private stopped = false;

  constructor(
    api: Api,
    private readonly timing: Timing,
    /** Where the /sim routes are: the instance whose simulated backend has the calls (default: the agents' API). */
    private readonly simApi: Pick<Api, 'request'> = api,
  ) {}

  private stamp(who: Stamp['who'], what: string, number: string, t = now()): void {
    this.log.push({ who, what, number, t });
  }

  private track<T>(promise: Promise<T>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  private async sim(path: string, body?: unknown): Promise<string> {
    const response = await this.simApi.request('POST', `/sim${path}`, body !== undefined ? { body } : {});
    return response.body.retcode;
  }

  async startPhones(agents: readonly Agent[]): Promise<void> {
    for (const a of agents) this.numbers.add(a.phone);
  }

  async startCustomers(plans: readonly SessionPlan[], rate: number): Promise<void> {
    const start = now();
    this.placing = (async () => {
      for (const plan of plans) {
        if (this.stopped) return;
        const due = start + (plan.index * 1000) / rate;
        if (due > now()) await sleep(due - now());
        this.track(this.customer(plan));
      }
    })();
  }

  private async customer(plan: SessionPlan): Promise<void> {
    this.numbers.add(plan.customer);
    this.stamp('customer', 'invite', plan.customer);
    const response = await this.simApi.request('POST', '/sim/calls', { body: { from: plan.customer, to: DID } });
    if (response.body.retcode !== '0') {
      this.simFailures.customer = (this.simFailures.customer ?? 0) + 1;
      return;
    }
    this.stamp('customer', 'answered', plan.customer);
    if (plan.holdMs <= 0) return;
    await sleep(plan.holdMs);
    const t = now();
    // Only a customer still on the line hangs up; one the service already released has nothing to hang up.
    if ((await this.sim(`/phones/${plan.customer}/hangup`)) === '0') this.stamp('customer', 'bye-sent', plan.customer, t);
  }

  onAgentEvent(event: AgentEvent, agent: Agent): void {
    if (event.eventType !== 'AgentEvent_Ringing' || this.stopped) return;
    this.stamp('phone', 'invite', agent.phone, event.t);
    this.track(this.ring(agent));
  }

  private async ring(agent: Agent): Promise<void> {
    if (agent.pool === 'noanswer') return;
    await sleep(this.timing.answerMs);
    const t = now();
    if (agent.pool === 'busy') {
      if ((await this.sim(`/phones/${agent.phone}/reject`, { status: 486 })) === '0') this.stamp('phone', 'rejected', agent.phone, t);
      return;
    }
    // The call may have gone while the phone rang (the customer left, A gave up on C): nothing to answer then.
    if ((await this.sim(`/phones/${agent.phone}/answer`)) !== '0') return;
    this.stamp('phone', 'answered', agent.phone, t);
    if (agent.pool !== 'hangup') return;
    await sleep(this.timing.helperHangupMs);
    const bye = now();
    if ((await this.sim(`/phones/${agent.phone}/hangup`)) === '0') this.stamp('phone', 'bye-sent', agent.phone, bye);
  }

  async abandon(customer: string): Promise<void> {
    const t = now();
    if ((await this.sim(`/phones/${customer}/hangup`)) === '0') this.stamp('customer', 'bye-sent', customer, t);
  }

  async customersDone(timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    await this.placing;
    while (this.pending.size > 0 && now() < deadline) await Promise.race([sleep(100), ...this.pending]);
  }

  async stamps(): Promise<Stamp[]> {
    return [...this.log];
  }

  async leftovers(): Promise<Leftover[]> {
    const busy: string[] = [];
    for (const number of this.numbers) {
      const response = await this.simApi.request('GET', `/sim/phones/${number}`);
      const state = (response.body.result as { state?: string } | undefined)?.state;
      if (state !== 'idle') busy.push(`${number}:${state ?? response.body.retcode}`);
    }
    return [{ what: 'simulated phones not idle', count: busy.length, ...(busy.length > 0 ? { detail: busy.slice(0, 10).join(' ') } : {}) }];
  }

  async failures(): Promise<Record<string, number>> {
    return { ...this.simFailures };
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}
