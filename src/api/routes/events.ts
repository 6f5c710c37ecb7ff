/** Agent events: the vendor's long poll, and a WebSocket stream of the same envelopes. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';
import { eventEnvelope } from '../sessions.js';
import { requireSession, tokenOf } from './auth.js';
import { agentIdParam, guidHeader } from './schemas.js';

/** An event id as the service gives them (`<ms>-<seq>`), or 0. */
const afterQuery = {
  type: 'object',
  properties: { after: { type: 'string', pattern: '^(0|[0-9]{1,20}-[0-9]{1,20})$', maxLength: 41 } },
} as const;

export function eventRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { agentid: string }; Querystring: { after?: string } }>(
      '/agentevent/:agentid',
      {
        preHandler: requireSession(context),
        schema: {
          params: agentIdParam,
          headers: guidHeader,
          querystring: afterQuery,
          summary: 'Long poll: one event, at once if one waits, else within the poll timeout (event null); `after`: resume after that event id',
        },
      },
      async (request, reply) => {
        const { agentid } = request.params;
        const took = await context.sessions.poll(agentid, tokenOf(request) as string, request.query.after);
        // The service is stopping: this answer is the last on this connection (the desktop reconnects anew).
        if (context.sessions.closed) void reply.header('connection', 'close');
        if (took && request.raw.destroyed) {
          // The desktop went away while we waited: keep the event for its next poll.
          context.sessions.rewind(agentid, took.before);
          return eventEnvelope(null);
        }
        return eventEnvelope(took?.event ?? null);
      },
    );

    app.get<{ Params: { agentid: string }; Querystring: { guid?: string; after?: string } }>(
      '/agentevent/:agentid/stream',
      {
        websocket: true,
        preHandler: requireSession(context, { guidInQuery: true }),
        schema: {
          params: agentIdParam,
          querystring: { type: 'object', properties: { guid: { type: 'string', maxLength: 64 }, after: afterQuery.properties.after } },
          summary: 'WebSocket: the events after `after` (default: where the long poll got), then every event as it happens; same envelope (Guid header, or ?guid= here only: a browser cannot send a header in the handshake). Closed with 4001 signed out, 4002 taken over, 4003 expired',
        },
      },
      (socket, request) => {
        let closed = false;
        let unsubscribe: () => void = () => undefined;
        socket.on('close', () => {
          closed = true;
          unsubscribe();
        });
        void context.sessions
          .subscribe(
            request.params.agentid,
            tokenOf(request, true) as string,
            { send: (event) => socket.send(JSON.stringify(eventEnvelope(event))), close: (code, reason) => socket.close(code, reason) },
            request.query.after,
          )
          .then((off) => {
            if (closed) off();
            else unsubscribe = off;
          });
      },
    );
  };
}
