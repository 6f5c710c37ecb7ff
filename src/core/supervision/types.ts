/**
 * A supervisor on a live call (issue 20, item 2): silent monitor, coach (whisper) and barge, and switching between
 * them during the call without calling again. The pure decider of that concern, beside the call decider: it owns
 * the supervisor's leg and says, for every change, who hears the supervisor; the call decider keeps owning the
 * call's own parties, which the supervisor never changes.
 *
 * Media, as decided for the FreeSWITCH adapter (docs/architecture.md, "Supervisor on a live call"): the call's parties
 * and the supervisor meet in a conference; the supervisor always hears everyone; who hears the supervisor is set
 * with the member's mute flag (monitor: nobody) and conference relationships (`conference <room> relate
 * <supervisor> <member> nospeak`: coach, the customer does not hear it). Switching mode changes flags only, so the
 * supervisor's phone is never called again. Chosen over mod_eavesdrop, whose whisper and barge modes are switched
 * by DTMF from the eavesdropper's own phone, not by the API, and which follows one channel, not a three-party room.
 */

/** monitor: hears all, heard by nobody; coach: heard by the agents only; barge: heard by everyone. */
export type SupervisionMode = 'monitor' | 'coach' | 'barge';

/** A party of the supervised call that is up now (the shell derives them from the call decider's state). */
export interface SupervisedParty {
  readonly legId: string;
  readonly role: 'customer' | 'agent';
  readonly workNo?: string;
}

export interface Supervision {
  readonly callId: string;
  readonly supervisorId: string;
  readonly phone: string;
  readonly mode: SupervisionMode;
  /** ringing: the supervisor's phone is rung; joined: it is in the call's room. */
  readonly stage: 'ringing' | 'joined';
  readonly supervisorLeg: string;
  /** The call's parties up now. */
  readonly parties: readonly SupervisedParty[];
}

export type SupervisionEvent =
  | { readonly type: 'Start'; readonly callId: string; readonly supervisorId: string; readonly phone: string; readonly mode: SupervisionMode; readonly parties: readonly SupervisedParty[]; readonly legId: string }
  | { readonly type: 'Switch'; readonly supervisorId: string; readonly mode: SupervisionMode }
  | { readonly type: 'Leave'; readonly supervisorId: string }
  | { readonly type: 'SupervisorAnswered' }
  | { readonly type: 'SupervisorGone' }
  /** The call's parties changed (someone left or joined, help began or ended). */
  | { readonly type: 'PartiesChanged'; readonly parties: readonly SupervisedParty[] }
  | { readonly type: 'CallEnded' };

export type SupervisionCommand =
  | { readonly kind: 'ringSupervisor'; readonly legId: string; readonly phone: string }
  | { readonly kind: 'hangupSupervisor'; readonly legId: string }
  /**
   * The supervisor in the call's room: hears every party; `heardBy` are the legs that hear it (empty: monitor).
   * Idempotent: the adapter sets flags to exactly this.
   */
  | { readonly kind: 'setSupervisorAudio'; readonly legId: string; readonly callId: string; readonly heardBy: readonly string[] };

export type SupervisionRefusal = 'NOT_SUPERVISABLE' | 'ALREADY_SUPERVISED' | 'NOT_SUPERVISING';

export interface SupervisionDecision {
  readonly state: Supervision | null;
  readonly commands: readonly SupervisionCommand[];
  /** What the agents' desks are told (a configuration choice whether to send them). */
  readonly notices: readonly { readonly workNo: string; readonly mode: SupervisionMode | null }[];
  readonly refusal?: SupervisionRefusal;
}
