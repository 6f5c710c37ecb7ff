/**
 * Prometheus metrics. Call and help figures are derived from the agent events (the one place where every outcome
 * is already named), so they cannot disagree with what the desktops were told.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CallFeature } from '../core/decide.js';
import type { CallControl, TimedAgentEvent } from '../orchestrator/call-control.js';
import type { AdmissionControl } from '../orchestrator/admission.js';
import type { MediaTelemetry } from '../ports/media-telemetry.js';
import type { AgentSessions } from './sessions.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly offers: Counter<'kind'>;
  private readonly helps: Counter<'mode' | 'outcome'>;
  private readonly releases: Counter;
  private readonly transfers: Counter<'outcome'>;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeMedia: (() => void)[] = [];

  constructor(callControl: CallControl, sessions: AgentSessions, media?: MediaTelemetry, admission?: AdmissionControl) {
    collectDefaultMetrics({ register: this.registry });
    this.requestDuration = new Histogram({
      name: 'api_request_duration_seconds',
      help: 'Agent API request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15],
      registers: [this.registry],
    });
    this.offers = new Counter({ name: 'calls_offered_total', help: 'Calls offered to agents, by kind (customer, internal, help)', labelNames: ['kind'], registers: [this.registry] });
    this.helps = new Counter({
      name: 'help_sessions_total',
      help: 'Internal help sessions by mode (1 two-party, 2 three-party) and outcome (requested, answered, failed)',
      labelNames: ['mode', 'outcome'],
      registers: [this.registry],
    });
    this.transfers = new Counter({
      name: 'transfers_total',
      help: 'Transfers (blind, to a skill queue, or a completed consultation) whose transferring agent was still on the line at the end, by outcome: done, or failed-<SIP status of the target>',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.releases = new Counter({ name: 'agent_call_releases_total', help: 'AgentEvent_Call_Release events sent', registers: [this.registry] });
    new Gauge({ name: 'calls_active', help: 'Calls in progress', registers: [this.registry], collect() { this.set(callControl.activeCallCount()); } });
    new Gauge({ name: 'agents_signed_in', help: 'Agents signed in', registers: [this.registry], collect() { this.set(sessions.signedInCount()); } });
    // help call id -> mode, to label the outcome of a help session.
    const helpModes = new Map<string, string>();
    this.unsubscribe = callControl.onAgentEvent((event) => this.count(event, helpModes));
    if (media) this.followMedia(media);
    if (admission) {
      const refusals = new Counter({
        name: 'admission_refusals_total',
        help: 'Work refused by admission control before anyone was rung, by kind (customer: 503 with Retry-After; help: retcode 200-030) and why',
        labelNames: ['kind', 'why'],
        registers: [this.registry],
      });
      this.unsubscribeMedia.push(admission.onRefusal((kind, why) => refusals.inc({ kind, why })));
    }
  }

  /** How fast FreeSWITCH carries out each kind of change, and what the reconciler had to clean up. */
  private followMedia(media: MediaTelemetry): void {
    const effect = new Histogram({
      name: 'media_change_seconds',
      help: 'From sending a media command to FreeSWITCH reporting it done, by change (bridge, hold music, ringback, park, join room)',
      labelNames: ['op'],
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers: [this.registry],
    });
    const orphans = new Counter({
      name: 'freeswitch_orphan_channels_total',
      help: 'FreeSWITCH channels of this service that no live leg owned, hung up by the reconciler',
      registers: [this.registry],
    });
    this.unsubscribeMedia.push(
      media.onEffect((op, ms) => effect.observe({ op }, ms / 1000)),
      media.onOrphan(() => orphans.inc()),
    );
  }

  private count(event: TimedAgentEvent, helpModes: Map<string, string>): void {
    const content = typeof event.content === 'string' ? null : event.content;
    switch (event.eventType) {
      case 'AgentEvent_Ringing': {
        const feature = content?.feature;
        const kind = feature === CallFeature.help ? 'help' : feature === CallFeature.internal ? 'internal' : 'customer';
        this.offers.inc({ kind });
        if (feature === CallFeature.help && content) {
          const mode = String(content.mode ?? 1);
          helpModes.set(String(content.callid), mode);
          this.helps.inc({ mode, outcome: 'requested' });
        }
        return;
      }
      case 'AgentEvent_Consult_Fail': {
        const callid = String(event.content);
        this.helps.inc({ mode: helpModes.get(callid) ?? 'unknown', outcome: 'failed' });
        helpModes.delete(callid);
        return;
      }
      case 'AgentEvent_Talking':
      case 'AgentEvent_Conference': {
        // Counted once, on the helper's side, when the help call is answered.
        const callid = String(content?.callid ?? '');
        const mode = helpModes.get(callid);
        if (mode !== undefined) {
          this.helps.inc({ mode, outcome: 'answered' });
          helpModes.delete(callid);
        }
        return;
      }
      case 'AgentEvent_SuccTransResult': {
        const result = Number(content?.result ?? -1);
        this.transfers.inc({ outcome: result === 0 ? 'done' : `failed-${result}` });
        return;
      }
      case 'AgentEvent_Call_Release':
        this.releases.inc();
        helpModes.delete(String(event.content));
        return;
      default:
        return;
    }
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status: String(status) }, seconds);
  }

  close(): void {
    this.unsubscribe();
    for (const unsubscribe of this.unsubscribeMedia) unsubscribe();
  }
}
