/**
 * WebSocket close codes the service sends (RFC 6455 leaves 4000-4999 to applications): a desk or wall that gets one
 * knows its session is over and why, and signs in again instead of reconnecting. 1012 (service restart) is sent when
 * the instance stops: reconnect, the session goes on.
 */
export const WsClose = {
  signedOut: { code: 4001, reason: 'signed out' },
  takenOver: { code: 4002, reason: 'taken over by another sign-in' },
  expired: { code: 4003, reason: 'session expired' },
} as const;

export type WsCloseReason = (typeof WsClose)[keyof typeof WsClose];
