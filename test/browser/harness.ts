/**
 * For the browser tests: the whole service on the simulated backend (on 127.0.0.1, a free port, restartable on the
 * same port), and Debian's chromium driven by playwright-core (no browser download: /usr/bin/chromium, installed
 * by .ci/run with apt; CHROMIUM_PATH overrides).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import type { AppConfig } from '../../src/config/config.js';
import type { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { assembleService } from '../../src/service.js';
import { SimBackend } from '../../src/telephony/sim/sim-backend.js';
import { testConfig } from '../component/api-harness.js';

export const PASSWORDS: Readonly<Record<string, string>> = { '101': 'pw101', '102': 'pw102', '103': 'pw103', '901': 'pw901', '902': 'pw902' };

export function browserTestConfig(): AppConfig {
  const base = testConfig();
  return {
    ...base,
    // A person clicks: nothing may time out under a slow machine while a test looks at a page.
    help: { answerTimeoutSeconds: 60 },
    routing: { offerTimeoutSeconds: 60, requeueSeconds: 60 },
    events: { pollTimeoutSeconds: 1, heartbeatTimeoutSeconds: 120, queueLimit: 100 },
  };
}

/** An agent signed in through the API alone (no desk page): it shows on the wall and can be asked for help. */
export async function signInByApi(url: string, workNo: string): Promise<string> {
  const response = await fetch(`${url}/agentgateway/resource/onlineagent/${workNo}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORDS[workNo] }) });
  const guid = response.headers.get('set-guid');
  if (!guid) throw new Error(`sign-in of ${workNo} failed: ${await response.text()}`);
  return guid;
}

export interface World {
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly sim: SimBackend;
  readonly orchestrator: Orchestrator;
  stop(): Promise<void>;
}

/** The service on the simulator; `port` 0 picks a free one (a restart passes the one it had). */
export async function startWorld(port = 0, config: AppConfig = browserTestConfig()): Promise<World> {
  const logger = pino({ level: 'silent' });
  const sim = new SimBackend();
  const service = await assembleService(config, logger, { backend: sim });
  const { app, orchestrator } = service;
  const url = await service.listen(port);
  return {
    url,
    port: Number(new URL(url).port),
    app,
    sim,
    orchestrator,
    stop: () => service.close(),
  };
}

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) throw new Error(`no chromium at ${path}: install Debian's chromium (apt-get install chromium chromium-driver, as .ci/run does) or set CHROMIUM_PATH`);
  return path;
}

export async function launchBrowser(): Promise<Browser> {
  // Playwright gives the browser a fresh, empty profile (its own --user-data-dir) and --headless.
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Four pages side by side: none of them may be throttled as a background tab (timers, animation frames).
      '--disable-background-timer-throttling',
      '--disable-backgrounding-occluded-windows',
      '--disable-renderer-backgrounding',
    ],
  });
}

const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';
const SHOTS = fileURLToPath(new URL(UPDATE ? '../../docs/screenshots/' : '../../test-results/screenshots/', import.meta.url));

/** Screenshots of the main screens: test-results/screenshots/, or docs/screenshots/ (linked from the README) with UPDATE_SCREENSHOTS=1. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

/** Waits until the locator has an element containing the text (throws if it never does). */
export async function shows(locator: Locator, text: string | RegExp): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor();
}

export async function signIn(page: Page, url: string, path: '/desk' | '/wall', workNo: string): Promise<void> {
  await page.goto(`${url}${path}`);
  // The wall signs in as a supervisor (its id), a desk as an agent (its work number).
  await page.getByLabel(path === '/wall' ? 'Supervisor id' : 'Work number').fill(workNo);
  await page.getByLabel('Password').fill(PASSWORDS[workNo] ?? '');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await shows(page.getByTestId('link'), 'Live');
}

/** The desk's calls area, and one call in it by its state. */
export function calls(page: Page): Locator {
  return page.getByTestId('calls');
}

export function lineIn(page: Page, state: 'ringing' | 'alerting' | 'talking' | 'conference'): Locator {
  return page.locator(`[data-testid=calls] article[data-state=${state}]`);
}

/** The newest event the desk shows. */
export async function lastEvent(page: Page): Promise<string> {
  return (await page.getByTestId('events').locator('li').first().textContent()) ?? '';
}

/** A party row on the wall, by phone number. */
/** The desk's state line (Ready, Not ready (reason), Rest (until …), Wrap-up, Talking). */
export function agentState(page: Page): Locator {
  return page.getByTestId('agent-state');
}

/** An agent's row on the wall, in a state (ready, not-ready, rest, wrap-up). */
export function wallAgent(page: Page, workNo: string, state: 'ready' | 'not-ready' | 'rest' | 'wrap-up'): Locator {
  return page.locator(`[data-testid=agents] tr[data-agent="${workNo}"][data-state="${state}"]`);
}

export function wallParty(page: Page, number: string): Locator {
  return page.locator(`[data-testid=wall-calls] tr[data-party="${number}"]`);
}

export function phoneRow(page: Page, number: string): Locator {
  return page.locator(`[data-testid=phones] tr[data-phone="${number}"]`);
}
