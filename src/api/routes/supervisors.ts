/**
 * Supervisors: sign-in on their own paths (in the gateway's style: PUT /onlinesupervisor/{id}, .../forcelogin,
 * DELETE .../logout), and the group views of the agents they supervise under /agentgroup/{supervisorid}/…: agents,
 * calls (with the customers' numbers), queue figures, and a WebSocket that pushes the supervised agents' events and
 * a notice whenever the calls change, so the wall re-reads the views on events instead of polling. An agent's Guid
 * gets 403 (000-012) on every one of them. Each supervisor action is written to the audit log.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { CallSnapshot } from '../../orchestrator/call-control.js';
import { agentViews, callViews } from '../board.js';
import type { AppContext } from '../context.js';
import { WsClose } from '../close-codes.js';
import { failure, success } from '../envelope.js';
import { Retcodes } from '../retcodes.js';
import { scopeOf, type SupervisorScope } from '../supervisors.js';
import { ServiceLevelTracker, wallFigures } from '../wall-figures.js';
import { requireSupervisor, tokenOf } from './auth.js';
import { checkPassword } from './password-check.js';
import { envelopeSchema, guidHeader } from './schemas.js';

const supervisorIdParam = {
  type: 'object',
  required: ['supervisorid'],
  properties: { supervisorid: { type: 'string', pattern: '^[1-9][0-9]{2,5}$', description: "the supervisor's id" } },
} as const;
const groupParam = {
  type: 'object',
  required: ['agentid'],
  properties: { agentid: { type: 'string', pattern: '^[1-9][0-9]{2,5}$', description: "the supervisor's id (agents get 000-012)" } },
} as const;

/** Pushed on a supervisor's stream when the calls it sees changed (its content: the supervisor's id). */
export const BOARD_CHANGED = 'Supervisor_BoardChanged';

interface Stream {
  readonly supervisor: string;
  readonly token: string;
  readonly scope: SupervisorScope;
  send(text: string): void;
  close(code: number, reason: string): void;
}

