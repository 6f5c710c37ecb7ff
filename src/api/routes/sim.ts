/** The simulator's phones, for a person or a test to play (registered only on the simulated backend). */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { SimError, type SimBackend } from '../../telephony/sim/sim-backend.js';
import type { AppContext } from '../context.js';
import { failure, success } from '../envelope.js';
import { Retcodes } from '../retcodes.js';
import { envelopeSchema, phoneNumber } from './schemas.js';

const numberParam = { type: 'object', required: ['number'], properties: { number: phoneNumber } } as const;

export function simRoutes(context: AppContext, sim: SimBackend): FastifyPluginAsync {
  const act = (reply: FastifyReply, action: () => void) => {
    try {
      action();
      return success();
    } catch (error) {
      if (error instanceof SimError) return failure(reply, error.code === 'NOT_RINGING' ? Retcodes.simNotRinging : Retcodes.simNoCall);
      throw error;
    }
  };
  return async (app) => {
    app.post<{ Body: { from: string; to: string; handset?: boolean } }>(
      '/calls',
      {
        schema: {
          body: { type: 'object', required: ['from', 'to'], properties: { from: phoneNumber, to: phoneNumber, handset: { type: 'boolean' } } },
          response: { 200: envelopeSchema },
          summary: 'A customer calls a DID, or (handset: true) an agent\'s handset dials a number; result {id}',
        },
      },
      async (request, reply) => {
        const placed = await sim.placeCustomerCall(request.body.from, request.body.to, request.body.handset === true);
        if (!placed.ok) return failure(reply, Retcodes.simRefused, `${placed.status} ${placed.reason}`);
        return success({ id: placed.id });
      },
    );
    type Phone = { Params: { number: string } };
    app.post<Phone>('/phones/:number/answer', { schema: { params: numberParam, summary: 'The phone answers' } }, async (request, reply) =>
      act(reply, () => sim.answer(request.params.number)),
    );
    app.post<Phone & { Body: { status?: number } | undefined }>(
      '/phones/:number/reject',
      { schema: { params: numberParam, body: { type: 'object', properties: { status: { type: 'integer', minimum: 400, maximum: 699 } } }, summary: 'The phone rejects (default 486)' } },
      async (request, reply) => act(reply, () => sim.reject(request.params.number, request.body?.status ?? 486)),
    );
    app.post<Phone>('/phones/:number/hangup', { schema: { params: numberParam, summary: 'The phone hangs up' } }, async (request, reply) =>
      act(reply, () => sim.hangup(request.params.number)),
    );
    app.post<Phone & { Body: { held: boolean } }>(
      '/phones/:number/hold',
      { schema: { params: numberParam, body: { type: 'object', required: ['held'], properties: { held: { type: 'boolean' } } }, summary: "The phone's own hold button (held: false resumes)" } },
      async (request, reply) => act(reply, () => sim.holdButton(request.params.number, request.body.held)),
    );
    app.post<Phone & { Body: { digits: string } }>(
      '/phones/:number/keys',
      { schema: { params: numberParam, body: { type: 'object', required: ['digits'], properties: { digits: { type: 'string', pattern: '^[0-9*#A-D]{1,40}$' } } }, summary: 'The phone presses keys (RFC 2833)' } },
      async (request, reply) => act(reply, () => sim.pressKeys(request.params.number, request.body.digits)),
    );
    app.post<Phone & { Body: { to: string; replaces?: string; line?: string } }>(
      '/phones/:number/transfer',
      {
        schema: {
          params: numberParam,
          body: {
            type: 'object',
            required: ['to'],
            properties: {
              to: { type: 'string', maxLength: 64 },
              replaces: { type: 'string', maxLength: 128, description: "attended transfer: the id of the phone's other line (as POST /sim/calls returned it)" },
              line: { type: 'string', maxLength: 128, description: 'the line the REFER is sent on (default: the phone\'s first)' },
            },
          },
          summary: "The phone's transfer button (a REFER to `to`, with Replaces naming the phone's other line when `replaces` is given); result {status}: 202 accepted, or the refusal",
        },
      },
      async (request, reply) => {
        try {
          const { to, replaces, line } = request.body;
          const attended = replaces === undefined ? undefined : { replaces, ...(line !== undefined ? { onLeg: line } : {}) };
          return success(await sim.transferButton(request.params.number, to, attended));
        } catch (error) {
          if (error instanceof SimError) return failure(reply, Retcodes.simNoCall);
          throw error;
        }
      },
    );
    app.get<Phone>('/phones/:number/transfer', { schema: { params: numberParam, summary: "What the phone's last accepted transfer was told (NOTIFY statuses, in order)" } }, async (request) =>
      success({ notices: sim.transferNotices(request.params.number) }),
    );
    app.get('/phones', { schema: { summary: "Every agent's phone and every phone that had a call, with what it does and hears; the DIDs customers can call" } }, async () => {
      const seen = sim.phones();
      const agentPhones = new Map<string, string>();
      for (const agent of context.config.agents) agentPhones.set(context.directory.phoneOf(agent.workNo) ?? agent.phone, agent.workNo);
      const numbers = [...new Set([...agentPhones.keys(), ...Object.keys(seen)])];
      return success({
        phones: numbers.map((number) => ({ number, agent: agentPhones.get(number) ?? null, ...(seen[number] ?? sim.phone(number)) })),
        dids: context.config.routes.map((r) => ({ did: r.did, to: r.agent !== undefined ? `agent ${r.agent}` : `skill ${r.skill ?? ''}` })),
      });
    });
    app.get<Phone>('/phones/:number', { schema: { params: numberParam, summary: 'What the phone does and hears: {state, hears}' } }, async (request) =>
      success(sim.phone(request.params.number)),
    );
  };
}
