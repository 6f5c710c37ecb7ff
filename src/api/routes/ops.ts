/** Health, metrics, and the OpenAPI description. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';

export function opsRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', { schema: { hide: true } }, async (_request, reply) => {
      const servers = context.backendStatus?.();
      const down = servers !== undefined && Object.values(servers).some((up) => !up);
      // 503 while a server is unreachable, so a load balancer or orchestrator sees it.
      if (down) void reply.code(503);
      return {
        status: down ? 'degraded' : 'ok',
        backend: context.backendName,
        ...(servers ? { servers } : {}),
        ...(context.mediaTelemetry ? { reconciler: context.mediaTelemetry.report() } : {}),
        activeCalls: context.callControl.activeCallCount(),
        signedInAgents: context.sessions.signedInCount(),
      };
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      void reply.type(context.metrics.registry.contentType);
      return context.metrics.registry.metrics();
    });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}
