/** Health, metrics, and the OpenAPI description. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';
import { failure, success } from '../envelope.js';
import { Retcodes } from '../retcodes.js';

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

export function opsRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', { schema: { hide: true } }, async (_request, reply) => {
      const servers = context.backendStatus?.();
      const down = servers !== undefined && Object.values(servers).some((up) => !up);
      const draining = context.cluster?.draining ?? false;
      // 503 while a server is unreachable or this instance drains, so a load balancer sends desks elsewhere.
      if (down || draining) void reply.code(503);
      return {
        status: draining ? 'draining' : down ? 'degraded' : 'ok',
        backend: context.backendName,
        instance: context.instanceId,
        store: { kind: context.store.kind, available: context.store.available },
        ...(servers ? { servers } : {}),
        ...(context.mediaTelemetry ? { reconciler: context.mediaTelemetry.report() } : {}),
        ...(context.mediaServers ? { mediaServers: context.mediaServers.status() } : {}),
        ...(context.admission ? { admission: context.admission.report() } : {}),
        activeCalls: context.callControl.activeCallCount(),
        signedInAgents: context.sessions.signedInCount(),
      };
    });
    // The documented admin request for a drain (docs/operations.md): the same stop as SIGTERM, asked over HTTP by
    // an operator on the host itself. Only from loopback: the API has no admin role to check here.
    app.post('/admin/drain', { schema: { hide: true } }, async (request, reply) => {
      const stop = context.cluster?.requestStop;
      if (!isLoopback(request.ip)) return failure(reply, Retcodes.adminLoopbackOnly);
      if (!stop) return failure(reply, Retcodes.noSuchInterface);
      request.log.warn({ ip: request.ip }, 'drain asked by an admin request');
      setImmediate(() => stop('admin request'));
      return success({ instance: context.instanceId, draining: true });
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      void reply.type(context.metrics.registry.contentType);
      return context.metrics.registry.metrics();
    });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}
