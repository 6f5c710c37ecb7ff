/**
 * Moves the legs of a call whose media server died to another server (issue 21): for each leg, a new channel on
 * the target made with the phone's last SDP (FreeSWITCH answers it, so the channel sends to the phone at once),
 * then a re-INVITE to the phone with the new channel's SDP (drachtio-srf's Dialog#modify), and the phone's answer
 * given to the channel if its media address changed. A phone that does not answer the re-INVITE in time, or
 * refuses it, is not moved: the pool hangs it up and the core decides as if that party had left.
 *
 * The legs' media (bridge, music, room) is set again afterwards by the orchestrator, from the call's phase.
 */
import type Mrf from 'drachtio-fsmrf';
import type { Logger } from 'pino';
import { parse } from 'sdp-transform';
import type { LegId } from '../../core/types.js';
import type { Leg, LegTable } from './legs.js';
import type { MediaServerPool, PoolServer } from './media-server-pool.js';
import { MEDIA_TIMEOUT_HEADER, TAG_HEADERS } from './signalling.js';
import { withTimeout } from './timeouts.js';

export interface MoveOptions {
  readonly pool: MediaServerPool;
  readonly legs: LegTable;
  readonly owner: string;
  readonly mediaTimeoutMs?: number;
  /** Deadline of each step (new channel, the phone's re-INVITE). */
  readonly timeoutMs: number;
  /** The new channel ended without us: as signalling's own listener does. */
  readonly onChannelLost: (legId: LegId, cause: string) => void;
  readonly logger: Logger;
}

type Modifiable = { modify(sdp: string): Promise<string> };

/** The LegMover of the pool: resolves with the legs that moved. */
export function legMover(options: MoveOptions): (legIds: readonly LegId[], target: PoolServer) => Promise<LegId[]> {
  const log = options.logger.child({ component: 'media-move' });
  return async (legIds, target) => {
    const results = await Promise.all(legIds.map((legId) => moveLeg(legId, target).then(() => legId, (error: unknown) => {
      log.warn({ legId, to: target.id, err: (error as Error).message }, 'leg could not be moved');
      return null;
    })));
    return results.filter((id): id is LegId => id !== null);
  };

  async function moveLeg(legId: LegId, target: PoolServer): Promise<void> {
    const leg = options.legs.get(legId);
    if (!leg || leg.state !== 'up' || !leg.dialog || !leg.phoneSdp) throw new Error('leg is not established');
    const started = Date.now();
    const headers: Record<string, string> = { [TAG_HEADERS.owner]: options.owner, [TAG_HEADERS.leg]: leg.id };
    if (leg.callId) headers[TAG_HEADERS.call] = leg.callId;
    if (options.mediaTimeoutMs !== undefined) headers[MEDIA_TIMEOUT_HEADER] = String(options.mediaTimeoutMs);
    const making = options.pool.makeEndpointOn(target, { remoteSdp: leg.phoneSdp, headers });
    let endpoint: Mrf.Endpoint;
    try {
      endpoint = await withTimeout(making, options.timeoutMs, 'createEndpoint on the new server');
    } catch (error) {
      making.then((late) => late.destroy().catch(() => undefined)).catch(() => undefined);
      throw error;
    }
    options.pool.moved(leg.id, target);
    target.media.track(leg.id, endpoint.uuid);
    const old = leg.endpoint;
    leg.endpoint = endpoint;
    endpoint.on('destroy', () => {
      if (leg.endpoint === endpoint) options.onChannelLost(leg.id, 'per-channel socket closed');
    });
    const channelMs = Date.now() - started;
    // A failure here: not moved after all; the new channel goes with the leg (the pool hangs the phone up).
    const answer = await withTimeout((leg.dialog as unknown as Modifiable).modify(endpoint.local.sdp), options.timeoutMs, 're-INVITE to the phone');
    if (answer && mediaAddress(answer) !== mediaAddress(leg.phoneSdp)) {
      leg.phoneSdp = answer;
      await withTimeout(endpoint.dialog?.modify(answer) ?? Promise.resolve(''), options.timeoutMs, 're-INVITE to FreeSWITCH');
    }
    dropOld(leg, old);
    log.info({ legId, to: target.id, channelMs, totalMs: Date.now() - started }, 'leg moved to another media server');
  }
}

/** The dead server's channel: drachtio-srf still holds its SIP dialog; it is let go without waiting. */
function dropOld(_leg: Leg, old: Mrf.Endpoint | undefined): void {
  if (!old) return;
  old.removeAllListeners('destroy');
  old.on('error', () => undefined);
}

/** Where the SDP's first audio stream is sent: connection address and port. */
export function mediaAddress(sdp: string): string {
  try {
    const session = parse(sdp);
    const audio = session.media.find((m) => m.type === 'audio');
    const address = audio?.connection?.ip ?? session.connection?.ip ?? '';
    return `${address}:${audio?.port ?? ''}`;
  } catch {
    return sdp;
  }
}
