/** Call control interfaces: internal help and what goes with it, hold, release, answer, internal and outbound calls. */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { HelpMode } from '../../core/types.js';
import type { CallControlRequest } from '../../orchestrator/call-control.js';
import { SimError } from '../../telephony/sim/sim-backend.js';
import type { AppContext } from '../context.js';
import { failure, fromReply, success } from '../envelope.js';
import { forward } from '../forward.js';
import { Retcodes } from '../retcodes.js';
import { requireSession } from './auth.js';
import { agentIdParam, envelopeSchema, guidHeader, phoneNumber } from './schemas.js';

const callId = { type: 'string', minLength: 1, maxLength: 128 } as const;
const withCallId = (name: string) => ({ type: 'object', required: [name], properties: { ...agentIdParam.properties, [name]: callId } }) as const;

const innerhelpBody = {
  type: 'object',
  required: ['dstaddress'],
  properties: {
    dstaddress: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: "helper's agent id (devicetype 2) or skill (devicetype 1)" },
    devicetype: { type: 'integer', enum: [1, 2], default: 2 },
    mode: { type: 'integer', enum: [1, 2], default: 1, description: '1 two-party, 2 three-party' },
    callappdata: { type: 'string', maxLength: 1024, default: '' },
  },
} as const;

const transferBody = {
  type: 'object',
  required: ['devicetype', 'address'],
  properties: {
    devicetype: {
      type: 'integer',
      enum: [1, 2, 5],
      description:
        '1: a skill queue (address: the skill; the customer waits there with music, the agent is free at once), 2: an agent (address: its agent id; ' +
        'the agent being consulted through innerhelp: completes that consultation, B is handed to it), 5: an outside number',
    },
    address: { type: 'string', pattern: '^\\+?[A-Za-z0-9_.*#-]{1,64}$' },
    mode: { type: 'integer', enum: [0], default: 0, description: '0: release transfer, the only mode carried out' },
  },
  // An outside number (devicetype 5) is digits, * and #, with a leading + allowed.
  if: { properties: { devicetype: { const: 5 } } },
  then: { properties: { address: { type: 'string', pattern: '^\\+?[0-9*#]{1,32}$' } } },
} as const;

interface Agent {
  Params: { agentid: string };
}

/** Marks a request one instance passed to another: never passed on again. */
const FORWARDED = 'x-forwarded-by-instance';

/**
 * A request about a call that another live instance owns is carried out there: passed on as it came (the Guid is
 * valid on every instance), and its answer returned as is. The desk never knows which instance holds its call.
 */
function forwardToCallOwner(context: AppContext) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    if (!context.cluster || request.headers[FORWARDED] !== undefined) return undefined;
    const { agentid } = request.params as { agentid: string };
    const owner = await context.cluster.ownerUrlOfAgentCall(agentid).catch(() => null);
    if (owner === null) return undefined;
    const headers: Record<string, string> = { [FORWARDED]: context.instanceId };
    for (const name of ['guid', 'content-type'] as const) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    try {
      const answer = await forward(request.method, `${owner}${request.url}`, headers, request.body !== undefined ? JSON.stringify(request.body) : undefined, 5000);
      request.log.info({ agentid, owner, status: answer.status }, 'request carried out by the instance that owns the call');
      return reply.code(answer.status).type('application/json').send(answer.body);
    } catch (error) {
      request.log.warn({ agentid, owner, err: (error as Error).message }, 'the instance that owns the call did not answer');
      return reply.send(failure(reply, Retcodes.ownerUnreachable));
    }
  };
}

