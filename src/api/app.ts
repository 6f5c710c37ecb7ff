/**
 * The HTTP application: the vendor-compatible agent API under /agentgateway/resource, the simulator's control API
 * (sim backend only), health, metrics and the OpenAPI description. Built as Fastify plugins, one per area.
 */
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AppContext, AppDeps } from './context.js';
import { failure } from './envelope.js';
import { SignInGuard } from './sign-in-guard.js';
import { Metrics } from './metrics.js';
import { Retcodes } from './retcodes.js';
import { agentRoutes } from './routes/agents.js';
import { boardRoutes } from './routes/board.js';
import { eventRoutes } from './routes/events.js';
import { mediaServerRoutes } from './routes/media-servers.js';
import { opsRoutes } from './routes/ops.js';
import { presenceRoutes } from './routes/presence.js';
import { pageRoutes } from './routes/pages.js';
import { simRoutes } from './routes/sim.js';
import { voicecallRoutes } from './routes/voicecall.js';
import { AgentSessions } from './sessions.js';

export const API_PREFIX = '/agentgateway/resource';
/** WebSocket close code (RFC 6455 registry: "Service Restart") sent to every desktop when the service stops. */
export const WS_CLOSE_SERVICE_RESTART = 1012;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Our own access log (below) leaves out query strings, where a WebSocket client may carry its Guid.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.bodyLimitBytes,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  const sessions = new AgentSessions({
    directory: deps.directory,
    callControl: deps.callControl,
    store: deps.store,
    instanceId: deps.instanceId,
    pollTimeoutMs: config.events.pollTimeoutSeconds * 1000,
    heartbeatTimeoutMs: config.events.heartbeatTimeoutSeconds * 1000,
    queueLimit: config.events.queueLimit,
    logger: logger.child({ component: 'sessions' }),
  });
  const metrics = new Metrics(deps.callControl, sessions, deps.mediaTelemetry, deps.admission);
  const signInGuard = new SignInGuard(config.signIn, logger.child({ component: 'sign-in' }), deps.clock);
  const context: AppContext = { ...deps, sessions, metrics, signInGuard };
  // Before the server waits for requests in flight: every waiting long poll is answered now (event null), so a
  // stop never waits for a poll to time out.
  app.addHook('preClose', async () => sessions.close());
  app.addHook('onClose', async () => metrics.close());

  // JSON bodies; an empty body counts as none (desktops send Content-Type on bodiless POSTs too).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(Object.assign(new Error('invalid JSON'), { code: 'BAD_JSON', statusCode: 400 }), undefined);
    }
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.code === 'BAD_JSON') return failure(reply, Retcodes.badJson);
    if (error.validation) return failure(reply, Retcodes.badParameter, `${error.validationContext ?? 'request'}${error.message.replace(/^[a-z]+/, '')}`);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return failure(reply, Retcodes.bodyTooLarge);
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return failure(reply, Retcodes.badContentType);
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return failure(reply, Retcodes.badParameter, error.message);
    request.log.error({ err: error, url: request.routeOptions.url }, 'request failed');
    return failure(reply, Retcodes.internal);
  });
  app.setNotFoundHandler((_request, reply) => failure(reply, Retcodes.noSuchInterface));

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    request.log.info({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Call control for contact centers: agent API', version: '0.1.0', description: 'Vendor-compatible agent gateway API (see README).' },
      components: { securitySchemes: { guid: { type: 'apiKey', in: 'header', name: 'Guid' } } },
    },
  });
  await app.register(websocket, {
    // Every desktop's stream is closed with 1012 "service restart": reconnect (after a short random delay) and
    // resume. The plugin's default would close with no code at all.
    preClose(done) {
      for (const client of this.websocketServer.clients) client.close(WS_CLOSE_SERVICE_RESTART, 'service restarting');
      this.websocketServer.close();
      done();
    },
  });
  app.decorate('releaseDesks', () => {
    sessions.releaseDesks();
    for (const client of app.websocketServer.clients) client.close(WS_CLOSE_SERVICE_RESTART, 'service restarting');
  });
  await app.register(agentRoutes(context), { prefix: API_PREFIX });
  await app.register(eventRoutes(context), { prefix: API_PREFIX });
  await app.register(presenceRoutes(context), { prefix: API_PREFIX });
  await app.register(voicecallRoutes(context), { prefix: API_PREFIX });
  await app.register(boardRoutes(context), { prefix: API_PREFIX });
  if (deps.sim) await app.register(simRoutes(context, deps.sim), { prefix: '/sim' });
  await app.register(opsRoutes(context));
  await app.register(mediaServerRoutes(context));
  await app.register(pageRoutes(context));
  return app;
}
