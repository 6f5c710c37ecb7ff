/** Health, metrics, and the OpenAPI description. */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app.js';

export function opsRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', { schema: { hide: true } }, async () => ({
      status: 'ok',
      backend: context.backendName,
      activeCalls: context.callControl.activeCallCount(),
      signedInAgents: context.sessions.signedInCount(),
    }));
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      void reply.type(context.metrics.registry.contentType);
      return context.metrics.registry.metrics();
    });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}
