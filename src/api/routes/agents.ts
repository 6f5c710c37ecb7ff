/** Sign in, force sign in, sign out, force sign out. */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { failure, success } from '../envelope.js';
import { knownPhones } from '../../config/config.js';
import { Retcodes } from '../retcodes.js';
import { requireSession } from './auth.js';
import { checkPassword } from './password-check.js';
import { agentIdParam, envelopeSchema, guidHeader, phoneNumber } from './schemas.js';

const signInBody = {
  type: 'object',
  required: ['password'],
  properties: { password: { type: 'string', minLength: 1, maxLength: 256 }, phonenum: phoneNumber },
} as const;

interface SignIn {
  Params: { agentid: string };
  Body: { password: string; phonenum?: string };
}

export function agentRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    const signIn = (force: boolean) => async (request: FastifyRequest<SignIn>, reply: FastifyReply) => {
      const { agentid } = request.params;
      const agent = context.config.agents.find((a) => a.workNo === agentid);
      // Unknown agent and wrong password get the same answer, after the same work: no probing for work numbers.
      const refused = await checkPassword(context, request, reply, agentid, request.body.password, agent);
      if (refused || !agent) return refused;
      const phone = request.body.phonenum ?? agent.phone;
      if (!knownPhones(context.config).has(phone)) return failure(reply, Retcodes.unknownPhone);
      // Checked before a forcelogin takes over: forcing one's own session never frees another agent's phone.
      const holder = context.directory.agentOnPhone(phone);
      if (holder !== undefined && holder !== agentid) return failure(reply, Retcodes.phoneInUse);
      const result = await context.sessions.signIn(agentid, phone, force);
      if (!result.ok) {
        if (result.reason === 'store-unavailable') return failure(reply, Retcodes.storeUnavailable);
        return failure(reply, result.reason === 'phone-in-use' ? Retcodes.phoneInUse : Retcodes.alreadySignedIn);
      }
      void reply.header('Set-GUID', result.token);
      return success({ workNo: agentid, phonenum: phone });
    };
    const schema = { params: agentIdParam, body: signInBody, response: { 200: envelopeSchema } };
    app.put<SignIn>('/onlineagent/:agentid', { schema: { ...schema, summary: 'Sign in (Set-GUID header carries the session token)' } }, signIn(false));
    app.put<SignIn>('/onlineagent/:agentid/forcelogin', { schema: { ...schema, summary: 'Sign in, taking over an existing session' } }, signIn(true));

    const guarded = { preHandler: requireSession(context) };
    app.delete<{ Params: { agentid: string } }>(
      '/onlineagent/:agentid/logout',
      { ...guarded, schema: { params: agentIdParam, headers: guidHeader, summary: 'Sign out (refused while on a call)' } },
      async (request, reply) => {
        const { agentid } = request.params;
        if (context.directory.isBusy(agentid)) return failure(reply, Retcodes.hasCalls);
        await context.sessions.signOut(agentid, 'logout');
        return success();
      },
    );
    app.delete<{ Params: { agentid: string } }>(
      '/onlineagent/:agentid/forcelogout',
      { ...guarded, schema: { params: agentIdParam, headers: guidHeader, summary: "Sign out, releasing the agent's calls" } },
      async (request) => {
        const { agentid } = request.params;
        if (context.directory.isBusy(agentid)) await context.callControl.request({ kind: 'release', workNo: agentid });
        await context.sessions.signOut(agentid, 'forcelogout');
        return success();
      },
    );
  };
}
