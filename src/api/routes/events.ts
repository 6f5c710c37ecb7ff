/** Agent events: the vendor's long poll, and a WebSocket stream of the same envelopes. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';
import { eventEnvelope } from '../sessions.js';
import { requireSession } from './auth.js';
import { agentIdParam, guidHeader } from './schemas.js';

export function eventRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { agentid: string } }>(
      '/agentevent/:agentid',
      {
        preHandler: requireSession(context),
        schema: { params: agentIdParam, headers: guidHeader, summary: 'Long poll: one event, at once if one waits, else within the poll timeout (event null)' },
      },
      async (request, reply) => {
        const event = await context.sessions.poll(request.params.agentid);
        // The service is stopping: this answer is the last on this connection (the desktop reconnects anew).
        if (context.sessions.closed) void reply.header('connection', 'close');
        if (event && request.raw.destroyed) {
          // The desktop went away while we waited: keep the event for its next poll.
          context.sessions.requeue(event);
          return eventEnvelope(null);
        }
        return eventEnvelope(event);
      },
    );

    app.get<{ Params: { agentid: string }; Querystring: { guid?: string } }>(
      '/agentevent/:agentid/stream',
      {
        websocket: true,
        preHandler: requireSession(context),
        schema: { params: agentIdParam, summary: 'WebSocket: every event as it happens, same envelope (Guid header or ?guid=)' },
      },
      (socket, request) => {
        const unsubscribe = context.sessions.subscribe(request.params.agentid, (event) => socket.send(JSON.stringify(eventEnvelope(event))));
        socket.on('close', unsubscribe);
      },
    );
  };
}
