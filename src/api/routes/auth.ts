/** The session checks every interface but sign-in goes through: an agent's own, and a supervisor's. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { failure } from '../envelope.js';
import { Retcodes } from '../retcodes.js';

export interface SessionCheckOptions {
  /** The WebSocket handshake only: a browser cannot send a header there, so `?guid=` is taken. */
  readonly guidInQuery?: boolean;
}

/** The Guid must be current and belong to the agent in the path. */
export function requireSession(context: AppContext, options: SessionCheckOptions = {}) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const { agentid } = request.params as { agentid: string };
    const token = tokenOf(request, options.guidInQuery === true);
    let owner: string | undefined;
    try {
      owner = await context.sessions.agentOf(token);
      if (owner === undefined) {
        // A supervisor's Guid on an agent's interface: the session is good, the interface is not its own.
        if (context.supervisors.supervisorOf(token) !== undefined) return reply.send(failure(reply, Retcodes.notYourAgent));
        return reply.send((await context.sessions.isSignedIn(agentid)) ? failure(reply, Retcodes.noSession) : failure(reply, Retcodes.notSignedIn));
      }
    } catch {
      return reply.send(failure(reply, Retcodes.storeUnavailable));
    }
    if (owner !== agentid) return reply.send(failure(reply, Retcodes.notYourAgent));
    return undefined;
  };
}

/**
 * The Guid must be a current supervisor's, of the supervisor in the path (`:supervisorid`, or `:agentid` on the
 * agentgroup paths). An agent's Guid gets 403 (000-012): group views are for supervisors.
 */
export function requireSupervisor(context: AppContext, options: SessionCheckOptions = {}) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const params = request.params as { supervisorid?: string; agentid?: string };
    const id = params.supervisorid ?? params.agentid ?? '';
    const token = tokenOf(request, options.guidInQuery === true);
    const supervisor = context.supervisors.supervisorOf(token);
    if (supervisor === undefined) {
      let agent: string | undefined;
      try {
        agent = await context.sessions.agentOf(token);
      } catch {
        return reply.send(failure(reply, Retcodes.storeUnavailable));
      }
      if (agent !== undefined) return reply.send(failure(reply, Retcodes.supervisorsOnly));
      return reply.send(context.supervisors.isSignedIn(id) ? failure(reply, Retcodes.noSession) : failure(reply, Retcodes.notSignedIn));
    }
    if (supervisor !== id) return reply.send(failure(reply, Retcodes.notYourAgent));
    return undefined;
  };
}

/** The Guid: the header; the query only where the caller allows it (the WebSocket handshake). */
export function tokenOf(request: FastifyRequest, allowQuery = false): string | undefined {
  const header = request.headers.guid;
  if (typeof header === 'string') return header;
  if (!allowQuery) return undefined;
  const query = (request.query as { guid?: unknown } | undefined)?.guid;
  return typeof query === 'string' ? query : undefined;
}
