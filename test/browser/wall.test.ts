/**
 * The wall as a supervisor's page in a real browser: it signs in as supervisor 901, shows the queue figures of
 * calls placed on the simulator (waiting, longest wait, service level, the live chart) as events come, and an
 * agent's session in the same browser cannot read any of the wall's data.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot, shows, signIn, startWorld, type World } from './harness.js';

let browser: Browser;
let world: World;
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  context.setDefaultTimeout(20_000);
  contexts.push(context);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return page;
}

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  world = await startWorld();
  cspViolations.length = 0;
});
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  await world?.stop();
});

const queueRow = (page: Page, skill: string) => page.locator(`[data-testid=queues] tr[data-skill="${skill}"]`);

describe('the wall, signed in as a supervisor', () => {
  it('shows the queue figures of calls placed on the simulator, live, and a chart; an agent cannot read them', async () => {
    const wall = await newPage();
    await signIn(wall, world.url, '/wall', '901');
    await shows(wall.locator('h1'), 'supervisor 901');
    await queueRow(wall, 'support').waitFor();

    // Three customers call the support skill; nobody is signed in, so all three wait.
    for (const from of ['5550101', '5550102', '5550103']) await world.sim.placeCustomerCall(from, '4001');
    await wall.locator('[data-testid=queues] tr[data-skill="support"][data-waiting="3"]').waitFor();
    await shows(wall.getByTestId('help-in-progress'), 'No help session in progress.');
    await wall.locator('[data-testid=waiting-chart] canvas').first().waitFor();

    // An agent signs in on its desk and answers one: two wait, the service level is 100 % (answered within 20 s).
    const desk = await newPage();
    await signIn(desk, world.url, '/desk', '102');
    await desk.getByRole('button', { name: 'Answer', exact: true }).click();
    await wall.locator('[data-testid=queues] tr[data-skill="support"][data-waiting="2"]').waitFor();
    await shows(queueRow(wall, 'support'), '100 %');
    await shows(wall.getByTestId('agents-by-state'), '1 on a call');
    await screenshot(wall, 'wall-supervisor-queues');

    // The agent's own session, in its own page, asks for the wall's data: refused, nothing of it shown.
    const attempts = await desk.evaluate(async () => {
      // In the page (the test's own tsconfig has no DOM types).
      const page = globalThis as unknown as {
        sessionStorage: { length: number; key(i: number): string | null; getItem(key: string): string | null };
        location: { host: string };
        WebSocket: new (url: string) => { onopen: () => void; onerror: () => void };
      };
      const { sessionStorage, location, WebSocket } = page;
      const values = Array.from({ length: sessionStorage.length }, (_, i) => sessionStorage.getItem(sessionStorage.key(i) ?? '') ?? '');
      const stored = values.find((v) => v.includes('guid')) ?? '{}';
      const { session } = JSON.parse(stored) as { session: { guid: string } };
      const out: string[] = [];
      for (const id of ['102', '901']) {
        for (const view of ['queues', 'calls', 'agents']) {
          const r = await fetch(`/agentgateway/resource/agentgroup/${id}/${view}`, { headers: { Guid: session.guid } });
          const body = (await r.json()) as { retcode: string; result: unknown };
          out.push(`${id}/${view} ${r.status} ${body.retcode} ${JSON.stringify(body.result)}`);
        }
      }
      const socket = await new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/agentgateway/resource/agentgroup/901/stream?guid=${session.guid}`);
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
      });
      return { out, socket };
    });
    expect(attempts.out).toEqual([
      '102/queues 403 000-012 null',
      '102/calls 403 000-012 null',
      '102/agents 403 000-012 null',
      '901/queues 403 000-012 null',
      '901/calls 403 000-012 null',
      '901/agents 403 000-012 null',
    ]);
    expect(attempts.socket).toBe('refused');
    expect(cspViolations).toEqual([]);
  });
});
