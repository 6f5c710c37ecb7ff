/**
 * Agent states, on the vendor's paths: saybusy (not ready, with a reason), sayfree (ready), cancelbusy, rest (with a
 * time and a cause), cancelrest, and agentstatus. The presence decider answers; its AgentState_* events go out on
 * the agent's event stream.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AgentPresence } from '../../core/presence/types.js';
import type { AppContext } from '../context.js';
import { fromReply, success } from '../envelope.js';
import { requireSession } from './auth.js';
import { agentIdParam, envelopeSchema, guidHeader } from './schemas.js';

/** The vendor's agentState codes (agentstatus): 3 busy, 4 idle, 5 wrap-up, 7 talking, 8 rest. */
export const VendorAgentState = { notReady: 3, idle: 4, wrapUp: 5, talking: 7, rest: 8 } as const;

function vendorState(presence: AgentPresence | undefined, onCall: boolean): number {
  if (onCall) return VendorAgentState.talking;
  switch (presence?.status) {
    case 'not-ready':
      return VendorAgentState.notReady;
    case 'rest':
      return VendorAgentState.rest;
    case 'wrap-up':
      return VendorAgentState.wrapUp;
    default:
      return VendorAgentState.idle;
  }
}

// Path and query values arrive as text: their ranges are the vendor's (busy reasons 0 or 200–250, rest 1–86399 s,
// rest causes 0–255).
const busyReason = { type: 'string', pattern: '^(0|2[0-4][0-9]|250)$', description: 'busy reason code: 0 (none) or 200–250' } as const;
const restTime = { type: 'string', pattern: '^([1-9][0-9]{0,3}|[1-7][0-9]{4}|8[0-5][0-9]{3}|86[0-3][0-9]{2})$', description: 'rest duration in seconds, 1–86399' } as const;
const restCause = { type: 'string', pattern: '^([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$', description: 'rest cause code, 0–255' } as const;
const prolong = { type: 'string', enum: ['true', 'false'] } as const;

interface Agent {
  Params: { agentid: string };
}

export function presenceRoutes(context: AppContext): FastifyPluginAsync {
  const { directory } = context;
  return async (app) => {
    app.addHook('preHandler', requireSession(context));
    const base = { params: agentIdParam, headers: guidHeader, response: { 200: envelopeSchema } };

    app.post<Agent & { Querystring: { reason?: string; prolong?: string } }>(
      '/onlineagent/:agentid/saybusy',
      { schema: { ...base, querystring: { type: 'object', properties: { reason: busyReason, prolong } }, summary: 'Not ready (busy), with a reason code' } },
      async (request) => fromReply(directory.presenceRequest(request.params.agentid, { kind: 'saybusy', reason: Number(request.query.reason ?? 0) })),
    );
    app.post<Agent>('/onlineagent/:agentid/sayfree', { schema: { ...base, summary: 'Ready (idle): ends not ready, rest or wrap-up' } }, async (request) =>
      fromReply(directory.presenceRequest(request.params.agentid, { kind: 'sayfree' })),
    );
    app.post<Agent>('/onlineagent/:agentid/cancelbusy', { schema: { ...base, summary: 'Leave the not-ready state (ready again)' } }, async (request) =>
      fromReply(directory.presenceRequest(request.params.agentid, { kind: 'cancelbusy' })),
    );
    app.post<{ Params: { agentid: string; time: string; restcause: string }; Querystring: { prolong?: string } }>(
      '/onlineagent/:agentid/rest/:time/:restcause',
      {
        schema: {
          ...base,
          params: { type: 'object', required: ['agentid', 'time', 'restcause'], properties: { ...agentIdParam.properties, time: restTime, restcause: restCause } },
          querystring: { type: 'object', properties: { prolong } },
          summary: 'Rest for a time (seconds) with a cause; ready again when it runs out',
        },
      },
      async (request) =>
        fromReply(directory.presenceRequest(request.params.agentid, { kind: 'rest', seconds: Number(request.params.time), reason: Number(request.params.restcause) })),
    );
    app.post<Agent>('/onlineagent/:agentid/cancelrest', { schema: { ...base, summary: 'End rest early (ready again)' } }, async (request) =>
      fromReply(directory.presenceRequest(request.params.agentid, { kind: 'cancelrest' })),
    );
    app.get<Agent>('/onlineagent/:agentid/agentstatus', { schema: { ...base, summary: "The agent's state (vendor codes) and whether it is on a call" } }, async (request) => {
      const { agentid } = request.params;
      const presence = directory.presenceOf(agentid);
      const onCall = directory.isBusy(agentid);
      return success({ agentState: vendorState(presence, onCall), isWorking: onCall, status: onCall ? 'talking' : (presence?.status ?? 'ready'), reason: presence?.reason ?? 0 });
    });
  };
}
