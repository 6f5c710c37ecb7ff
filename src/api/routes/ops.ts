/** Health, metrics, and the OpenAPI description. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';

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
