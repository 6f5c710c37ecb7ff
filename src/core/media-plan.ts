/**
 * Who hears what, derived from a call's phase. The core never stores media state: it computes the plan before and
 * after each decision and turns the difference into media commands. So media and state cannot disagree, and the
 * invariants (no customer in silence, only legal pairs) can be checked on the plan itself.
 */
import type { CallState, Command, LegId, LegMedia } from './types.js';

export type MediaPlan = ReadonlyMap<LegId, LegMedia>;

export function roomOf(state: CallState): string {
  return `${state.callId}-room`;
}

export function mediaPlan(state: CallState): MediaPlan {
  const plan = new Map<LegId, LegMedia>();
  // Each phase names only legs that are up (the property tests check it), except an owner who has gone.
  const set = (id: LegId, media: LegMedia): void => {
    plan.set(id, media);
  };
  const bridge = (a: LegId, b: LegId): void => {
    set(a, { kind: 'bridge', peer: b });
    set(b, { kind: 'bridge', peer: a });
  };
  const phase = state.phase;
  switch (phase.name) {
    case 'new':
    case 'ended':
    case 'originating':
      break;
    case 'queued':
      set(phase.customer, { kind: 'moh' });
      break;
    case 'offering':
      set(phase.waiting, { kind: phase.waitingHears });
      break;
    case 'connected':
      if (phase.held) {
        set(phase.other, { kind: 'moh' });
        set(phase.agent, { kind: 'park' });
      } else {
        bridge(phase.agent, phase.other);
      }
      break;
    case 'transferring': {
      const t = phase.transfer;
      set(t.customer, { kind: 'ringback' });
      if (!t.transferorGone) set(t.transferor, { kind: 'park' });
      break;
    }
    case 'trunked':
      bridge(phase.customer, phase.outside);
      break;
    case 'help': {
      const h = phase.help;
      if (h.stage === 'conference') {
        const room = roomOf(state);
        for (const id of [h.owner, h.customer, h.helper]) set(id, { kind: 'room', room });
      } else if (h.stage === 'talking') {
        set(h.customer, { kind: 'moh' });
        bridge(h.owner, h.helper);
      } else if (h.mode === 2 && !h.ownerGone) {
        // Three-party help: A and B go on talking while C rings; the room forms when C answers.
        bridge(h.owner, h.customer);
      } else {
        set(h.customer, { kind: 'moh' });
        if (!h.ownerGone) set(h.owner, { kind: 'ringback' });
      }
      break;
    }
  }
  return plan;
}

function sameMedia(a: LegMedia | undefined, b: LegMedia): boolean {
  if (!a || a.kind !== b.kind) return false;
  // A call has one room, so only a bridge's partner can differ between two media of the same kind.
  return a.kind !== 'bridge' || (b.kind === 'bridge' && a.peer === b.peer);
}

/** The media commands that move every up leg from `before` to `after`. A bridge is sent once per pair. */
export function mediaCommands(before: MediaPlan, after: MediaPlan): Command[] {
  const commands: Command[] = [];
  const bridged = new Set<LegId>();
  for (const [legId, media] of after) {
    if (sameMedia(before.get(legId), media)) continue;
    switch (media.kind) {
      case 'bridge':
        if (bridged.has(legId)) break;
        bridged.add(legId).add(media.peer);
        commands.push({ kind: 'bridge', a: legId, b: media.peer });
        break;
      case 'moh':
        commands.push({ kind: 'playHoldMusic', legId });
        break;
      case 'ringback':
        commands.push({ kind: 'playRingback', legId });
        break;
      case 'room':
        commands.push({ kind: 'joinRoom', room: media.room, legId });
        break;
      case 'park':
        commands.push({ kind: 'park', legId });
        break;
    }
  }
  return commands;
}
