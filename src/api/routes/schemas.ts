/** JSON schemas shared by the routes (Fastify validates with them and @fastify/swagger publishes them). */
export const agentIdParam = {
  type: 'object',
  required: ['agentid'],
  properties: { agentid: { type: 'string', pattern: '^[1-9][0-9]{2,5}$', description: "the agent's work number" } },
} as const;

export const phoneNumber = { type: 'string', pattern: '^\\+?[0-9*#]{1,32}$' } as const;

export const envelopeSchema = {
  type: 'object',
  properties: { message: { type: 'string' }, retcode: { type: 'string' }, result: {} },
} as const;

export const guidHeader = {
  type: 'object',
  properties: { guid: { type: 'string', description: 'session token from Set-GUID at sign-in' } },
} as const;
