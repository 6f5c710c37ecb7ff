/**
 * The shell of a supervisor on a live call (issue 20): one serial queue per supervised call feeds the supervision
 * decider (src/core/supervision) with the API's requests, the supervisor's phone's happenings and the call
 * decider's changes (PartiesChanged, CallEnded), and carries out its commands:
 * - ringSupervisor: the supervisor's phone is dialled with the call's id, so the media-server pool puts its channel
 *   on the call's server;
 * - setSupervisorAudio: the call's talking parties are moved into the call's room (the room three-party help uses),
 *   then the supervisor's member flags are set (SupervisionMediaPort);
 * - hangupSupervisor: its leg is hung up; the call's parties stay in the room (a room of two is a bridge to them),
 *   so nobody is moved when the supervisor leaves.
 * While a call is supervised, the media it asks for a bridge of its parties is carried out as both joining the room
 * (wrapMedia), and the supervisor's flags are set again after each join, for members that joined anew.
 *
 * The call decider is untouched: the supervisor's leg is no leg of the call. Its signalling events are taken here
 * (wrapEvents) before the orchestrator sees them.
 */
import type { Logger } from 'pino';
import { roomOf, mediaPlan } from '../core/media-plan.js';
import { decideSupervision, heardBy } from '../core/supervision/decide.js';
import type { SupervisedParty, Supervision, SupervisionCommand, SupervisionEvent, SupervisionMode, SupervisionRefusal } from '../core/supervision/types.js';
import type { CallId, CallState, LegId } from '../core/types.js';
import type { SupervisionMediaPort } from '../ports/supervision-media.js';
import { LegMediaError, type MediaPort, type SignallingEvents, type SignallingPort, type TelephonyBackend } from '../ports/telephony.js';
import type { TimedAgentEvent } from './call-control.js';
import { SerialQueue } from './serial-queue.js';

export type SupervisionShellRefusal = SupervisionRefusal | 'NO_SUCH_CALL' | 'SUPERVISOR_BUSY';
export type SupervisionReply = { readonly ok: true } | { readonly ok: false; readonly code: SupervisionShellRefusal };

/** What the wall shows of a supervised call. */
export interface SupervisionView {
  readonly supervisorId: string;
  readonly mode: SupervisionMode;
  readonly stage: 'ringing' | 'joined';
}

export interface SupervisionShellOptions {
  readonly signalling: SignallingPort;
  /** The backend's own media (not the wrapped one). */
  readonly media: MediaPort;
  readonly supervisionMedia: SupervisionMediaPort;
  readonly logger: Logger;
  /** A call's state now, by any of its call ids (the orchestrator's). */
  readonly callState: (callId: CallId) => CallState | undefined;
  /** Which call a leg is a party of (the orchestrator's). */
  readonly callOfLeg: (legId: LegId) => CallId | undefined;
  /** Tell the agents' desks (AgentEvent_Supervisor), when configured; absent: desks are not told. */
  readonly tellAgents?: (event: TimedAgentEvent) => void;
}

interface Entry {
  state: Supervision | null;
  readonly queue: SerialQueue;
}

