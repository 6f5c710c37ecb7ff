/**
 * A supervisor on a live call (issue 20), in the gateway's style:
 * - PUT /supervisor/{supervisorid}/monitor/{callid} {"mode": "monitor"|"coach"|"barge", "phone"?}: joins the call
 *   (its phone is rung first: the configured one, or `phone`), or, when already on it, switches the mode (flags
 *   only: the phone is not rung again);
 * - DELETE /supervisor/{supervisorid}/monitor/{callid}: leaves; the call goes on as it was;
 * - GET /supervisor/{supervisorid}/monitor/{callid}: who supervises the call, in which mode.
 * Only the supervisors of an agent on the call; each action is written to the audit log.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { SupervisionMode } from '../../core/supervision/types.js';
import type { SupervisionReply } from '../../orchestrator/supervision-shell.js';
import type { AppContext } from '../context.js';
import { failure, success, type Envelope } from '../envelope.js';
import { Retcodes, type Retcode } from '../retcodes.js';
import { scopeOf } from '../supervisors.js';
import { requireSupervisor } from './auth.js';
import { envelopeSchema, guidHeader } from './schemas.js';

const params = {
  type: 'object',
  required: ['supervisorid', 'callid'],
  properties: {
    supervisorid: { type: 'string', pattern: '^[1-9][0-9]{2,5}$', description: "the supervisor's id" },
    callid: { type: 'string', pattern: '^[A-Za-z0-9-]{1,80}$', description: 'the call id (as the wall and the agents know it)' },
  },
} as const;
const body = {
  type: 'object',
  required: ['mode'],
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['monitor', 'coach', 'barge'], description: 'monitor: hears all, heard by nobody; coach: heard by the agents only; barge: heard by all' },
    phone: { type: 'string', pattern: '^[0-9]{1,32}$', description: "the phone to ring (default: the supervisor's configured phone)" },
  },
} as const;

const refusals: Record<Exclude<SupervisionReply, { ok: true }>['code'], Retcode> = {
  NO_SUCH_CALL: Retcodes.supervisionNoCall,
  NOT_SUPERVISABLE: Retcodes.notSupervisable,
  ALREADY_SUPERVISED: Retcodes.alreadySupervised,
  NOT_SUPERVISING: Retcodes.notSupervising,
  SUPERVISOR_BUSY: Retcodes.supervisorBusy,
};

type Req = FastifyRequest<{ Params: { supervisorid: string; callid: string }; Body: { mode: SupervisionMode; phone?: string } }>;

export function supervisionRoutes(context: AppContext): FastifyPluginAsync {
  const { config, audit } = context;
  const scopes = new Map(config.supervisors.map((s) => [s.id, scopeOf(config, s)]));
  const record = (who: string, action: string, detail: Record<string, unknown>): void => audit.info({ who, action, ...detail, at: new Date().toISOString() }, `supervisor ${action}`);

  /** The call, when one of this supervisor's agents is on it; otherwise an envelope to answer with. */
  const callFor = (request: Req, reply: FastifyReply): { callId: string } | Envelope => {
    const shell = context.supervision;
    if (!shell) return failure(reply, Retcodes.noSuchInterface);
    const snapshot = context.callControl.callSnapshots().find((c) => c.state.callId === request.params.callid || Object.values(c.state.legs).some((l) => l.callIds.includes(request.params.callid)));
    if (!snapshot) return failure(reply, Retcodes.supervisionNoCall);
    const scope = scopes.get(request.params.supervisorid);
    const ours = Object.values(snapshot.state.legs).some((l) => l.workNo !== undefined && l.status !== 'gone' && scope?.supervises(l.workNo));
    if (!ours) return failure(reply, Retcodes.supervisorsOnly);
    return { callId: snapshot.state.callId };
  };
  const answer = (reply: FastifyReply, outcome: SupervisionReply): Envelope => (outcome.ok ? success() : failure(reply, refusals[outcome.code]));

  return async (app) => {
    const guarded = { preHandler: requireSupervisor(context) };
    app.put(
      '/supervisor/:supervisorid/monitor/:callid',
      { ...guarded, schema: { params, body, headers: guidHeader, response: { 200: envelopeSchema }, summary: "A supervisor on a live call: joins it in a mode (its phone rings first), or switches mode when on it already (the phone is not rung again)" } },
      async (request: Req, reply) => {
        const found = callFor(request, reply);
        if (!('callId' in found)) return found;
        const shell = context.supervision as NonNullable<AppContext['supervision']>;
        const { supervisorid } = request.params;
        const { mode } = request.body;
        const current = shell.view(found.callId);
        if (current?.supervisorId === supervisorid) {
          const outcome = await shell.switchMode(supervisorid, found.callId, mode);
          record(supervisorid, 'supervise-switch', { callid: found.callId, mode, ok: outcome.ok });
          return answer(reply, outcome);
        }
        const phone = request.body.phone ?? config.supervisors.find((s) => s.id === supervisorid)?.phone;
        if (phone === undefined) return failure(reply, Retcodes.noSupervisorPhone);
        const outcome = await shell.start(supervisorid, found.callId, mode, phone);
        record(supervisorid, 'supervise-join', { callid: found.callId, mode, phone, ok: outcome.ok });
        return answer(reply, outcome);
      },
    );
    app.delete(
      '/supervisor/:supervisorid/monitor/:callid',
      { ...guarded, schema: { params, headers: guidHeader, response: { 200: envelopeSchema }, summary: "A supervisor leaves a live call (its phone is hung up); the call goes on as it was" } },
      async (request: Req, reply) => {
        const shell = context.supervision;
        if (!shell) return failure(reply, Retcodes.noSuchInterface);
        const { supervisorid, callid } = request.params;
        const outcome = await shell.leave(supervisorid, callid);
        record(supervisorid, 'supervise-leave', { callid, ok: outcome.ok });
        return answer(reply, outcome);
      },
    );
    app.get(
      '/supervisor/:supervisorid/monitor/:callid',
      { ...guarded, schema: { params, headers: guidHeader, response: { 200: envelopeSchema }, summary: 'Who supervises a call, in which mode and stage (ringing, joined); null when nobody' } },
      async (request: Req, reply) => {
        const found = callFor(request, reply);
        if (!('callId' in found)) return found;
        return success(context.supervision?.view(found.callId) ?? null);
      },
    );
  };
}
