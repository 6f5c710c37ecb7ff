/**
 * The media servers, for operators (issue 21), from this host only like POST /admin/drain:
 * GET /admin/media-servers lists them (up, draining, sessions, limits, calls moved away);
 * POST /admin/media-servers/:id/drain stops new calls to one (its calls end naturally), and
 * POST /admin/media-servers/:id/undrain gives it new calls again. `:id` is fs1, fs2… (configuration order) or host:port.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';
import { failure, success } from '../envelope.js';
import { Retcodes } from '../retcodes.js';

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

export function mediaServerRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    const servers = context.mediaServers;
    app.get('/admin/media-servers', { schema: { hide: true } }, async (request, reply) => {
      if (!isLoopback(request.ip)) return failure(reply, Retcodes.adminLoopbackOnly);
      if (!servers) return failure(reply, Retcodes.noSuchInterface);
      return success(servers.status());
    });
    for (const action of ['drain', 'undrain'] as const) {
      app.post<{ Params: { id: string } }>(`/admin/media-servers/:id/${action}`, { schema: { hide: true } }, async (request, reply) => {
        if (!isLoopback(request.ip)) return failure(reply, Retcodes.adminLoopbackOnly);
        if (!servers || !servers.drain(request.params.id, action === 'drain')) return failure(reply, Retcodes.noSuchInterface);
        request.log.warn({ ip: request.ip, mediaServer: request.params.id, action }, 'media server drain changed by an admin request');
        return success(servers.status().find((s) => s.id === request.params.id || s.address === request.params.id) ?? null);
      });
    }
  };
}
