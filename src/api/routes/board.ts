/**
 * What an agent's desk may know of the others: who could help now (the helper picker). Work numbers, skills and
 * whether each is free (signed in, ready, not on a call): no phone numbers, states, reasons or times, and no calls.
 * Those are the supervisors' (routes/supervisors.ts: /agentgroup/{supervisorid}/agents, /calls, /queues).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';
import { success } from '../envelope.js';
import { requireSession } from './auth.js';
import { agentIdParam, envelopeSchema, guidHeader } from './schemas.js';

export interface HelperView {
  readonly workNo: string;
  readonly skills: readonly string[];
  readonly free: boolean;
}

export function boardRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { agentid: string } }>(
      '/agentgroup/:agentid/helpers',
      {
        preHandler: requireSession(context),
        schema: { params: agentIdParam, headers: guidHeader, response: { 200: envelopeSchema }, summary: 'Agents: the other agents with their skills and whether each is free to help now (nothing more)' },
      },
      async (request) => {
        const me = request.params.agentid;
        const { directory } = context;
        const helpers: HelperView[] = directory
          .allProfiles()
          .filter((p) => p.workNo !== me)
          .map((p) => ({
            workNo: p.workNo,
            skills: p.skills,
            free: directory.boardPresenceOf(p.workNo).presence === 'idle' && (directory.presenceOf(p.workNo)?.status ?? 'ready') === 'ready',
          }));
        return success(helpers);
      },
    );
  };
}