export function voicecallRoutes(context: AppContext): FastifyPluginAsync {
  const { callControl } = context;
  const ask = async (request: CallControlRequest) => fromReply(await callControl.request(request));
  return async (app) => {
    app.addHook('preHandler', requireSession(context));
    app.addHook('preHandler', forwardToCallOwner(context));
    const base = { params: agentIdParam, headers: guidHeader, response: { 200: envelopeSchema } };

    app.post<Agent & { Body: { dstaddress: string; devicetype: 1 | 2; mode: HelpMode; callappdata: string } }>(
      '/voicecall/:agentid/innerhelp',
      { schema: { ...base, body: innerhelpBody, summary: 'Ask for internal help; result: the help call id' } },
      async (request) => {
        const { dstaddress, devicetype, mode, callappdata } = request.body;
        if (devicetype === 2 && !/^[0-9]+$/.test(dstaddress)) return fromReply({ ok: false, code: 'HELPER_UNKNOWN', message: 'the helper is not a known agent or skill' });
        const helper = devicetype === 1 ? { kind: 'skill' as const, skill: dstaddress } : { kind: 'agent' as const, workNo: dstaddress };
        return ask({ kind: 'innerhelp', workNo: request.params.agentid, mode, helper, callappdata });
      },
    );
    app.post<Agent & { Body: { devicetype: 1 | 2 | 5; address: string } }>(
      '/voicecall/:agentid/transfer',
      {
        schema: {
          ...base,
          body: transferBody,
          summary:
            "Transfer of the agent's customer: blind to an agent, a skill queue or an outside number; or, to the agent being consulted (innerhelp mode 1, answered), the completion of that consultation (attended transfer); result: the call id",
        },
      },
      async (request) => {
        const { devicetype, address } = request.body;
        const to =
          devicetype === 2 ? { kind: 'agent' as const, workNo: address } : devicetype === 1 ? { kind: 'skill' as const, skill: address } : { kind: 'number' as const, number: address };
        return ask({ kind: 'transfer', workNo: request.params.agentid, to, fromPhone: false });
      },
    );
    app.post<{ Params: { agentid: string; callid: string } }>(
      '/voicecall/:agentid/dropcall/:callid',
      { schema: { ...base, params: withCallId('callid'), summary: 'Disconnect the call with this id (the A–C call during two-party help)' } },
      async (request) => ask({ kind: 'dropcall', workNo: request.params.agentid, callid: request.params.callid }),
    );
    app.post<{ Params: { agentid: string; number: string } }>(
      '/voicecall/:agentid/disconnect/:number',
      {
        schema: {
          ...base,
          params: { type: 'object', required: ['number'], properties: { ...agentIdParam.properties, number: phoneNumber } },
          summary: "Release a party of the current call by number (C's agent id during three-party help)",
        },
      },
      async (request) => ask({ kind: 'disconnect', workNo: request.params.agentid, number: request.params.number }),
    );
    app.post<Agent>('/voicecall/:agentid/hold', { schema: { ...base, summary: 'Put the customer on hold (music)' } }, async (request) =>
      ask({ kind: 'hold', workNo: request.params.agentid }),
    );
    app.post<Agent & { Querystring: { callid?: string } }>(
      '/voicecall/:agentid/gethold',
      { schema: { ...base, querystring: { type: 'object', properties: { callid: callId } }, summary: 'Take the customer off hold' } },
      async (request) => ask({ kind: 'gethold', workNo: request.params.agentid, callid: request.query.callid ?? null }),
    );
    app.post<Agent & { Body: { callid: string } }>(
      '/voicecall/:agentid/confjoin',
      { schema: { ...base, body: { type: 'object', required: ['callid'], properties: { callid: callId } }, summary: 'Turn two-party help into three-party (callid: the held call)' } },
      async (request) => ask({ kind: 'confjoin', workNo: request.params.agentid, callid: request.body.callid }),
    );
    app.delete<Agent>('/voicecall/:agentid/release', { schema: { ...base, summary: "Release the agent's own call" } }, async (request) =>
      ask({ kind: 'release', workNo: request.params.agentid }),
    );
    app.put<Agent & { Querystring: { callid?: string } }>(
      '/voicecall/:agentid/answer',
      { schema: { ...base, querystring: { type: 'object', properties: { callid: callId } }, summary: "Answer the agent's ringing phone (simulated backend only)" } },
      async (request, reply: FastifyReply) => {
        if (!context.sim) return failure(reply, Retcodes.notSupported);
        const phone = context.directory.phoneOf(request.params.agentid) as string;
        try {
          context.sim.answer(phone);
        } catch (error) {
          if (error instanceof SimError) return failure(reply, Retcodes.notRinging);
          throw error;
        }
        return success();
      },
    );
    const called = { type: 'object', required: ['called'], properties: { called: phoneNumber } } as const;
    app.put<Agent & { Body: { called: string } }>(
      '/voicecall/:agentid/callinner',
      { schema: { ...base, body: called, summary: "Call another agent: the agent's phone rings first; result: the call id" } },
      async (request) => fromReply(await callControl.callInner(request.params.agentid, request.body.called)),
    );
    app.put<Agent & { Body: { called: string } }>(
      '/voicecall/:agentid/callout',
      { schema: { ...base, body: called, summary: "Call a customer through the gateway: the agent's phone rings first; result: the call id" } },
      async (request) => fromReply(await callControl.callOut(request.params.agentid, request.body.called)),
    );
  };
}
