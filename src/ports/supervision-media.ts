/**
 * The media a supervisor on a live call needs (issue 20): beside MediaPort, implemented by the simulator and by the
 * FreeSWITCH adapter (and the pool of them). The call's parties are in the call's room (the shell puts them there);
 * the supervisor's leg joins that room, hears every member, and is heard by `heardBy` only.
 */
import type { LegId } from '../core/types.js';

export interface SupervisionMediaPort {
  /**
   * The supervisor's leg in `room` (joined, muted, if not there yet), heard by exactly the members in `heardBy`:
   * none (monitor), the agents (coach), all (barge). Idempotent: sets the flags to exactly this; a change of mode is
   * a flag change on the same member, the phone is never called again.
   */
  /** `inRoom`: the call's parties that are (or are being put) in the room, whose joins it may wait for. */
  superviseAudio(room: string, supervisorLeg: LegId, inRoom: readonly LegId[], heardBy: readonly LegId[]): Promise<void>;
}
