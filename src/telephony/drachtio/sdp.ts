/**
 * What a phone's re-INVITE asks for. Our answer never pushes a phone's hold into FreeSWITCH (a held conference
 * member that later hangs up can make FreeSWITCH drop another member); only a real media change (new address,
 * port or codecs) is passed on to the media server.
 */
import { parse, write } from 'sdp-transform';

export type ReInvite = 'refresh' | 'hold' | 'resume' | 'media-change';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

function audio(sdp: string): { address: string; port: number; codecs: string; direction: Direction } {
  const session = parse(sdp);
  const media = session.media.find((m) => m.type === 'audio') ?? session.media[0];
  const address = media?.connection?.ip ?? session.connection?.ip ?? '';
  const direction = (media?.direction ?? session.direction ?? 'sendrecv') as Direction;
  const codecs = (media?.rtp ?? []).map((r) => `${r.codec}/${r.rate}`).join(',');
  return { address, port: media?.port ?? 0, codecs, direction };
}

export function classifyReInvite(previous: string, next: string): ReInvite {
  const before = audio(previous);
  const after = audio(next);
  const holding = after.direction === 'sendonly' || after.direction === 'inactive' || after.address === '0.0.0.0';
  if (holding) return 'hold';
  if (before.address !== after.address || before.port !== after.port || before.codecs !== after.codecs) return 'media-change';
  const wasHolding = before.direction === 'sendonly' || before.direction === 'inactive' || before.address === '0.0.0.0';
  return wasHolding ? 'resume' : 'refresh';
}

/** Our SDP with the direction that answers the phone's offer (RFC 3264: sendonly -> recvonly, inactive -> inactive). */
export function answerDirection(ourSdp: string, offer: string): string {
  const offered = audio(offer).direction;
  const wanted: Direction = offered === 'sendonly' ? 'recvonly' : offered === 'inactive' ? 'inactive' : offered === 'recvonly' ? 'sendonly' : 'sendrecv';
  const session = parse(ourSdp);
  delete session.direction;
  for (const m of session.media) m.direction = wanted;
  // A new version, as the answer changed (RFC 3264 §8).
  if (session.origin) session.origin.sessionVersion = Number(session.origin.sessionVersion) + 1;
  return write(session);
}

/** The same SDP with another direction for its media (a new version, as it changed). */
export function withDirection(sdp: string, direction: Direction): string {
  const session = parse(sdp);
  delete session.direction;
  for (const m of session.media) m.direction = direction;
  if (session.origin) session.origin.sessionVersion = Number(session.origin.sessionVersion) + 1;
  return write(session);
}

/** Does this offer need a DTLS/SRTP handshake (we anchor plain RTP only)? */
export function isSecureOffer(sdp: string): boolean {
  return /m=audio [0-9]+ [A-Z/]*SAVP/.test(sdp);
}
