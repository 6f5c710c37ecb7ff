/**
 * The load driver: signs the agents in, starts the phones and the customers, runs one script per customer call
 * (the help scenario of its plan, through the agent API, reacting to the agents' events), then checks that
 * nothing is left and reports successes, failures and latencies. Used by `npm run load` (main.ts) in both modes
 * and by the component test in sim mode.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Api, callIdOf, field, now, type AgentEvent } from './api.js';
import { helperPool, scenarioName, type Agent, type Pool, type SessionPlan, type Timing } from './plan.js';
import { sleep, type Leftover, type Phones, type Stamp } from './phones.js';

/** How long an agent's other call ids may take to be released after its last call's release (one decision's
 * events can reach the driver in two deliveries). */
const RELEASE_GRACE_MS = 2000;
/** The event-loop delay is sampled by a timer of this period (ms). */
const LOOP_RESOLUTION_MS = 5;

export const LATENCIES = [
  'customer INVITE -> agent phone INVITE',
  "agent's 200 -> AgentEvent_Talking",
  'innerhelp request -> helper phone INVITE',
  "helper's 200 -> A-C connected (two-party)",
  "helper's 200 -> room complete (three-party)",
  'BYE -> remaining parties reconnected',
  'innerhelp request -> reply',
  'agent API read (GET agentstatus)',
  'event made -> desk received',
  'event made on another instance -> desk',
] as const;
export type LatencyName = (typeof LATENCIES)[number];

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface ScenarioResult {
  readonly ok: number;
  readonly failed: number;
  /** Not run as planned for a reason of the driver's (no free helper): neither success nor failure. */
  readonly skipped: number;
  /** Why sessions failed: reason -> count. */
  readonly reasons: Record<string, number>;
}

export interface Report {
  readonly mode: string;
  readonly seconds: number;
  readonly planned: number;
  readonly scenarios: Record<string, ScenarioResult>;
  readonly totals: { readonly ok: number; readonly failed: number; readonly skipped: number };
  readonly latenciesMs: Record<LatencyName, Percentiles>;
  readonly phoneFailures: Record<string, number>;
  /** Event sequences a desktop would find odd, though the calls ended (see allReleased). */
  readonly eventAnomalies: Record<string, number>;
  readonly leftovers: Leftover[];
  readonly leftoverCount: number;
  /** What was run against (instances, store), when the caller said. */
  readonly setup?: string;
  /** Agents' requests the service refused, "retcode message" -> count (expected ones included: see the scenarios). */
  readonly apiRefusals: Record<string, number>;
  /** Requests answered with an HTTP status >= 500 (forwarding to the call's owner failed, store unavailable, ...). */
  readonly apiServerErrors: number;
  /** Agent API reads (the read latency's requests) not answered with retcode 0. */
  readonly readFailures: number;
  /**
   * This process while the sessions ran (the driver, and the service when it runs in it): CPU time over wall time
   * (100 = one core), and how late its event loop ran, beyond a 5 ms timer's period (a stall delays every latency
   * measured in it).
   */
  readonly thisProcess: { readonly cpuPercent: number; readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number } };
}

export interface DriverOptions {
  readonly api: string;
  readonly agents: readonly Agent[];
  readonly plans: readonly SessionPlan[];
  readonly rate: number;
  readonly timing: Timing;
  readonly phones: (api: Api) => Phones;
  /** How long a step may wait for the service's event before the session counts as failed. */
  readonly stepTimeoutMs?: number;
  /** After the last session, how long to wait for the service to settle before looking for leftovers. */
  readonly settleMs?: number;
  readonly progress?: (line: string) => void;
  readonly seed?: number;
  /** Agent API reads (GET agentstatus, round robin over the agents) per second while the sessions run (default 0). */
  readonly readsPerSecond?: number;
  /** Every instance of the service (base URLs): /health activeCalls is summed over them (default: `api` alone). */
  readonly instances?: readonly string[];
  /**
   * After the sessions: tells whether an event was made by an instance other than the one the desks (`api`) are
   * on (asked once per event the desks received, so it may be asked after the run, when every instance has said
   * what it made).
   */
  readonly classifyElsewhere?: () => Promise<(event: AgentEvent) => boolean>;
  /** Printed with the report: what the run was against. */
  readonly setup?: string;
}

