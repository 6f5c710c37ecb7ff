/**
 * The supervisor's wall figures: per skill the calls waiting and the longest wait, agents by state, help sessions
 * in progress, and the service level (share of customer calls answered within `wall.serviceLevelSeconds`) over the
 * last 15 and 60 minutes. Worked out from the calls as they stand and from what this instance saw happen.
 *
 * Service level = answered within T / (answered + abandoned after waiting longer than T), the usual contact-center
 * form: a customer who hung up within T is not counted either way. Only customer calls routed to a skill count.
 */
import type { CallSnapshot } from '../orchestrator/call-control.js';
import type { AgentView } from './board.js';
import type { SupervisorScope } from './supervisors.js';

const WAITING_PHASES = new Set(['queued', 'offering']);
const WINDOW_MS = 60 * 60_000;

interface Outcome {
  readonly skill: string;
  readonly at: number;
  readonly answered: boolean;
  readonly waitedMs: number;
}

/** Waiting skill calls seen, and how they ended (answered or abandoned), over the last hour. */
export class ServiceLevelTracker {
  private readonly waiting = new Map<string, { skill: string; startedAt: number }>();
  private outcomes: Outcome[] = [];

  constructor(private readonly thresholdMs: number) {}

  /** Called with this instance's calls whenever something may have changed (agent events, and a tick). */
  observe(snapshots: readonly CallSnapshot[], now: number): void {
    const present = new Set<string>();
    for (const { state, startedAt } of snapshots) {
      present.add(state.callId);
      if (state.kind !== 'customer' || state.route?.kind !== 'skill') continue;
      const tracked = this.waiting.get(state.callId);
      if (WAITING_PHASES.has(state.phase.name)) {
        if (!tracked) this.waiting.set(state.callId, { skill: state.route.skill, startedAt });
      } else if (tracked && state.phase.name !== 'ended') {
        this.waiting.delete(state.callId);
        this.outcomes.push({ skill: tracked.skill, at: now, answered: true, waitedMs: now - tracked.startedAt });
      }
    }
    for (const [callId, tracked] of this.waiting) {
      if (present.has(callId)) continue;
      this.waiting.delete(callId);
      this.outcomes.push({ skill: tracked.skill, at: now, answered: false, waitedMs: now - tracked.startedAt });
    }
    if (this.outcomes.length > 0 && (this.outcomes[0] as Outcome).at < now - WINDOW_MS) this.outcomes = this.outcomes.filter((o) => o.at >= now - WINDOW_MS);
  }

  /** Service level of a skill over the last `minutes`: null when no call counts. */
  level(skill: string, minutes: number, now: number): { readonly percent: number | null; readonly answered: number; readonly counted: number } {
    let within = 0;
    let counted = 0;
    let answered = 0;
    for (const o of this.outcomes) {
      if (o.skill !== skill || o.at < now - minutes * 60_000) continue;
      if (o.answered) {
        answered += 1;
        counted += 1;
        if (o.waitedMs <= this.thresholdMs) within += 1;
      } else if (o.waitedMs > this.thresholdMs) counted += 1;
    }
    return { percent: counted === 0 ? null : Math.round((within / counted) * 1000) / 10, answered, counted };
  }
}

export interface QueueFigures {
  readonly skill: string;
  readonly waiting: number;
  /** Seconds the longest-waiting customer has waited (0: nobody waits). */
  readonly longestWaitSeconds: number;
  readonly serviceLevel15: number | null;
  readonly serviceLevel60: number | null;
  readonly answered60: number;
}

export interface WallFigures {
  readonly at: number;
  readonly serviceLevelSeconds: number;
  readonly queues: readonly QueueFigures[];
  /** Supervised signed-in agents by state: onCall, ready, notReady, rest, wrapUp. */
  readonly agents: Readonly<Record<'onCall' | 'ready' | 'notReady' | 'rest' | 'wrapUp', number>>;
  readonly help: readonly { readonly callid: string; readonly helpCallid: string; readonly mode: number; readonly stage: string; readonly agent: string; readonly helper: string }[];
}

export function wallFigures(scope: SupervisorScope, calls: readonly CallSnapshot[], agents: readonly AgentView[], tracker: ServiceLevelTracker, serviceLevelSeconds: number, now: number): WallFigures {
  const queues: QueueFigures[] = [...scope.skills].sort().map((skill) => {
    const waiting = calls.filter((c) => c.state.kind === 'customer' && c.state.route?.kind === 'skill' && c.state.route.skill === skill && WAITING_PHASES.has(c.state.phase.name));
    const oldest = Math.min(...waiting.map((c) => c.startedAt), now);
    const sl15 = tracker.level(skill, 15, now);
    const sl60 = tracker.level(skill, 60, now);
    return { skill, waiting: waiting.length, longestWaitSeconds: Math.max(0, Math.floor((now - oldest) / 1000)), serviceLevel15: sl15.percent, serviceLevel60: sl60.percent, answered60: sl60.answered };
  });
  const counts = { onCall: 0, ready: 0, notReady: 0, rest: 0, wrapUp: 0 };
  for (const a of agents) {
    if (a.presence === 'signed-out' || !scope.supervises(a.workNo)) continue;
    if (a.presence === 'busy') counts.onCall += 1;
    else if (a.state === 'not-ready') counts.notReady += 1;
    else if (a.state === 'rest') counts.rest += 1;
    else if (a.state === 'wrap-up') counts.wrapUp += 1;
    else counts.ready += 1;
  }
  const help: WallFigures['help'][number][] = [];
  for (const { state } of calls) {
    if (state.phase.name !== 'help') continue;
    const h = state.phase.help;
    const agent = state.legs[h.owner]?.workNo ?? '';
    const helper = state.legs[h.helper]?.workNo ?? state.legs[h.helper]?.number ?? '';
    if (!scope.supervises(agent) && !scope.supervises(helper)) continue;
    help.push({ callid: state.callId, helpCallid: h.helpCallId, mode: h.mode, stage: h.stage, agent, helper });
  }
  return { at: now, serviceLevelSeconds, queues, agents: counts, help };
}