export class SupervisionShell {
  private readonly byCall = new Map<CallId, Entry>();
  private readonly legCall = new Map<LegId, CallId>();
  private events: SignallingEvents | null = null;
  private seq = 0;
  private readonly log: Logger;
  /** Commands issued and not yet answered (settle waits for them). */
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly options: SupervisionShellOptions) {
    this.log = options.logger.child({ component: 'supervision' });
  }

  /* ------------------------------------------------------------------------------------------ requests */

  start(supervisorId: string, callId: CallId, mode: SupervisionMode, phone: string): Promise<SupervisionReply> {
    const state = this.options.callState(callId);
    if (!state || state.phase.name === 'ended') return Promise.resolve({ ok: false, code: 'NO_SUCH_CALL' });
    for (const [other, entry] of this.byCall) {
      if (other !== state.callId && entry.state?.supervisorId === supervisorId) return Promise.resolve({ ok: false, code: 'SUPERVISOR_BUSY' });
    }
    const legId = `${state.callId}-sup-${++this.seq}`;
    return this.step(state.callId, () => ({ type: 'Start', callId: state.callId, supervisorId, phone, mode, parties: this.partiesOf(state.callId), legId }));
  }

  switchMode(supervisorId: string, callId: CallId, mode: SupervisionMode): Promise<SupervisionReply> {
    const id = this.entryId(callId);
    return id ? this.step(id, () => ({ type: 'Switch', supervisorId, mode })) : Promise.resolve({ ok: false, code: 'NOT_SUPERVISING' });
  }

  leave(supervisorId: string, callId: CallId): Promise<SupervisionReply> {
    const id = this.entryId(callId);
    return id ? this.step(id, () => ({ type: 'Leave', supervisorId })) : Promise.resolve({ ok: false, code: 'NOT_SUPERVISING' });
  }

  /** The supervision of a call, if any (for the wall). */
  view(callId: CallId): SupervisionView | undefined {
    const s = this.byCall.get(callId)?.state;
    return s ? { supervisorId: s.supervisorId, mode: s.mode, stage: s.stage } : undefined;
  }

  /** The call a supervisor's leg is on (the media-server pool keeps it on the call's server). */
  callOfLeg(legId: LegId): CallId | undefined {
    return this.legCall.get(legId);
  }

  /** The supervisor's leg on the phone's number, if one is supervising (tests find its channel by it). */
  legOfPhone(phone: string): LegId | undefined {
    for (const entry of this.byCall.values()) if (entry.state?.phone === phone) return entry.state.supervisorLeg;
    return undefined;
  }

  /** Resolves when every supervised call's queue has run what was queued so far, and its commands were answered (tests). */
  async settle(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const busy = [...this.byCall.values()].filter((e) => !e.queue.idle);
      if (busy.length === 0 && this.inflight.size === 0) return;
      await Promise.all([...busy.map((e) => e.queue.drain()), ...this.inflight]);
    }
  }

  /* ------------------------------------------------------------------------------------------ the call decider's changes */

  /** The orchestrator decided something for this call: its parties may have changed, or it ended. */
  callDecided(state: CallState): void {
    const entry = this.byCall.get(state.callId);
    if (!entry?.state) return;
    if (state.phase.name === 'ended') {
      void this.step(state.callId, () => ({ type: 'CallEnded' }));
      return;
    }
    const parties = partiesOf(state);
    const before = entry.state.parties.map((p) => p.legId).join(',');
    if (parties.map((p) => p.legId).join(',') !== before) void this.step(state.callId, () => ({ type: 'PartiesChanged', parties }));
  }

  /* ------------------------------------------------------------------------------------------ wrapping the backend */

  /** The orchestrator's signalling events, with the supervisors' legs' events taken here first. */
  wrapEvents(events: SignallingEvents): SignallingEvents {
    this.events = events;
    const mine = (legId: LegId): CallId | undefined => this.legCall.get(legId);
    return {
      ...events,
      ringing: (legId) => (mine(legId) ? undefined : events.ringing(legId)),
      answered: (legId) => {
        const callId = mine(legId);
        if (callId === undefined) return events.answered(legId);
        void this.step(callId, () => (this.byCall.get(callId)?.state?.supervisorLeg === legId ? { type: 'SupervisorAnswered' } : null), legId);
      },
      failed: (legId, reason) => {
        const callId = mine(legId);
        if (callId === undefined) return events.failed(legId, reason);
        this.log.info({ callId, legId, reason }, "supervisor's phone did not answer");
        this.supervisorGone(callId, legId);
      },
      hungUp: (legId, lost) => {
        const callId = mine(legId);
        if (callId === undefined) return events.hungUp(legId, lost);
        this.log.info({ callId, legId, lost }, "supervisor's phone hung up");
        this.supervisorGone(callId, legId);
      },
    };
  }

  /** The media the orchestrator uses: a bridge of a supervised call's parties is carried out in the call's room. */
  wrapMedia(media: MediaPort): MediaPort {
    return {
      ...media,
      bridge: async (a, b) => {
        const callId = this.joinedCallOf(a) ?? this.joinedCallOf(b);
        if (callId === undefined) return media.bridge(a, b);
        const room = roomOf({ callId } as CallState);
        await Promise.all([media.joinRoom(room, a), media.joinRoom(room, b)]);
        this.reapply(callId);
      },
      joinRoom: async (room, legId) => {
        await media.joinRoom(room, legId);
        const callId = this.joinedCallOf(legId);
        if (callId !== undefined) this.reapply(callId);
      },
      playHoldMusic: media.playHoldMusic.bind(media),
      playRingback: media.playRingback.bind(media),
      park: media.park.bind(media),
      playErrorTone: media.playErrorTone.bind(media),
    };
  }

  /** Wraps a backend for the orchestrator (its events and media go through this shell). */
  wrapBackend(backend: TelephonyBackend): TelephonyBackend {
    const media = this.wrapMedia(backend.media);
    return {
      name: backend.name,
      signalling: backend.signalling,
      media,
      start: (events) => backend.start(this.wrapEvents(events)),
      stop: () => backend.stop(),
    };
  }

  /* ------------------------------------------------------------------------------------------ the loop */

  private entryId(callId: CallId): CallId | undefined {
    if (this.byCall.has(callId)) return callId;
    const state = this.options.callState(callId);
    return state && this.byCall.has(state.callId) ? state.callId : undefined;
  }

  private joinedCallOf(legId: LegId): CallId | undefined {
    const callId = this.options.callOfLeg(legId);
    return callId !== undefined && this.byCall.get(callId)?.state?.stage === 'joined' ? callId : undefined;
  }

  private partiesOf(callId: CallId): SupervisedParty[] {
    const state = this.options.callState(callId);
    return state ? partiesOf(state) : [];
  }

  private supervisorGone(callId: CallId, legId: LegId): void {
    void this.step(callId, () => (this.byCall.get(callId)?.state?.supervisorLeg === legId ? { type: 'SupervisorGone' } : null));
  }

  private reapply(callId: CallId): void {
    void this.step(callId, () => {
      const s = this.byCall.get(callId)?.state;
      // Not a decision: the same flags again, for members that joined the room anew.
      if (s?.stage === 'joined') void this.execute(callId, { kind: 'setSupervisorAudio', legId: s.supervisorLeg, callId, heardBy: heardBy(s.mode, s.parties) });
      return null;
    });
  }

  /** One step in the call's supervision queue: the event is made when its turn comes, decided, its commands issued. */
  private step(callId: CallId, makeEvent: () => SupervisionEvent | null, answeredLeg?: LegId): Promise<SupervisionReply> {
    let entry = this.byCall.get(callId);
    if (!entry) {
      entry = { state: null, queue: new SerialQueue((error) => this.log.error({ callId, err: error }, 'supervision task failed')) };
      this.byCall.set(callId, entry);
    }
    const current = entry;
    let reply: SupervisionReply = { ok: true };
    return current.queue
      .push(() => {
        const event = makeEvent();
        if (!event) {
          // An answer from a supervisor's phone we no longer want: it must not stay up.
          if (answeredLeg !== undefined) void this.options.signalling.hangup(answeredLeg);
          return;
        }
        const decision = decideSupervision(current.state, event);
        if (decision.refusal) {
          reply = { ok: false, code: decision.refusal };
          if (!current.state && this.byCall.get(callId) === current) this.byCall.delete(callId);
          return;
        }
        const before = current.state;
        current.state = decision.state;
        if (decision.state) this.legCall.set(decision.state.supervisorLeg, callId);
        if (event.type !== 'PartiesChanged') this.log.info({ callId, event: event.type, mode: decision.state?.mode, stage: decision.state?.stage, commands: decision.commands.map((c) => c.kind) }, 'supervision');
        for (const command of decision.commands) void this.execute(callId, command);
        const now = Date.now();
        for (const notice of decision.notices) {
          this.options.tellAgents?.({ workNo: notice.workNo, eventType: 'AgentEvent_Supervisor', content: { callid: callId, mode: notice.mode ?? 'none' }, eventGenTime: now });
        }
        if (!decision.state) {
          if (before) setTimeout(() => this.legCall.delete(before.supervisorLeg), 5000).unref();
        }
        if (!current.state && this.byCall.get(callId) === current) this.byCall.delete(callId);
      })
      .then(() => reply);
  }

  private execute(callId: CallId, command: SupervisionCommand): Promise<void> {
    const run = this.run(callId, command);
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run));
    return run;
  }

  private async run(callId: CallId, command: SupervisionCommand): Promise<void> {
    try {
      switch (command.kind) {
        case 'ringSupervisor': {
          const state = this.options.callState(callId);
          const customer = state ? Object.values(state.legs).find((l) => l.role === 'customer') : undefined;
          this.options.signalling.dial({ legId: command.legId, callId, number: command.phone, callerNumber: customer?.number ?? state?.called ?? 'supervisor' });
          return;
        }
        case 'hangupSupervisor':
          await this.options.signalling.hangup(command.legId);
          return;
        case 'setSupervisorAudio': {
          const state = this.options.callState(callId);
          if (!state) return;
          const room = roomOf(state);
          // The parties that talk (bridged, or already in the room) meet in the call's room.
          const talking: LegId[] = [];
          const moves: Promise<void>[] = [];
          for (const [legId, media] of mediaPlan(state)) {
            if (media.kind === 'bridge') moves.push(this.options.media.joinRoom(room, legId));
            if (media.kind === 'bridge' || media.kind === 'room') talking.push(legId);
          }
          await Promise.all(moves);
          await this.options.supervisionMedia.superviseAudio(room, command.legId, talking, command.heardBy);
          return;
        }
      }
    } catch (error) {
      if (error instanceof LegMediaError) {
        const supervisorLeg = this.byCall.get(callId)?.state?.supervisorLeg;
        this.log.warn({ callId, legId: error.legId, command: command.kind, err: error.message }, 'supervision media failed: leg lost');
        if (error.legId === supervisorLeg) {
          void this.options.signalling.hangup(error.legId);
          this.supervisorGone(callId, error.legId);
        } else {
          // A party's channel failed: as for any media failure, the call decider decides (the phone is hung up).
          this.events?.hungUp(error.legId, true);
        }
        return;
      }
      this.log.error({ callId, command: command.kind, err: error }, 'supervision command failed');
    }
  }
}

/** The call's parties up now: customers, and agents (the agent, and a helper). */
export function partiesOf(state: CallState): SupervisedParty[] {
  return Object.values(state.legs)
    .filter((leg) => leg.status === 'up')
    .map((leg) => (leg.role === 'agent' ? { legId: leg.id, role: 'agent' as const, ...(leg.workNo !== undefined ? { workNo: leg.workNo } : {}) } : { legId: leg.id, role: 'customer' as const }));
}