class StepFailure extends Error {}

interface Mark {
  readonly latency: LatencyName;
  /** The start: a time the driver knows, or a phone's stamp to look up after the run. */
  readonly from: number | { readonly who: Stamp['who']; readonly what: string; readonly number: string; readonly before: number; readonly after: number; readonly last?: boolean };
  /** The end: a time the driver knows, or the first stamp of a phone at or after `after`. */
  readonly to: number | { readonly who: Stamp['who']; readonly what: string; readonly number: string; readonly after: number };
}

interface Session {
  readonly plan: SessionPlan;
  readonly name: string;
  /** Resolves with A's AgentEvent_Ringing and A (also a later agent, when the customer is offered again). */
  offered: ((offer: { agent: Agent; event: AgentEvent; cursor: number }) => void) | null;
  readonly offers: { agent: Agent; event: AgentEvent; cursor: number }[];
  /** Agents of this session, with the event index from which their events belong to it. */
  readonly members: Map<string, number>;
  readonly marks: Mark[];
}

export async function runLoad(options: DriverOptions): Promise<Report> {
  const stepTimeoutMs = options.stepTimeoutMs ?? Math.max(10_000, options.timing.helpTimeoutSeconds * 1000 + 5000);
  const byWorkNo = new Map(options.agents.map((a) => [a.workNo, a]));
  const sessionsByCustomer = new Map<string, Session>();
  /** Which session an agent is in, as the driver sees it (set when it rings or is chosen to help). */
  const engaged = new Map<string, Session>();
  const results = new Map<string, { ok: number; failed: number; skipped: number; reasons: Record<string, number> }>();
  const progress = { started: 0, done: 0, ok: 0, failed: 0, skipped: 0 };
  const anomalies: Record<string, number> = {};
  /** Event delivery (Date.now() at receipt minus eventGenTime) of events made once the customers started. */
  const delivery: number[] = [];
  /** With classifyElsewhere: the events whose delivery was measured, to tell after the run who made them. */
  const delivered: { event: AgentEvent; ms: number }[] = [];
  let measureEventsFrom = Infinity;
  const reads: number[] = [];
  let readFailures = 0;
  const helpReplies: number[] = [];

  const api = new Api(options.api, (event) => {
    if (event.eventGenTime !== undefined && event.eventGenTime >= measureEventsFrom) {
      const ms = event.receivedAt - event.eventGenTime;
      delivery.push(ms);
      if (options.classifyElsewhere) delivered.push({ event, ms });
    }
    const agent = byWorkNo.get(event.workNo);
    if (!agent) return;
    // Events arrive only once agents have signed in, after `phones` exists.
    phones.onAgentEvent(event, agent);
    if (event.eventType === 'AgentEvent_Ringing') {
      const caller = field(event, 'caller');
      const session = caller !== undefined ? sessionsByCustomer.get(caller) : undefined;
      if (session && agent.pool === 'agent') {
        const events = api.events.get(agent.workNo) ?? [];
        const offer = { agent, event, cursor: events.indexOf(event) };
        engaged.set(agent.workNo, session);
        session.members.set(agent.workNo, offer.cursor);
        session.offers.push(offer);
        const resolve = session.offered;
        session.offered = null;
        resolve?.(offer);
      }
    }
  });
  const phones: Phones = options.phones(api);

  const started = now();
  try {
    await phones.startPhones(options.agents);
    // Sign in a few at a time: a real service is not the thing under test here.
    for (let i = 0; i < options.agents.length; i += 20) {
      await Promise.all(options.agents.slice(i, i + 20).map((a) => api.signIn(a.workNo, a.password, a.phone)));
    }
  } catch (error) {
    // Nothing may outlive a run that could not start: the phones stop, the event streams close.
    api.close();
    await phones.stop();
    throw error;
  }

  const tick = setInterval(() => {
    const line = `load ${((now() - started) / 1000).toFixed(0).padStart(4)} s | calls ${progress.started}/${options.plans.length} started, ${progress.done} done | ok ${progress.ok} failed ${progress.failed} skipped ${progress.skipped} | agents busy ${engaged.size}`;
    options.progress?.(line);
  }, 1000);

  const sessions: Promise<void>[] = [];
  for (const plan of options.plans) {
    const session: Session = { plan, name: scenarioName(plan), offered: null, offers: [], members: new Map(), marks: [] };
    sessionsByCustomer.set(plan.customer, session);
  }
  await phones.startCustomers(options.plans, options.rate);
  const t0 = now();
  measureEventsFrom = Date.now();
  // A timer every LOOP_RESOLUTION_MS: how much later than that it fired is how late the event loop was.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
  const cpuAtStart = process.cpuUsage();
  // Reads by the agents' desks, apart from the event streams: each agent in turn asks for its state.
  let sessionsDone = false;
  const reading = (async () => {
    const rps = options.readsPerSecond ?? 0;
    if (rps <= 0) return;
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; !sessionsDone; i++) {
      const due = t0 + (i * 1000) / rps;
      if (due > now()) await sleep(due - now());
      if (sessionsDone) break;
      const agent = options.agents[i % options.agents.length] as Agent;
      const read = (async () => {
        const t = now();
        const reply = await api.act(agent.workNo, 'GET', `/onlineagent/${agent.workNo}/agentstatus`).catch(() => null);
        if (reply?.retcode === '0') reads.push(now() - t);
        else readFailures++;
      })();
      inFlight.add(read);
      void read.finally(() => inFlight.delete(read));
    }
    await Promise.all(inFlight);
  })();
  for (const plan of options.plans) {
    const due = t0 + (plan.index * 1000) / options.rate;
    if (due > now()) await sleep(due - now());
    const session = sessionsByCustomer.get(plan.customer) as Session;
    progress.started++;
    sessions.push(
      runSession(session).then((outcome) => {
        const result = results.get(session.name) ?? { ok: 0, failed: 0, skipped: 0, reasons: {} };
        results.set(session.name, result);
        if (outcome === 'ok') {
          result.ok++;
          progress.ok++;
        } else if (outcome.startsWith('skipped')) {
          result.skipped++;
          progress.skipped++;
          result.reasons[outcome] = (result.reasons[outcome] ?? 0) + 1;
        } else {
          result.failed++;
          progress.failed++;
          result.reasons[outcome] = (result.reasons[outcome] ?? 0) + 1;
        }
        progress.done++;
      }),
    );
  }
  await Promise.all(sessions);
  loopDelay.disable();
  const cpu = process.cpuUsage(cpuAtStart);
  const thisProcess = {
    cpuPercent: ((cpu.user + cpu.system) / 1000 / (now() - t0)) * 100,
    eventLoopDelayMs: {
      p50: Math.max(0, loopDelay.percentile(50) / 1e6 - LOOP_RESOLUTION_MS),
      p99: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
      max: Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS),
    },
  };
  sessionsDone = true;
  await reading;
  await phones.customersDone(stepTimeoutMs);

  /* ------------------------------------------------------------------ one customer call */

  async function runSession(session: Session): Promise<string> {
    const { plan } = session;
    const involved = new Set<string>();
    try {
      const offer = session.offers[0] ?? (await waitOffer(session, stepTimeoutMs * 2, 'never offered to an agent'));
      const A = offer.agent;
      involved.add(A.workNo);
      const custCall = callIdOf(offer.event) as string;
      session.marks.push({
        latency: 'customer INVITE -> agent phone INVITE',
        from: { who: 'customer', what: 'invite', number: plan.customer, before: offer.event.t, after: offer.event.t - 60_000, last: true },
        to: { who: 'phone', what: 'invite', number: A.phone, after: offer.event.t - 60_000 },
      });
      const talking = await expect(A, offer.cursor, (e) => e.eventType === 'AgentEvent_Talking' && callIdOf(e) === custCall, "A's AgentEvent_Talking");
      session.marks.push({
        latency: "agent's 200 -> AgentEvent_Talking",
        from: { who: 'phone', what: 'answered', number: A.phone, before: talking.t, after: offer.event.t - 1, last: true },
        to: talking.t,
      });
      if (plan.mode === 0) {
        // The customer hangs up after its hold time; the call is over when A's leg is released.
        await expect(A, offer.cursor, (e) => e.eventType === 'AgentEvent_Call_Release' && callIdOf(e) === custCall, "A's release when B hangs up", plan.holdMs + stepTimeoutMs);
        return 'ok';
      }
      await sleep(plan.helpDelayMs);
      const pool = helperPool(plan.kind) as Pool;
      const C = pickHelper(pool, session);
      if (!C) {
        await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
        await allReleased(session, involved);
        return `skipped: no free helper in pool ${pool}`;
      }
      involved.add(C.workNo);
      const cFrom = api.cursor(C.workNo);
      session.members.set(C.workNo, cFrom);
      const aFrom = api.cursor(A.workNo);
      const tHelp = now();
      const reply = await api.act(A.workNo, 'POST', `/voicecall/${A.workNo}/innerhelp`, { dstaddress: C.workNo, devicetype: 2, mode: plan.mode, callappdata: `load ${plan.index}` });
      if (reply.retcode === '0') helpReplies.push(now() - tHelp);
      if (reply.retcode !== '0') {
        // C was never asked: only A has a call to see released (C is freed with the session's members).
        involved.delete(C.workNo);
        await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
        await allReleased(session, involved);
        // B hung up before A asked: the plan's hold time was too short for this stack's set-up, not a failure.
        if (reply.retcode === '200-001' && plan.holdMs > 0) return 'skipped: B had left before the help request (hold planned too short)';
        return `innerhelp refused ${reply.retcode}`;
      }
      const helpCall = String(reply.result);
      if (plan.kind === 'a-leaves-ringing' || plan.kind === 'a-leaves-ringing-c-fails') {
        await expect(C, cFrom, (e) => e.eventType === 'AgentEvent_Ringing', "C's AgentEvent_Ringing");
        await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
        if (plan.kind === 'a-leaves-ringing') {
          await expect(C, cFrom, (e) => e.eventType === 'AgentEvent_Talking', "C's AgentEvent_Talking (B-C) after A left");
          session.marks.push({ latency: 'innerhelp request -> helper phone INVITE', from: tHelp, to: { who: 'phone', what: 'invite', number: C.phone, after: tHelp } });
          await sleep(plan.talkMs);
          await api.act(C.workNo, 'DELETE', `/voicecall/${C.workNo}/release`);
        } else {
          // C never answers: B is queued and offered to the next free agent of the route.
          const next = await waitOffer(session, stepTimeoutMs * 2, 'B not offered again after C failed', 2);
          involved.add(next.agent.workNo);
          const nextCall = callIdOf(next.event) as string;
          await expect(next.agent, next.cursor, (e) => e.eventType === 'AgentEvent_Talking' && callIdOf(e) === nextCall, "the next agent's AgentEvent_Talking");
          await sleep(plan.talkMs);
          await api.act(next.agent.workNo, 'DELETE', `/voicecall/${next.agent.workNo}/release`);
        }
        await allReleased(session, involved);
        return 'ok';
      }
      session.marks.push({ latency: 'innerhelp request -> helper phone INVITE', from: tHelp, to: { who: 'phone', what: 'invite', number: C.phone, after: tHelp } });
      if (plan.kind === 'busy' || plan.kind === 'no-answer') {
        await expect(A, aFrom, (e) => e.eventType === 'AgentEvent_Consult_Fail' && callIdOf(e) === helpCall, "A's AgentEvent_Consult_Fail");
        await expect(A, aFrom, (e) => e.eventType === 'AgentEvent_Talking' && callIdOf(e) === custCall, "A's AgentEvent_Talking with B again");
        await sleep(plan.talkMs);
        await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
        await allReleased(session, involved);
        return 'ok';
      }
      if (plan.kind === 'b-leaves-ringing') {
        await expect(A, aFrom, (e) => e.eventType === 'AgentEvent_Call_Release' && callIdOf(e) === custCall, "A's release after B left while C rang", plan.holdMs + stepTimeoutMs);
        await allReleased(session, involved);
        return 'ok';
      }
      // C answers: two-party talk (A's Talking on the help call) or the room (A's Conference). In b-leaves, B may
      // hang up before that (its hold was planned before the call): the call then ends while C rings.
      const joinedOrGone = await expect(
        A,
        aFrom,
        (e) =>
          (plan.mode === 1 ? e.eventType === 'AgentEvent_Talking' && callIdOf(e) === helpCall : e.eventType === 'AgentEvent_Conference') ||
          (plan.kind === 'b-leaves' && e.eventType === 'AgentEvent_Call_Release' && callIdOf(e) === custCall),
        plan.mode === 1 ? "A's AgentEvent_Talking with C" : "A's AgentEvent_Conference",
      );
      if (joinedOrGone.eventType === 'AgentEvent_Call_Release') {
        await allReleased(session, involved);
        return 'skipped: B left while C rang (hold planned too short for this stack; ran as b-leaves-ringing)';
      }
      const joined = joinedOrGone;
      session.marks.push({
        latency: plan.mode === 1 ? "helper's 200 -> A-C connected (two-party)" : "helper's 200 -> room complete (three-party)",
        from: { who: 'phone', what: 'answered', number: C.phone, before: joined.t, after: tHelp, last: true },
        to: joined.t,
      });
      const afterJoin = api.cursor(A.workNo);
      const cAfterJoin = api.cursor(C.workNo);
      if (plan.kind === 'b-leaves') {
        // B hangs up by its own hold time; A and C go on, under the help call id.
        const gone = await expect(A, afterJoin, (e) => e.eventType === 'AgentEvent_Customer_Release' && field(e, 'number') === plan.customer, "A's AgentEvent_Customer_Release for B", plan.holdMs + stepTimeoutMs);
        session.marks.push({ latency: 'BYE -> remaining parties reconnected', from: { who: 'customer', what: 'bye-sent', number: plan.customer, before: gone.t, after: tHelp, last: true }, to: gone.t });
        await sleep(plan.talkMs);
        await api.act(C.workNo, 'DELETE', `/voicecall/${C.workNo}/release`);
        await allReleased(session, involved);
        return 'ok';
      }
      if (plan.kind !== 'c-hangs-up') await sleep(plan.talkMs);
      const tRelease = now();
      switch (plan.kind) {
        case 'c-leaves':
        case 'c-hangs-up': {
          if (plan.kind === 'c-leaves') await api.act(C.workNo, 'DELETE', `/voicecall/${C.workNo}/release`);
          const back = await expect(A, afterJoin, (e) => e.eventType === 'AgentEvent_Talking' && callIdOf(e) === custCall, "A's AgentEvent_Talking with B after C left");
          session.marks.push({
            latency: 'BYE -> remaining parties reconnected',
            from: plan.kind === 'c-leaves' ? tRelease : { who: 'phone', what: 'bye-sent', number: C.phone, before: back.t, after: joined.t - 1000, last: true },
            to: back.t,
          });
          await sleep(plan.talkMs);
          await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
          break;
        }
        case 'a-leaves': {
          await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
          const back = await expect(C, cAfterJoin, (e) => e.eventType === 'AgentEvent_Talking' && callIdOf(e) === custCall, "C's AgentEvent_Talking with B after A left");
          session.marks.push({ latency: 'BYE -> remaining parties reconnected', from: tRelease, to: back.t });
          await sleep(plan.talkMs);
          await api.act(C.workNo, 'DELETE', `/voicecall/${C.workNo}/release`);
          break;
        }
        case 'drop': {
          const r = plan.mode === 1 ? await api.act(A.workNo, 'POST', `/voicecall/${A.workNo}/dropcall/${helpCall}`) : await api.act(A.workNo, 'POST', `/voicecall/${A.workNo}/disconnect/${C.workNo}`);
          if (r.retcode !== '0') throw new StepFailure(`${plan.mode === 1 ? 'dropcall' : 'disconnect'} refused ${r.retcode}`);
          const back = await expect(A, afterJoin, (e) => e.eventType === 'AgentEvent_Talking' && callIdOf(e) === custCall, "A's AgentEvent_Talking with B after dropping C");
          session.marks.push({ latency: 'BYE -> remaining parties reconnected', from: tRelease, to: back.t });
          await sleep(plan.talkMs);
          await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
          break;
        }
        case 'confjoin': {
          const r = await api.act(A.workNo, 'POST', `/voicecall/${A.workNo}/confjoin`, { callid: custCall });
          if (r.retcode !== '0') throw new StepFailure(`confjoin refused ${r.retcode}`);
          await expect(A, afterJoin, (e) => e.eventType === 'AgentEvent_Conference', "A's AgentEvent_Conference after confjoin");
          await sleep(plan.talkMs);
          const tLeave = now();
          await api.act(C.workNo, 'DELETE', `/voicecall/${C.workNo}/release`);
          const back = await expect(A, afterJoin, (e) => e.eventType === 'AgentEvent_Talking' && callIdOf(e) === custCall && e.t >= tLeave, "A's AgentEvent_Talking with B after C left the room");
          session.marks.push({ latency: 'BYE -> remaining parties reconnected', from: tLeave, to: back.t });
          await sleep(plan.talkMs);
          await api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`);
          break;
        }
        case 'crossing': {
          // A and C leave together: whichever the service decides first, B is left alone and released.
          await Promise.all([api.act(A.workNo, 'DELETE', `/voicecall/${A.workNo}/release`), api.act(C.workNo, 'DELETE', `/voicecall/${C.workNo}/release`)]);
          break;
        }
        default:
          throw new StepFailure(`scenario ${plan.kind} has no script`);
      }
      await allReleased(session, involved);
      return 'ok';
    } catch (error) {
      const reason = error instanceof StepFailure ? error.message : `driver error: ${(error as Error).message}`;
      // A customer never offered to an agent is still queued: its phone gives up (simulator; SIPp's hold decides).
      if (session.offers.length === 0) await phones.abandon(plan.customer).catch(() => undefined);
      // Leave nothing behind for the next sessions: every agent of this session releases its call.
      for (const workNo of session.members.keys()) involved.add(workNo);
      await Promise.all([...involved].map((w) => api.act(w, 'DELETE', `/voicecall/${w}/release`).catch(() => undefined)));
      await allReleased(session, involved).catch(() => undefined);
      return reason;
    } finally {
      for (const workNo of session.members.keys()) if (engaged.get(workNo) === session) engaged.delete(workNo);
      for (const workNo of involved) if (engaged.get(workNo) === session) engaged.delete(workNo);
    }
  }

  function waitOffer(session: Session, timeoutMs: number, failure: string, nth = 1): Promise<{ agent: Agent; event: AgentEvent; cursor: number }> {
    const have = session.offers[nth - 1];
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        session.offered = null;
        reject(new StepFailure(failure));
      }, timeoutMs);
      session.offered = (offer) => {
        clearTimeout(timer);
        resolve(offer);
      };
    });
  }

  async function expect(agent: Agent, from: number, match: (e: AgentEvent) => boolean, what: string, timeoutMs = stepTimeoutMs): Promise<AgentEvent> {
    const event = await api.waitFor(agent.workNo, from, match, timeoutMs);
    if (!event) throw new StepFailure(`no ${what}`);
    return event;
  }

  function pickHelper(pool: Pool, session: Session): Agent | undefined {
    const helper = options.agents.find((a) => a.pool === pool && !engaged.has(a.workNo));
    if (helper) engaged.set(helper.workNo, session);
    return helper;
  }

  /**
   * Every agent of the session is done: it got an AgentEvent_Call_Release for the call it was last on (its last
   * Ringing/Talking/Conference). Any other call id it knew and never saw ended (its own release, the other party's
   * AgentEvent_Customer_Release, or AgentEvent_Consult_Fail for a help call) is counted as an event anomaly: a
   * desktop that tracks calls by id would keep it.
   */
  async function allReleased(session: Session, involved: Set<string>): Promise<void> {
    for (const workNo of involved) {
      const agent = byWorkNo.get(workNo) as Agent;
      const from = session.members.get(workNo) ?? 0;
      const deadline = now() + stepTimeoutMs;
      let graceUntil: number | undefined;
      for (;;) {
        const events = (api.events.get(workNo) ?? []).slice(from);
        const known = new Set<string>();
        const closed = new Set<string>();
        const released = new Set<string>();
        let current: string | undefined;
        for (const e of events) {
          const id = callIdOf(e);
          if (id === undefined) continue;
          if (e.eventType === 'AgentEvent_Call_Release') {
            closed.add(id);
            released.add(id);
          } else if (e.eventType === 'AgentEvent_Customer_Release' || e.eventType === 'AgentEvent_Consult_Fail') closed.add(id);
          else known.add(id);
          if (['AgentEvent_Ringing', 'AgentEvent_Talking', 'AgentEvent_Conference'].includes(e.eventType)) current = id;
        }
        if (current !== undefined && released.has(current)) {
          // Releases of one decision may come in two deliveries: the others get a moment before they count.
          const open = [...known].filter((id) => !closed.has(id));
          graceUntil ??= now() + RELEASE_GRACE_MS;
          if (open.length > 0 && now() < graceUntil) {
            await api.waitFor(workNo, from + events.length, () => true, Math.max(1, graceUntil - now()));
            continue;
          }
          for (const _id of open) {
            const what = `${session.name}: a call id known to the ${agent.pool === 'agent' ? 'agent (A)' : 'helper (C)'} was never released nor ended for it`;
            anomalies[what] = (anomalies[what] ?? 0) + 1;
          }
          break;
        }
        if (now() > deadline) throw new StepFailure(`${agent.pool === 'agent' ? 'A' : 'C'} not released`);
        await api.waitFor(workNo, from + events.length, () => true, Math.max(1, deadline - now()));
      }
    }
  }

  /* ------------------------------------------------------------------ after the run */

  clearInterval(tick);
  const settleMs = options.settleMs ?? 3000;
  const settleDeadline = now() + settleMs;
  // Calls in the service: the sum over its instances (-1: one of them did not answer).
  const activeCallsNow = async (): Promise<number> => {
    let sum = 0;
    for (const base of options.instances ?? [options.api]) {
      const health = await fetch(`${base}/health`)
        .then((r) => r.json() as Promise<{ activeCalls?: number }>)
        .catch(() => null);
      if (typeof health?.activeCalls !== 'number') return -1;
      sum += health.activeCalls;
    }
    return sum;
  };
  let activeCalls = await activeCallsNow();
  while (activeCalls > 0 && now() < settleDeadline) {
    await sleep(200);
    activeCalls = await activeCallsNow();
  }
  const signOut = await api.signOutAll();
  // Whoever is still busy is taken off (after being counted), so the service is clean for the next run.
  const stuck = [...signOut.busy];
  for (const workNo of stuck) {
    await api.signIn(workNo, byWorkNo.get(workNo)?.password ?? '', byWorkNo.get(workNo)?.phone ?? '').catch(() => undefined);
    await api.act(workNo, 'DELETE', `/onlineagent/${workNo}/forcelogout`).catch(() => undefined);
  }
  api.close();
  const leftovers: Leftover[] = [
    { what: 'calls in the service (/health activeCalls)', count: Math.max(0, activeCalls), ...(activeCalls < 0 ? { detail: '/health did not answer' } : {}) },
    { what: 'agents still on a call at sign-out (100-007)', count: stuck.length, ...(stuck.length > 0 ? { detail: stuck.slice(0, 10).join(' ') } : {}) },
    ...(signOut.failed.length > 0 ? [{ what: 'sign-outs refused otherwise', count: signOut.failed.length, detail: signOut.failed.slice(0, 5).join(' ') }] : []),
    ...(await phones.leftovers()),
  ];
  const stamps = await phones.stamps();
  const phoneFailures = await phones.failures();
  await phones.stop();

  const samples = new Map<LatencyName, number[]>(LATENCIES.map((l) => [l, []]));
  const byNumber = new Map<string, Stamp[]>();
  for (const s of stamps) {
    const key = `${s.who} ${s.what} ${s.number}`;
    const list = byNumber.get(key) ?? [];
    list.push(s);
    byNumber.set(key, list);
  }
  for (const list of byNumber.values()) list.sort((a, b) => a.t - b.t);
  const lookup = (q: { who: string; what: string; number: string }) => byNumber.get(`${q.who} ${q.what} ${q.number}`) ?? [];
  for (const session of sessionsByCustomer.values()) {
    for (const mark of session.marks) {
      let from: number | undefined;
      if (typeof mark.from === 'number') from = mark.from;
      else {
        const q = mark.from;
        const candidates = lookup(q).filter((s) => s.t <= q.before + 1 && s.t >= q.after);
        from = (q.last ? candidates.at(-1) : candidates[0])?.t;
      }
      let to: number | undefined;
      if (typeof mark.to === 'number') to = mark.to;
      else {
        const q = mark.to;
        const after = Math.max(q.after, from ?? q.after);
        to = lookup(q).find((s) => s.t >= after - 1)?.t;
      }
      if (from !== undefined && to !== undefined && to >= from - 1) samples.get(mark.latency)?.push(Math.max(0, to - from));
    }
  }
  samples.get('innerhelp request -> reply')?.push(...helpReplies);
  samples.get('agent API read (GET agentstatus)')?.push(...reads);
  samples.get('event made -> desk received')?.push(...delivery);
  if (options.classifyElsewhere) {
    const madeElsewhere = await options.classifyElsewhere();
    samples.get('event made on another instance -> desk')?.push(...delivered.filter((d) => madeElsewhere(d.event)).map((d) => d.ms));
  }
  const latenciesMs = Object.fromEntries(LATENCIES.map((l) => [l, percentiles(samples.get(l) ?? [])])) as Record<LatencyName, Percentiles>;
  const scenarios = Object.fromEntries([...results.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const totals = { ok: progress.ok, failed: progress.failed, skipped: progress.skipped };
  return {
    mode: phones.name,
    seconds: (now() - started) / 1000,
    planned: options.plans.length,
    scenarios,
    totals,
    latenciesMs,
    phoneFailures,
    eventAnomalies: anomalies,
    leftovers,
    leftoverCount: leftovers.reduce((n, l) => n + l.count, 0),
    ...(options.setup !== undefined ? { setup: options.setup } : {}),
    apiRefusals: { ...api.refusals },
    apiServerErrors: api.transportErrors.length,
    readFailures,
    thisProcess,
  };
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank.
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1] as number };
}

export function formatReport(report: Report): string {
  const lines: string[] = [];
  lines.push(`load run on the ${report.mode}${report.setup ? ` (${report.setup})` : ''}: ${report.planned} customer calls in ${report.seconds.toFixed(1)} s`);
  lines.push('');
  lines.push('scenario                                   ok  failed  skipped  reasons');
  for (const [name, r] of Object.entries(report.scenarios)) {
    const reasons = Object.entries(r.reasons)
      .map(([why, n]) => `${n}x ${why}`)
      .join('; ');
    lines.push(`${name.padEnd(40)} ${String(r.ok).padStart(4)} ${String(r.failed).padStart(7)} ${String(r.skipped).padStart(8)}  ${reasons}`);
  }
  lines.push(`${'total'.padEnd(40)} ${String(report.totals.ok).padStart(4)} ${String(report.totals.failed).padStart(7)} ${String(report.totals.skipped).padStart(8)}`);
  const pf = Object.entries(report.phoneFailures).filter(([, n]) => n > 0);
  if (pf.length > 0) lines.push(`phones' own failures: ${pf.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const [what, n] of Object.entries(report.eventAnomalies)) lines.push(`event anomaly, ${n}x: ${what}`);
  const refusals = Object.entries(report.apiRefusals ?? {});
  if (refusals.length > 0) lines.push(`API refusals (expected ones included): ${refusals.map(([k, n]) => `${n}x ${k}`).join('; ')}`);
  if (report.apiServerErrors > 0) lines.push(`API answers with HTTP status >= 500: ${report.apiServerErrors}`);
  if (report.readFailures > 0) lines.push(`agent API reads not answered with retcode 0: ${report.readFailures}`);
  lines.push('');
  lines.push('latency (ms)                                     n     p50     p95     p99     max');
  const ms = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(1)).padStart(7);
  for (const [name, p] of Object.entries(report.latenciesMs)) lines.push(`${name.padEnd(44)} ${String(p.count).padStart(5)} ${ms(p.p50)} ${ms(p.p95)} ${ms(p.p99)} ${ms(p.max)}`);
  const { cpuPercent, eventLoopDelayMs: loop } = report.thisProcess;
  lines.push(
    `this process while the calls ran (the driver, and the service if in-process): CPU ${cpuPercent.toFixed(0)}% of one core, event-loop delay p50 ${loop.p50.toFixed(1)} p99 ${loop.p99.toFixed(1)} max ${loop.max.toFixed(1)} ms`,
  );
  lines.push('');
  lines.push(`leftovers: ${report.leftoverCount}`);
  for (const l of report.leftovers) lines.push(`  ${l.what}: ${l.count}${l.detail ? ` (${l.detail})` : ''}`);
  return lines.join('\n');
}
