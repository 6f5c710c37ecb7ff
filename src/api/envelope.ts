/** The vendor's response envelope: {message, retcode, result}. */
import type { FastifyReply } from 'fastify';
import type { Reply } from '../core/types.js';
import { refusalRetcodes, type Retcode } from './retcodes.js';

export interface Envelope<T = unknown> {
  readonly message: string;
  readonly retcode: string;
  readonly result: T | null;
}

export function success<T>(result: T | null = null): Envelope<T> {
  return { message: 'success', retcode: '0', result };
}

export function failure(reply: FastifyReply, code: Retcode, detail?: string): Envelope {
  void reply.code(code.httpStatus);
  return { message: detail ? `${code.message}: ${detail}` : code.message, retcode: code.retcode, result: null };
}

/** A core reply as an envelope: success with the result, or the refusal's retcode and message (HTTP 200). */
export function fromReply(reply: Reply): Envelope {
  if (reply.ok) return success(reply.result);
  return { message: reply.message, retcode: refusalRetcodes[reply.code], result: null };
}
