/**
 * Views for desktops and the supervisor's wall, in the gateway's style (agentgroup queries of a signed-in agent):
 * every agent with its presence, and every call with its parties and who hears whom. Any signed-in agent may read
 * them, with its own Guid; there is no supervisor role yet.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../context.js';
import { agentViews, callViews } from '../board.js';
import { success } from '../envelope.js';
import { requireSession } from './auth.js';
import { agentIdParam, envelopeSchema, guidHeader } from './schemas.js';

export function boardRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.addHook('preHandler', requireSession(context));
    const schema = { params: agentIdParam, headers: guidHeader, response: { 200: envelopeSchema } };
    app.get(
      '/agentgroup/:agentid/agents',
      { schema: { ...schema, summary: 'Every agent: work number, phone, skills, presence (signed-out, idle, busy) and since when, state (ready, not-ready, rest, wrap-up), its reason and since when' } },
      async () => success(agentViews(context.directory)),
    );
    app.get(
      '/agentgroup/:agentid/calls',
      { schema: { ...schema, summary: 'Every call in progress: its phase, help session, parties and what each party hears' } },
      async () => {
        // This instance's calls, and those the other instances recorded (a store away: this instance's alone).
        const elsewhere = (await context.cluster?.otherInstancesCalls().catch(() => [])) ?? [];
        const here = context.callControl.callSnapshots();
        const ids = new Set(here.map((c) => c.state.callId));
        return success({ at: Date.now(), calls: callViews([...here, ...elsewhere.filter((c) => !ids.has(c.state.callId) && c.state.phase.name !== 'new')]) });
      },
    );
  };
}
