/**
 * What a load run is made of: the agents (in pools, one per kind of phone), the service configuration that goes
 * with them, and one plan per customer call (which help scenario, when, how long the customer stays).
 */

/** Kinds of phone. Every agent's phone behaves as its pool says, in both modes. */
export type Pool = 'agent' | 'helper' | 'busy' | 'noanswer' | 'hangup';
export const POOLS: readonly Pool[] = ['agent', 'helper', 'busy', 'noanswer', 'hangup'];

/**
 * How a help session goes and ends. Each is run in mode 1 (two-party) and mode 2 (three-party) unless noted.
 *  none                    no help: A and B talk, B hangs up
 *  c-leaves                C answers, later C leaves (C's release through the API)
 *  c-hangs-up              C answers, later C's phone hangs up on its own (BYE from the phone)
 *  a-leaves                C answers, later A leaves (A's release): B and C go on
 *  b-leaves                C answers, later B hangs up (while held in mode 1, in the room in mode 2): A and C go on
 *  drop                    C answers, A drops the help call (mode 1: dropcall) or releases C by number (mode 2)
 *  confjoin                mode 1 only: C answers, A turns it into three-party help, then C leaves
 *  crossing                C answers, A and C leave at the same moment
 *  busy                    C's phone answers 486: consult fails, A and B talk again
 *  no-answer               C's phone never answers: the service gives up after help.answerTimeoutSeconds
 *  a-leaves-ringing        A leaves while C rings; C answers: B and C talk
 *  a-leaves-ringing-c-fails  A leaves while C rings; C never answers: B is queued and offered to the next agent
 *  b-leaves-ringing        B hangs up while C rings: C's phone stops ringing, A's call ends
 */
export type ScenarioKind =
  | 'none'
  | 'c-leaves'
  | 'c-hangs-up'
  | 'a-leaves'
  | 'b-leaves'
  | 'drop'
  | 'confjoin'
  | 'crossing'
  | 'busy'
  | 'no-answer'
  | 'a-leaves-ringing'
  | 'a-leaves-ringing-c-fails'
  | 'b-leaves-ringing';

export const HELP_KINDS: readonly ScenarioKind[] = [
  'c-leaves',
  'c-hangs-up',
  'a-leaves',
  'b-leaves',
  'drop',
  'confjoin',
  'crossing',
  'busy',
  'no-answer',
  'a-leaves-ringing',
  'a-leaves-ringing-c-fails',
  'b-leaves-ringing',
];

/** The pool the helper is taken from, per scenario. */
export function helperPool(kind: ScenarioKind): Pool | null {
  switch (kind) {
    case 'none':
      return null;
    case 'c-hangs-up':
      return 'hangup';
    case 'busy':
      return 'busy';
    case 'no-answer':
    case 'a-leaves-ringing-c-fails':
    case 'b-leaves-ringing':
      return 'noanswer';
    default:
      return 'helper';
  }
}

export interface Agent {
  readonly workNo: string;
  readonly password: string;
  readonly phone: string;
  readonly pool: Pool;
}

export interface Timing {
  /** Agents' phones (pool agent) and helpers' phones ring this long before answering (or refusing). */
  readonly answerMs: number;
  /** Pool hangup: the helper's phone hangs up this long after answering. */
  readonly helperHangupMs: number;
  /** A customer without help talks this long; with help, each step after the previous one waits up to this. */
  readonly callMs: number;
  /** The service's help.answerTimeoutSeconds in the generated configuration (no-answer scenarios wait for it). */
  readonly helpTimeoutSeconds: number;
}

export interface SessionPlan {
  readonly index: number;
  /** The customer's number (From of its INVITE). */
  readonly customer: string;
  readonly kind: ScenarioKind;
  /** 1 two-party, 2 three-party; 0 without help. */
  readonly mode: 0 | 1 | 2;
  /** After A talks, A asks for help after this long. */
  readonly helpDelayMs: number;
  /** After C answers, the scenario's release comes after this long. */
  readonly talkMs: number;
  /** The customer hangs up this long after its call is answered (by the service); 0: never (waits for the BYE). */
  readonly holdMs: number;
}

