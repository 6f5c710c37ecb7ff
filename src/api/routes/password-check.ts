/** The password check of both sign-ins (agents and supervisors): throttled per source, one scrypt whatever the account. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { failure, type Envelope } from '../envelope.js';
import type { StoredPassword } from '../passwords.js';
import { Retcodes } from '../retcodes.js';

/** null when the password is right; else the refusal to answer with (wrong password, or the source slowed). */
export async function checkPassword(
  context: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  account: string,
  given: string,
  stored: StoredPassword | undefined,
): Promise<Envelope | null> {
  const source = request.ip;
  const admission = await context.signInGuard.admitShared(source);
  if (!admission.ok) {
    void reply.header('retry-after', String(admission.retryAfterSeconds));
    return failure(reply, Retcodes.signInThrottled);
  }
  try {
    const right = await context.passwords.verify(given, stored);
    if (!right || stored === undefined) {
      await context.signInGuard.recordFailure(source, account);
      return failure(reply, Retcodes.signInFailed);
    }
    await context.signInGuard.recordSuccess(source);
    return null;
  } finally {
    admission.done();
  }
}