export function supervisorRoutes(context: AppContext): FastifyPluginAsync {
  const { config, audit, supervisors } = context;
  const scopes = new Map(config.supervisors.map((s) => [s.id, scopeOf(config, s)]));
  const tracker = new ServiceLevelTracker(config.wall.serviceLevelSeconds * 1000);
  const streams = new Set<Stream>();
  const record = (who: string, action: string, detail: Record<string, unknown> = {}): void =>
    audit.info({ who, action, ...detail, at: new Date().toISOString() }, `supervisor ${action}`);

  const closeStreams = (token: string, why: { code: number; reason: string }): void => {
    for (const stream of [...streams]) if (stream.token === token) stream.close(why.code, why.reason);
  };

  /** This instance's calls changed (or time passed): the service level follows, the walls are told. */
  let lastPrint = '';
  const look = (): void => {
    const snapshots = context.callControl.callSnapshots();
    tracker.observe(snapshots, Date.now());
    const agents = agentViews(context.directory).map((a) => `${a.workNo}:${a.presence}:${a.state ?? ''}:${a.reason ?? ''}`);
    // The minute too: the service level's windows slide.
    const print = `${fingerprint(snapshots)}#${agents.join(',')}#${Math.floor(Date.now() / 60_000)}`;
    if (print === lastPrint) return;
    lastPrint = print;
    for (const stream of streams) stream.send(JSON.stringify({ message: '', retcode: '0', event: { eventType: BOARD_CHANGED, workNo: stream.supervisor, eventGenTime: Date.now(), content: null } }));
  };

  return async (app) => {
    // At most one look per 200 ms however many events come (a busy instance makes many): the service level's
    // answer times are that exact.
    let pending: NodeJS.Timeout | null = null;
    const offEvents = context.callControl.onAgentEvent(() => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        look();
      }, 200);
      pending.unref();
    });
    // Other instances' agents (a shared store): their events reach the walls of their supervisors here too.
    const offStored = context.store.onEvent((stored) => {
      const event = stored.event as { eventType: string; eventGenTime: number; content: unknown };
      for (const stream of streams) {
        if (!stream.scope.supervises(stored.workNo)) continue;
        stream.send(JSON.stringify({ message: '', retcode: '0', event: { eventType: event.eventType, workNo: stored.workNo, eventGenTime: event.eventGenTime, content: event.content } }));
      }
    });
    // Queue changes send no agent event (a customer arrives, waits, hangs up); and sessions expire.
    const ticker = setInterval(() => {
      look();
      for (const token of supervisors.expire()) closeStreams(token, WsClose.expired);
    }, 1000);
    ticker.unref();
    app.addHook('onClose', async () => {
      clearInterval(ticker);
      if (pending) clearTimeout(pending);
      offEvents();
      offStored();
    });

    const signIn = (force: boolean) => async (request: FastifyRequest<{ Params: { supervisorid: string }; Body: { password: string } }>, reply: FastifyReply) => {
      const { supervisorid } = request.params;
      const supervisor = config.supervisors.find((s) => s.id === supervisorid);
      const refused = await checkPassword(context, request, reply, supervisorid, request.body.password, supervisor);
      if (refused || !supervisor) {
        record(supervisorid, 'sign-in-refused', { retcode: refused?.retcode, source: request.ip });
        return refused;
      }
      const outcome = supervisors.signIn(supervisorid, force);
      if (!outcome.ok) return failure(reply, Retcodes.alreadySignedIn);
      if (outcome.replaced) closeStreams(outcome.replaced, WsClose.takenOver);
      record(supervisorid, force ? 'forcelogin' : 'sign-in', { source: request.ip, tookOver: outcome.replaced !== null });
      void reply.header('Set-GUID', outcome.token);
      return success({ id: supervisorid, skills: [...(scopes.get(supervisorid)?.skills ?? [])] });
    };
    const body = { type: 'object', required: ['password'], properties: { password: { type: 'string', minLength: 1, maxLength: 256 } } } as const;
    const signInSchema = { params: supervisorIdParam, body, response: { 200: envelopeSchema } };
    app.put('/onlinesupervisor/:supervisorid', { schema: { ...signInSchema, summary: 'Supervisor sign-in (Set-GUID header carries the session token)' } }, signIn(false));
    app.put('/onlinesupervisor/:supervisorid/forcelogin', { schema: { ...signInSchema, summary: "Supervisor sign-in, taking over the supervisor's open session" } }, signIn(true));
    app.delete<{ Params: { supervisorid: string } }>(
      '/onlinesupervisor/:supervisorid/logout',
      { preHandler: requireSupervisor(context), schema: { params: supervisorIdParam, headers: guidHeader, summary: 'Supervisor sign-out (its wall streams are closed with 4001)' } },
      async (request) => {
        const token = tokenOf(request) as string;
        supervisors.signOut(request.params.supervisorid);
        closeStreams(token, WsClose.signedOut);
        record(request.params.supervisorid, 'sign-out');
        return success();
      },
    );

    const guarded = { preHandler: requireSupervisor(context) };
    const schema = { params: groupParam, headers: guidHeader, response: { 200: envelopeSchema } };
    const scopeOfRequest = (request: FastifyRequest): SupervisorScope => scopes.get((request.params as { agentid: string }).agentid) as SupervisorScope;
    const allCalls = async (): Promise<CallSnapshot[]> => {
      // This instance's calls, and those the other instances recorded (a store away: this instance's alone).
      const elsewhere = (await context.cluster?.otherInstancesCalls().catch(() => [])) ?? [];
      const here = context.callControl.callSnapshots();
      const ids = new Set(here.map((c) => c.state.callId));
      return [...here, ...elsewhere.filter((c) => !ids.has(c.state.callId) && c.state.phase.name !== 'new')];
    };

    app.get(
      '/agentgroup/:agentid/agents',
      { ...guarded, schema: { ...schema, summary: "Supervisors: the agents they supervise with phone, skills, presence (signed-out, idle, busy) and since when, state and its reason and since when" } },
      async (request) => {
        const scope = scopeOfRequest(request);
        record(scope.id, 'read-agents');
        return success(agentViews(context.directory).filter((a) => scope.supervises(a.workNo)));
      },
    );
    app.get(
      '/agentgroup/:agentid/calls',
      { ...guarded, schema: { ...schema, summary: 'Supervisors: the calls of the agents they supervise and of their skill queues: phase, help session, parties (customer numbers included) and what each hears' } },
      async (request) => {
        const scope = scopeOfRequest(request);
        const views = callViews((await allCalls()).filter((c) => visibleTo(scope, c)));
        record(scope.id, 'read-calls', { callids: views.map((v) => v.callid) });
        return success({ at: Date.now(), calls: views });
      },
    );
    app.get(
      '/agentgroup/:agentid/queues',
      { ...guarded, schema: { ...schema, summary: "Supervisors: per skill calls waiting, longest wait, service level over 15 and 60 minutes; the supervised agents by state; help sessions in progress" } },
      async (request) => {
        const scope = scopeOfRequest(request);
        const now = Date.now();
        tracker.observe(context.callControl.callSnapshots(), now);
        record(scope.id, 'read-queues');
        return success(wallFigures(scope, await allCalls(), agentViews(context.directory), tracker, config.wall.serviceLevelSeconds, now));
      },
    );
    app.get<{ Params: { agentid: string }; Querystring: { guid?: string } }>(
      '/agentgroup/:agentid/stream',
      {
        websocket: true,
        preHandler: requireSupervisor(context, { guidInQuery: true }),
        schema: {
          params: groupParam,
          querystring: { type: 'object', properties: { guid: { type: 'string', maxLength: 64 } } },
          summary: `Supervisors, WebSocket: the supervised agents' events and ${BOARD_CHANGED} when the calls change (Guid header, or ?guid= here only). Closed with 4001 signed out, 4002 taken over, 4003 expired`,
        },
      },
      (socket, request) => {
        const token = tokenOf(request, true) as string;
        const scope = scopeOfRequest(request);
        const done = supervisors.streamOpened(token);
        const stream: Stream = { supervisor: scope.id, token, scope, send: (text) => socket.send(text), close: (code, reason) => socket.close(code, reason) };
        streams.add(stream);
        record(scope.id, 'stream-opened');
        socket.on('close', () => {
          streams.delete(stream);
          done();
        });
      },
    );
  };
}

/** A call a supervisor may see: one of its agents is a party, or it waits in one of its skills' queues. */
function visibleTo(scope: SupervisorScope, { state }: CallSnapshot): boolean {
  if (Object.values(state.legs).some((leg) => leg.workNo !== undefined && scope.supervises(leg.workNo))) return true;
  return state.route?.kind === 'skill' && scope.skills.has(state.route.skill);
}

function fingerprint(snapshots: readonly CallSnapshot[]): string {
  return snapshots
    .map(({ state }) => `${state.callId}:${state.phase.name}:${state.phase.name === 'help' ? state.phase.help.stage : ''}:${state.phase.name === 'connected' && state.phase.held ? 'h' : ''}:${Object.values(state.legs).map((l) => l.status).join(',')}`)
    .sort()
    .join('|');
}
