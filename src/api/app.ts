/**
 * The HTTP application: the vendor-compatible agent API under /agentgateway/resource, the simulator's control API
 * (sim backend only), health, metrics and the OpenAPI description. Built as Fastify plugins, one per area.
 */
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AppContext, AppDeps } from './context.js';
import { failure } from './envelope.js';
import { PasswordChecker } from './passwords.js';
import { SignInGuard } from './sign-in-guard.js';
import { SupervisorSessions } from './supervisors.js';
import { supervisorRoutes } from './routes/supervisors.js';
import { supervisionRoutes } from './routes/supervision.js';
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
    // Node's own limit, said here so that it is known: beyond it the request gets 431 (000-014) in the envelope.
    http: { maxHeaderSize: 16384 },
    // The sign-in throttle counts per source address: behind a reverse proxy, the proxies named here are trusted to
    // say the client's (X-Forwarded-For); with none, the peer's address counts.
    ...(config.http.trustedProxies.length > 0 ? { trustProxy: [...config.http.trustedProxies] } : {}),
    // A URL Fastify cannot decode: the envelope, not Fastify's own error format (and never the URL, which may hold
    // anything).
    frameworkErrors: (error, _request, frameworkReply) => {
      const reply = frameworkReply as unknown as FastifyReply;
      void reply.send(failure(reply, error.code === 'FST_ERR_BAD_URL' ? Retcodes.badRequest : Retcodes.badParameter));
    },
    // What Node's HTTP parser refuses before Fastify sees a request (over-long headers, garbage): the envelope too.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const code = error.code === 'HPE_HEADER_OVERFLOW' ? Retcodes.headersTooLarge : Retcodes.badRequest;
      const body = JSON.stringify({ message: code.message, retcode: code.retcode, result: null });
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${code.httpStatus} ${code.httpStatus === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      socket.destroy();
    },
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
    maxWaitingPolls: config.events.maxWaitingPolls,
    logger: logger.child({ component: 'sessions' }),
  });
  const metrics = new Metrics(deps.callControl, sessions, deps.mediaTelemetry, deps.admission);
  const signInGuard = new SignInGuard(config.signIn, logger.child({ component: 'sign-in' }), deps.clock, undefined, deps.store);
  const passwords = new PasswordChecker(deps.passwordHasher);
  const supervisors = new SupervisorSessions(config.events.heartbeatTimeoutSeconds * 1000, deps.clock);
  const audit = logger.child({ component: 'audit' });
  const context: AppContext = { ...deps, sessions, metrics, signInGuard, passwords, supervisors, audit };
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

  // Security headers on every answer, pages and API alike (see docs/dependencies.md). The pages load scripts,
  // styles and data from this origin only; the play page frames the others (same origin). Plain HTTP is allowed
  // (no upgrade-insecure-requests): TLS is the reverse proxy's (README, Security).
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: { 'upgrade-insecure-requests': null, 'frame-ancestors': ["'self'"], 'connect-src': ["'self'"], 'style-src': ["'self'"] },
    },
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
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
  await app.register(supervisorRoutes(context), { prefix: API_PREFIX });
  await app.register(supervisionRoutes(context), { prefix: API_PREFIX });
  if (deps.sim) await app.register(simRoutes(context, deps.sim), { prefix: '/sim' });
  await app.register(opsRoutes(context));
  await app.register(mediaServerRoutes(context));
  await app.register(pageRoutes(context));
  return app;
}
