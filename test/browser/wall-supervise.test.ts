/**
 * The wall's buttons per call (issue 20), in a real browser: supervisor 901 listens to agent 101's call with a
 * customer, its phone rings and it answers, then it coaches, joins in, and leaves; what each simulated phone hears
 * follows each click (the customer never hears a listening or coaching supervisor).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestConfig, launchBrowser, shows, signIn, signInByApi, startWorld, type World } from './harness.js';

const B = '5550177';
const SUP = '2901';
let browser: Browser;
let world: World;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  const base = browserTestConfig();
  world = await startWorld(0, { ...base, supervisors: base.supervisors.map((s) => (s.id === '901' ? { ...s, phone: SUP } : s)) });
});
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  await world?.stop();
});

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  context.setDefaultTimeout(20_000);
  contexts.push(context);
  return context.newPage();
}

/** What the phone hears once the service is quiet. */
async function hears(number: string, expected: string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (JSON.stringify(world.sim.phone(number).hears) === JSON.stringify(expected)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(world.sim.phone(number).hears).toEqual(expected);
}

describe("the wall's supervise buttons", () => {
  it('listen, coach, join and leave a live call from the wall', async () => {
    const guid = await signInByApi(world.url, '101');
    await world.sim.placeCustomerCall(B, '4000');
    const answered = await fetch(`${world.url}/agentgateway/resource/voicecall/101/answer`, { method: 'PUT', headers: { guid } });
    expect(((await answered.json()) as { retcode: string }).retcode).toBe('0');
    await hears(B, ['2001']);

    const wall = await newPage();
    await signIn(wall, world.url, '/wall', '901');
    const buttons = wall.getByRole('group', { name: /Supervise call/ });
    await buttons.getByRole('button', { name: 'Listen' }).click();
    await shows(buttons.getByRole('status'), 'Your phone is ringing');
    world.sim.answer(SUP);
    await buttons.getByRole('button', { name: 'Coach' }).click();
    await wall.locator('[data-supervision="coach:joined"]').waitFor();
    await hears(SUP, ['2001', B]);
    await hears('2001', [SUP, B].sort());
    await hears(B, ['2001']);
    await buttons.getByRole('button', { name: 'Join' }).click();
    await wall.locator('[data-supervision="barge:joined"]').waitFor();
    await hears(B, ['2001', SUP].sort());
    await buttons.getByRole('button', { name: 'Listen' }).click();
    await wall.locator('[data-supervision="monitor:joined"]').waitFor();
    await hears(B, ['2001']);
    await hears('2001', [B]);
    await buttons.getByRole('button', { name: 'Leave' }).click();
    await wall.locator('[data-supervision="none"]').waitFor();
    expect(world.sim.phone(SUP).state).toBe('idle');
    await hears(B, ['2001']);
  });
});
