/**
 * A supervisor on a live call, on FreeSWITCH (docs/architecture.md, "Supervisor on a live call"): the supervisor's
 * channel joins the call's mod_conference room muted, then its member flags say who hears it:
 * - monitor: `conference <room> mute <id>` (nobody hears it; it hears every member);
 * - coach: `relate <sup> <member> nospeak` towards each member not in heardBy (the customer), then `unmute`;
 * - barge: relations cleared, `unmute`.
 * Every switch is a flag change on the same member: the supervisor's phone is never called again. Relations are set
 * before unmuting, so a coach's words never reach the customer in between. mod_conference's `relate` and `mute`
 * take member ids, read from its add-member events (FreeSwitchMedia.membersOf).
 */
import type { Logger } from 'pino';
import type { LegId } from '../../core/types.js';
import type { SupervisionMediaPort } from '../../ports/supervision-media.js';
import { LegMediaError } from '../../ports/telephony.js';
import type { FreeSwitchMedia } from './media.js';
import { delay } from './timeouts.js';

/** How long the supervisor's member id may take to be reported after its join (add-member event). */
const MEMBER_WAIT_MS = 3000;

export class FreeSwitchSupervision implements SupervisionMediaPort {
  constructor(
    /** The media adapter of the server the leg lives on (the pool: the call's server). */
    private readonly mediaOf: (legId: LegId) => FreeSwitchMedia | undefined,
    private readonly logger: Logger,
  ) {}

  async superviseAudio(room: string, supervisorLeg: LegId, inRoom: readonly LegId[], heardBy: readonly LegId[]): Promise<void> {
    const media = this.mediaOf(supervisorLeg);
    if (!media) throw new LegMediaError(supervisorLeg, `leg ${supervisorLeg} has no media channel`);
    if (media.view(supervisorLeg)?.room !== room) await media.joinRoom(room, supervisorLeg, 'mute');
    const me = await this.memberId(media, room, supervisorLeg);
    // The parties just put in the room are members once FreeSWITCH says so (add-member): their ids are needed.
    await Promise.all(inRoom.map((legId) => this.memberId(media, room, legId).catch(() => undefined)));
    const hearing = new Set(heardBy);
    const others = media.membersOf(room).filter((m) => m.legId !== supervisorLeg);
    const run = async (args: string): Promise<void> => {
      const reply = await media.conferenceCommand(`${room} ${args}`);
      if (reply.startsWith('-ERR')) this.logger.warn({ room, args, reply: reply.trim() }, 'conference command refused');
    };
    if (hearing.size === 0) {
      await run(`mute ${me} quiet`);
    } else {
      for (const other of others) await run(`relate ${me} ${other.memberId} ${hearing.has(other.legId) ? 'clear' : 'nospeak'}`);
      await run(`unmute ${me} quiet`);
    }
    this.logger.info({ room, supervisorLeg, heardBy: [...hearing], members: others.map((m) => m.legId) }, 'supervisor audio set');
  }

  private async memberId(media: FreeSwitchMedia, room: string, legId: LegId): Promise<string> {
    for (let waited = 0; waited <= MEMBER_WAIT_MS; waited += 20) {
      const view = media.view(legId);
      if (!view || view.gone) throw new LegMediaError(legId, `leg ${legId} went away while joining ${room}`);
      if (view.room === room && view.memberId) return view.memberId;
      await delay(20);
    }
    throw new LegMediaError(legId, `leg ${legId}: no member id in ${room} after ${MEMBER_WAIT_MS} ms`);
  }
}
