/**
 * The media commands that give legs which lost theirs (moved to another media server: they hear nothing) what
 * the call's phase says they hear. Pure: the plan of media-plan.ts, restricted to those legs, from nothing.
 */
import { mediaCommands, mediaPlan } from './media-plan.js';
import type { CallState, Command, LegId, LegMedia } from './types.js';

export function replayMedia(state: CallState, legs: ReadonlySet<LegId>): Command[] {
  const plan = mediaPlan(state);
  const restricted = new Map<LegId, LegMedia>();
  for (const [legId, media] of plan) {
    if (!legs.has(legId)) continue;
    // A bridge is set again from either side: both legs are on the same (new) server.
    restricted.set(legId, media);
  }
  return mediaCommands(new Map(), restricted);
}
