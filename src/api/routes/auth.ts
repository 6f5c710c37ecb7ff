/** The session check every agent interface but sign-in goes through. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { failure } from '../envelope.js';
import { Retcodes } from '../retcodes.js';

/** The Guid must be current and belong to the agent in the path. */
export function requireSession(context: AppContext) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const { agentid } = request.params as { agentid: string };
    const token = tokenOf(request);
    let owner: string | undefined;
    try {
      owner = await context.sessions.agentOf(token);
      if (owner === undefined) {
        return reply.send((await context.sessions.isSignedIn(agentid)) ? failure(reply, Retcodes.noSession) : failure(reply, Retcodes.notSignedIn));
      }
    } catch {
      return reply.send(failure(reply, Retcodes.storeUnavailable));
    }
    if (owner !== agentid) return reply.send(failure(reply, Retcodes.notYourAgent));
    return undefined;
  };
}

/** The Guid: the header, or the query (a WebSocket handshake cannot carry a header from a browser). */
export function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.guid;
  const query = (request.query as { guid?: string } | undefined)?.guid;
  return typeof header === 'string' ? header : query;
}