/** Deterministic random numbers (mulberry32), so a run can be repeated with --seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FIRST_WORKNO = 800001;
export const DID = '4900';
export const SKILL = 'load';

/** Pool sizes for N agents: half take customers, the rest help (answer, refuse busy, never answer, hang up). */
export function makeAgents(count: number): Agent[] {
  if (count < POOLS.length) throw new Error(`at least ${POOLS.length} agents are needed (one per kind of phone)`);
  const helpers = Math.max(1, Math.round(count * 0.2));
  const others = Math.max(1, Math.round(count * 0.1));
  const sizes: Record<Pool, number> = { agent: 0, helper: helpers, busy: others, noanswer: others, hangup: others };
  sizes.agent = count - helpers - 3 * others;
  if (sizes.agent < 1) throw new Error(`too few agents (${count}) for every pool`);
  const agents: Agent[] = [];
  for (const pool of POOLS) {
    for (let i = 0; i < sizes[pool]; i++) {
      const n = FIRST_WORKNO + agents.length;
      agents.push({ workNo: String(n), password: `load-${n}`, phone: String(n + 100000), pool });
    }
  }
  return agents;
}

export interface ContactPlan {
  /** Where each pool's phones are rung: sip:<phone>@host:port (real mode: one SIPp process per pool). */
  readonly host: string;
  readonly ports: Record<Pool, number>;
}

/** The service configuration a run needs (merged over config/default.json through CONFIG_FILE). */
export function serviceConfig(agents: readonly Agent[], contacts: ContactPlan, timing: Timing): Record<string, unknown> {
  return {
    agents: agents.map((a) => ({
      workNo: a.workNo,
      password: a.password,
      phone: a.phone,
      skills: a.pool === 'agent' ? [SKILL] : [],
      contact: `sip:${a.phone}@${contacts.host}:${contacts.ports[a.pool]}`,
    })),
    routes: [{ did: DID, skill: SKILL }],
    help: { answerTimeoutSeconds: timing.helpTimeoutSeconds },
    routing: { offerTimeoutSeconds: 20, requeueSeconds: 2 },
    // config/default.json has 10 s of wrap-up after each customer call: an agent would then be unavailable for
    // 10 s, and the pool of agents, not the stack, would limit the rate. Everyone starts ready.
    presence: { initialState: 'ready', wrapUpSeconds: 0 },
  };
}

export interface Mix {
  /** Weights of no help, two-party and three-party help. */
  readonly none: number;
  readonly two: number;
  readonly three: number;
  /** The help scenarios to draw from (uniformly). */
  readonly kinds: readonly ScenarioKind[];
}

/** One plan per customer call, drawn from the mix. */
export function makePlans(count: number, mix: Mix, timing: Timing, random: () => number, firstCustomer = 7100000): SessionPlan[] {
  const total = mix.none + mix.two + mix.three;
  if (total <= 0) throw new Error('the help mix has no weight');
  const plans: SessionPlan[] = [];
  const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
  for (let index = 0; index < count; index++) {
    const r = random() * total;
    let mode: 0 | 1 | 2 = r < mix.none ? 0 : r < mix.none + mix.two ? 1 : 2;
    let kind: ScenarioKind = 'none';
    if (mode !== 0) {
      const kinds = mix.kinds.filter((k) => k !== 'none' && !(mode === 2 && k === 'confjoin'));
      if (kinds.length === 0) mode = 0;
      else kind = kinds[Math.floor(random() * kinds.length)] as ScenarioKind;
    }
    const helpDelayMs = between(200, Math.max(300, timing.callMs / 4));
    const talkMs = between(300, Math.max(400, timing.callMs / 3));
    // The customer hangs up on its own only where the scenario says so; elsewhere the service ends its call.
    // Its hold counts from the service's answer, which comes before the agent's phone even rings.
    let holdMs = 0;
    if (kind === 'none') holdMs = timing.answerMs + timing.callMs;
    else if (kind === 'b-leaves') holdMs = timing.answerMs + helpDelayMs + timing.answerMs + talkMs + 300;
    else if (kind === 'b-leaves-ringing') holdMs = timing.answerMs + helpDelayMs + 600;
    plans.push({ index, customer: String(firstCustomer + index), kind, mode, helpDelayMs, talkMs, holdMs });
  }
  return plans;
}

export function scenarioName(plan: Pick<SessionPlan, 'kind' | 'mode'>): string {
  return plan.mode === 0 ? 'no help' : `${plan.mode === 1 ? 'two-party' : 'three-party'} ${plan.kind}`;
}
