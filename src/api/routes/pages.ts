/**
 * The browser pages: the agent desktop (/desk), the supervisor's wall (/wall), and on the simulated backend the
 * phones panel (/phones) and a page with all of them side by side (/play). They are static files (web/public, and
 * the bundles esbuild writes to web/dist) that talk to the service only through its public API, so they hold no
 * secret: every piece of data they show comes through the API with the agent's (or the supervisor's) Guid.
 * /phones and /play exist on the simulated backend only.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AgentConfig } from '../../config/config.js';
import type { AppContext } from '../context.js';
import { failure } from '../envelope.js';
import { Retcodes } from '../retcodes.js';

const WEB = fileURLToPath(new URL('../../../web/', import.meta.url));
export const PAGES_PUBLIC = `${WEB}public`;
export const PAGES_BUNDLES = `${WEB}dist`;

export function pageRoutes(context: AppContext): FastifyPluginAsync {
  return async (app) => {
    await app.register(fastifyStatic, { root: [PAGES_PUBLIC, PAGES_BUNDLES], prefix: '/ui/', index: false });
    const page = (file: string) => async (_request: unknown, reply: FastifyReply) => {
      // The bundles are built by `npm run build:web` (npm start and npm test run it first).
      if (!existsSync(`${PAGES_BUNDLES}/${file.replace(/\.html$/, '.js')}`)) {
        return failure(reply, Retcodes.noSuchInterface, 'the pages are not built: run npm run build:web');
      }
      return reply.sendFile(file, PAGES_PUBLIC);
    };
    const hide = { schema: { hide: true } };
    app.get('/', hide, async (_request, reply) => reply.redirect('/desk'));
    app.get('/desk', hide, page('desk.html'));
    app.get('/wall', hide, page('wall.html'));
    if (context.sim) {
      app.get('/phones', hide, page('phones.html'));
      app.get('/play', hide, async (_request, reply) => reply.type('text/html; charset=utf-8').send(playPage(context)));
    }
  };
}

/**
 * Simulator only: two desks, the phones and the wall side by side, so a newcomer plays a help session by mouse.
 * The forms are given the work numbers and phones, never a password: the demo passwords are in config/default.json
 * and the README, and the person types them.
 */
function playPage(context: AppContext): string {
  const frame = (path: string, fill: Record<string, string> | undefined, title: string): string => {
    const query = new URLSearchParams(fill);
    const src = `${path}${fill ? `?${query.toString()}` : ''}`.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
    return `<iframe src="${src}" title="${title.replace(/[<>&"]/g, '')}"></iframe>`;
  };
  const [a, c] = context.config.agents;
  const supervisor = context.config.supervisors[0];
  const desk = (agent: AgentConfig | undefined) => (agent ? { agent: agent.workNo, phone: agent.phone } : undefined);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Play a help session (simulator)</title><link rel="stylesheet" href="/ui/style.css"></head>
<body><nav aria-label="Pages"><a href="/desk">Desk</a> <a href="/wall">Wall</a> <a href="/phones">Phones</a> <a href="/play">Play</a></nav>
<h1>Play a help session on the simulator</h1>
<p>Sign in both desks and the wall (the demo passwords are in the README), call a DID from the phones, answer, ask for help, and watch the wall.</p>
<div class="play">
${frame('/desk', desk(a), `Agent desktop ${a?.workNo ?? ''}`)}
${frame('/desk', desk(c), `Agent desktop ${c?.workNo ?? ''}`)}
${frame('/phones', undefined, 'Simulated phones')}
${frame('/wall', supervisor ? { agent: supervisor.id } : undefined, `Supervisor wall (supervisor ${supervisor?.id ?? ''})`)}
</div></body></html>`;
}
