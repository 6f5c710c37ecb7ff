/**
 * The agent desktop, the supervisor's wall and the phones panel in a real browser (Debian's chromium driven by
 * playwright-core), against the service on the simulator. Two agents sign in on their desks, a supervisor on the
 * wall; a customer calls from the phones panel; help in each mode; parties leave in different orders. At every
 * step each page must show what the API's events (desk) and views (wall, phones) say.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { agentState, browserTestConfig, signInByApi, calls, lastEvent, launchBrowser, lineIn, phoneRow, screenshot, shows, signIn, startWorld, wallAgent, wallParty, type World } from './harness.js';

const B = '5550100';
let browser: Browser;
let world: World;
const contexts: BrowserContext[] = [];

/** Each page in a window of its own, as a person's desks would be (and none is a throttled background tab). */
async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  // Waits for what a page shows, generous for a loaded 2-core machine; never a measure of speed.
  context.setDefaultTimeout(20_000);
  contexts.push(context);
  return context.newPage();
}

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  world = await startWorld();
});
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  await world?.stop();
});

interface Pages {
  readonly a: Page;
  readonly c: Page;
  readonly phones: Page;
  readonly wall: Page;
}

/** Agent 101 (A) and 102 (C) on their desks, 103 signed in by the API, supervisor 901 on the wall, the phones panel open. */
async function openAll(): Promise<Pages> {
  const [a, c, phones, wall] = [await newPage(), await newPage(), await newPage(), await newPage()];
  await signIn(a, world.url, '/desk', '101');
  await signIn(c, world.url, '/desk', '102');
  await signInByApi(world.url, '103');
  await signIn(wall, world.url, '/wall', '901');
  await phones.goto(`${world.url}/phones`);
  for (const agent of ['101', '102', '103']) await wall.locator(`tr[data-agent="${agent}"][data-presence=idle]`).waitFor();
  return { a, c, phones, wall };
}

/** The customer calls DID 4000 (routed to agent 101) from the phones panel. */
async function customerCalls(p: Pages): Promise<void> {
  await p.phones.getByLabel("Customer's number").fill(B);
  await p.phones.getByLabel('Number called (DID)').selectOption('4000');
  await p.phones.getByRole('button', { name: 'Call', exact: true }).click();
  await shows(lineIn(p.a, 'ringing'), `Ringing: call from ${B}`);
  expect(await lastEvent(p.a)).toContain('AgentEvent_Ringing');
  await phoneRow(p.phones, '2001').and(p.phones.locator('[data-state=ringing]')).waitFor();
  await p.wall.locator(`[data-testid=wall-calls] tr[data-party="${B}"][data-hears=ringback]`).waitFor();
}

async function askHelp(page: Page, helper: string, mode: 'Two-party (customer on hold)' | 'Three-party', note = ''): Promise<void> {
  await page.getByLabel('Helper', { exact: true }).selectOption({ label: helper });
  await page.getByLabel(mode).check();
  await page.getByLabel('Note for the helper').fill(note);
  await page.getByRole('button', { name: 'Ask for help' }).click();
}

async function hears(page: Page, number: string, heard: string): Promise<void> {
  await wallParty(page, number).and(page.locator(`[data-hears="${heard}"]`)).waitFor();
}

describe('agent desktop, wall and phones in a browser', () => {
  it('two-party help to an agent: B on music while A and C talk; C leaves first and A gets B back; then B hangs up', async () => {
    const p = await openAll();
    await customerCalls(p);
    await p.a.getByRole('button', { name: 'Answer', exact: true }).click();
    await shows(lineIn(p.a, 'talking'), `Talking with ${B}`);
    expect(await lastEvent(p.a)).toContain('AgentEvent_Talking');
    await hears(p.wall, B, '2001');
    await shows(p.wall.locator('tr[data-agent="101"]'), 'On a call');

    await askHelp(p.a, 'Agent 102: free', 'Two-party (customer on hold)', 'ticket 7');
    await p.a.locator('[data-testid=calls] article[data-held=true]').waitFor();
    await shows(lineIn(p.a, 'alerting'), 'Asking 102 for help: ringing');
    await shows(lineIn(p.c, 'ringing'), 'Help requested by 101');
    await shows(lineIn(p.c, 'ringing'), 'ticket 7');
    await phoneRow(p.phones, B).and(p.phones.locator('[data-hears=moh]')).waitFor();
    await phoneRow(p.phones, '2001').and(p.phones.locator('[data-hears=ringback]')).waitFor();
    await shows(p.wall.getByTestId('wall-calls'), 'two-party help, helper 102 ringing');

    await p.phones.getByRole('button', { name: 'Answer 2002 (agent 102)' }).click();
    await shows(lineIn(p.a, 'talking').and(p.a.locator('[data-held=false]')), 'Help call with 102');
    await shows(lineIn(p.a, 'talking'), `Talking with ${B} (customer on hold)`);
    await shows(lineIn(p.c, 'talking'), 'Help call with 101');
    await hears(p.wall, '2001', '2002');
    await hears(p.wall, '2002', '2001');
    await hears(p.wall, B, 'moh');
    await shows(p.wall.getByTestId('wall-calls'), 'two-party help, helper 102 talking');
    await screenshot(p.a, 'desk-two-party-help');
    await screenshot(p.c, 'desk-helper');
    await screenshot(p.wall, 'wall-two-party-help');
    await screenshot(p.phones, 'phones-two-party-help');

    // C leaves first: A and B talk again.
    await p.c.getByRole('button', { name: 'Release call' }).click();
    await shows(calls(p.c), 'No call.');
    await lineIn(p.a, 'alerting').waitFor({ state: 'detached' });
    await shows(lineIn(p.a, 'talking').and(p.a.locator('[data-held=false]')), `Talking with ${B}`);
    expect(await p.a.locator('[data-testid=calls] article').count()).toBe(1);
    expect(await p.a.getByTestId('events').textContent()).toContain('AgentEvent_Customer_Release');
    await hears(p.wall, B, '2001');
    await p.wall.locator('tr[data-agent="102"][data-presence=idle]').waitFor();

    await p.phones.getByRole('button', { name: `Hang up ${B} (customer)` }).click();
    await shows(calls(p.a), 'No call.');
    expect(await lastEvent(p.a)).toContain('AgentEvent_Call_Release');
    await shows(p.wall.getByTestId('wall-calls'), 'No call in progress.');
  });

  it('three-party help through a skill: all three talk; A leaves first and B and C go on; then C hangs up', async () => {
    const p = await openAll();
    await customerCalls(p);
    await p.phones.getByRole('button', { name: 'Answer 2001 (agent 101)' }).click();
    await shows(lineIn(p.a, 'talking'), `Talking with ${B}`);

    await askHelp(p.a, 'Skill support: free: 102, 103', 'Three-party');
    await shows(lineIn(p.a, 'alerting'), 'Asking 102 for help: ringing');
    await shows(lineIn(p.a, 'talking').and(p.a.locator('[data-held=false]')), `Talking with ${B}`);
    await shows(p.wall.getByTestId('wall-calls'), 'three-party help, helper 102 ringing');
    await hears(p.wall, B, '2001');

    // C answers from its desk (the answer interface; the simulator's phone does what a real phone would).
    await shows(lineIn(p.c, 'ringing'), 'Help requested by 101');
    await p.c.getByRole('button', { name: 'Answer', exact: true }).click();
    await shows(lineIn(p.a, 'conference'), `Three-party call with ${B} and 102`);
    expect(await p.a.getByTestId('events').textContent()).toContain('AgentEvent_Conference');
    await shows(lineIn(p.c, 'conference'), 'Help call with 101: joined the three-party call');
    await hears(p.wall, B, '2001,2002');
    await hears(p.wall, '2001', '2002,5550100');
    await hears(p.wall, '2002', '2001,5550100');
    await shows(p.wall.getByTestId('wall-calls'), 'three-party help, all three talking');
    await screenshot(p.a, 'desk-three-party');
    await screenshot(p.wall, 'wall-three-party');

    // A leaves first: B and C stay connected.
    await p.a.getByRole('button', { name: 'Release call' }).click();
    await shows(calls(p.a), 'No call.');
    await shows(lineIn(p.c, 'talking'), `Talking with ${B}`);
    expect(await p.c.locator('[data-testid=calls] article').count()).toBe(1);
    await hears(p.wall, B, '2002');
    await p.wall.locator('tr[data-agent="101"][data-presence=idle]').waitFor();

    await p.phones.getByRole('button', { name: 'Hang up 2002 (agent 102)' }).click();
    await shows(calls(p.c), 'No call.');
    await phoneRow(p.phones, B).and(p.phones.locator('[data-state=idle]')).waitFor();
    await shows(p.wall.getByTestId('wall-calls'), 'No call in progress.');
  });

  it('two-party made three-party, C released by number; help dropped by its call id; B leaves a conference and A and C stay', async () => {
    const p = await openAll();
    await customerCalls(p);
    await p.a.getByRole('button', { name: 'Answer', exact: true }).click();
    await shows(lineIn(p.a, 'talking'), `Talking with ${B}`);

    // Two-party, then three-party (confjoin), then A releases C by C's number.
    await askHelp(p.a, 'Agent 102: free', 'Two-party (customer on hold)');
    await p.phones.getByRole('button', { name: 'Answer 2002 (agent 102)' }).click();
    await shows(lineIn(p.a, 'talking'), 'Help call with 102');
    await p.a.getByRole('button', { name: 'Make it three-party' }).click();
    await shows(lineIn(p.a, 'conference'), `Three-party call with ${B} and 102`);
    await hears(p.wall, B, '2001,2002');
    await expect.poll(() => p.a.getByLabel('Party to release (number)').inputValue()).toBe('102');
    await p.a.getByRole('button', { name: 'Release party' }).click();
    await shows(lineIn(p.a, 'talking').and(p.a.locator('[data-held=false]')), `Talking with ${B}`);
    expect(await p.a.locator('[data-testid=calls] article').count()).toBe(1);
    await shows(calls(p.c), 'No call.');
    await hears(p.wall, B, '2001');

    // Two-party again; A drops the help call by its id and gets B back.
    await askHelp(p.a, 'Agent 102: free', 'Two-party (customer on hold)');
    await p.phones.getByRole('button', { name: 'Answer 2002 (agent 102)' }).click();
    await shows(lineIn(p.a, 'talking'), 'Help call with 102');
    await hears(p.wall, B, 'moh');
    await p.a.getByRole('button', { name: 'Drop helper' }).click();
    await shows(lineIn(p.a, 'talking').and(p.a.locator('[data-held=false]')), `Talking with ${B}`);
    await shows(calls(p.c), 'No call.');
    await hears(p.wall, B, '2001');

    // Three-party; B hangs up first: A and C stay, as an internal call.
    await askHelp(p.a, 'Agent 102: free', 'Three-party');
    await p.phones.getByRole('button', { name: 'Answer 2002 (agent 102)' }).click();
    await shows(lineIn(p.a, 'conference'), `Three-party call with ${B} and 102`);
    await p.phones.getByRole('button', { name: `Hang up ${B} (customer)` }).click();
    await shows(lineIn(p.a, 'talking'), 'Help call with 102');
    expect(await p.a.locator('[data-testid=calls] article').count()).toBe(1);
    await hears(p.wall, '2001', '2002');
    await shows(p.wall.getByTestId('wall-calls'), 'Internal call: talking');

    await p.phones.getByRole('button', { name: 'Hang up 2001 (agent 101)' }).click();
    await shows(calls(p.a), 'No call.');
    await shows(calls(p.c), 'No call.');
    await shows(p.wall.getByTestId('wall-calls'), 'No call in progress.');
  });

  it("every refusal is shown with the API's message", async () => {
    const a = await newPage();
    await a.goto(`${world.url}/desk`);
    await a.getByLabel('Work number').fill('101');
    await a.getByLabel('Password').fill('wrong');
    await a.getByRole('button', { name: 'Sign in' }).click();
    await shows(a.getByRole('alert'), 'unknown agent or wrong password (retcode 100-001)');

    await signIn(a, world.url, '/desk', '101');
    await a.getByRole('button', { name: 'Ask for help' }).click();
    await shows(a.getByRole('alert'), 'the agent is not talking with a customer (retcode 200-001)');
    await a.getByRole('button', { name: 'Hold' }).click();
    await shows(a.getByRole('alert'), /no call|not .* call/);
    await screenshot(a, 'desk-refusal');

    // The same agent cannot sign in twice without taking over.
    const again = await newPage();
    await again.goto(`${world.url}/desk`);
    await again.getByLabel('Work number').fill('101');
    await again.getByLabel('Password').fill('pw101');
    await again.getByRole('button', { name: 'Sign in' }).click();
    await shows(again.getByRole('alert'), 'the agent is already signed in (retcode 100-002)');

    // Signing out on a call is refused; the phones panel shows the simulator's refusals too.
    const phones = await newPage();
    await phones.goto(`${world.url}/phones`);
    await phones.getByRole('button', { name: 'Call', exact: true }).click();
    await shows(lineIn(a, 'ringing'), `Ringing: call from ${B}`);
    await a.getByRole('button', { name: 'Sign out', exact: true }).click();
    await shows(a.getByRole('alert'), 'the agent is on a call: use forcelogout to release it (retcode 100-007)');
    await phones.getByRole('button', { name: 'Answer 2002 (agent 102)' }).click();
    await shows(phones.getByRole('alert'), 'that phone has no call (retcode 300-001)');
    // A successful request clears the refusal.
    await a.getByRole('button', { name: 'Answer', exact: true }).click();
    await shows(lineIn(a, 'talking'), `Talking with ${B}`);
    expect((await a.getByRole('alert').textContent())?.trim()).toBe('');
  });

  it('agent states: not ready keeps a skill call away until the agent is ready; wrap-up after the call; refusals as the API words them', async () => {
    // Everyone starts not ready, so the only agent who can take the skill's call is the one this test makes ready;
    // a long wrap-up, so that it ends by sayfree and never by a timer.
    await world.stop();
    const base = browserTestConfig();
    world = await startWorld(0, { ...base, presence: { initialState: 'not-ready', wrapUpSeconds: 3600 } });
    const [a, wall, phones] = [await newPage(), await newPage(), await newPage()];
    await signIn(a, world.url, '/desk', '101');
    await signIn(wall, world.url, '/wall', '901');
    await phones.goto(`${world.url}/phones`);

    // From agentstatus at sign-in (no event says it): not ready.
    await shows(agentState(a), /^Not ready$/);
    await wallAgent(wall, '101', 'not-ready').waitFor();
    await a.getByRole('button', { name: 'Ready', exact: true }).click();
    await shows(agentState(a), /^Ready$/);
    await shows(wallAgent(wall, '101', 'ready'), 'Ready');

    await a.getByLabel('Not ready reason').selectOption({ label: 'Paperwork' });
    await a.getByRole('button', { name: 'Not ready', exact: true }).click();
    await shows(agentState(a), 'Not ready (Paperwork)');
    expect(await lastEvent(a)).toContain('AgentState_SetNotReady_Success');
    await shows(wallAgent(wall, '101', 'not-ready'), 'Not ready (Paperwork)');
    await a.getByRole('button', { name: 'Cancel not ready' }).waitFor();
    await screenshot(a, 'desk-not-ready');
    await screenshot(wall, 'wall-agent-states');

    // A customer calls the skill: nobody is ready, so the call waits in the queue and 101's phone does not ring.
    await phones.getByLabel("Customer's number").fill(B);
    await phones.getByLabel('Number called (DID)').selectOption('4001');
    await phones.getByRole('button', { name: 'Call', exact: true }).click();
    await shows(wall.getByTestId('wall-calls'), 'Customer call to 4001: queued');
    await wall.locator(`[data-testid=wall-calls] tr[data-party="${B}"][data-hears=moh]`).waitFor();
    await phoneRow(phones, '2001').and(phones.locator('[data-state=idle]')).waitFor();
    await shows(calls(a), 'No call.');
    expect(await a.getByTestId('events').textContent()).not.toContain('AgentEvent_Ringing');

    // Ready: the queued call is offered to 101.
    await a.getByRole('button', { name: 'Ready', exact: true }).click();
    await shows(lineIn(a, 'ringing'), `Ringing: call from ${B}`);
    await a.getByRole('button', { name: 'Answer', exact: true }).click();
    await shows(lineIn(a, 'talking'), `Talking with ${B}`);
    await shows(agentState(a), /^Talking$/);
    await shows(wall.locator('[data-testid=agents] tr[data-agent="101"]'), 'On a call');

    // Rest is refused on a call, as the API words it.
    await a.getByRole('button', { name: 'Rest', exact: true }).click();
    await shows(a.getByRole('alert'), 'the agent is already on a call (retcode 200-015)');

    // The customer hangs up: wrap-up, on the desk and the wall; then Ready.
    await phones.getByRole('button', { name: `Hang up ${B} (customer)` }).click();
    await shows(calls(a), 'No call.');
    await shows(agentState(a), /^Wrap-up$/);
    await shows(wallAgent(wall, '101', 'wrap-up'), 'Wrap-up');
    await a.getByRole('button', { name: 'Ready', exact: true }).click();
    await shows(agentState(a), /^Ready$/);
    await wallAgent(wall, '101', 'ready').waitFor();
    expect((await a.getByRole('alert').textContent())?.trim()).toBe('');

    // Rest for 15 minutes, then cancel it; the state survives a reload (from agentstatus and the tab's storage).
    await a.getByLabel('Rest minutes').fill('15');
    await a.getByRole('button', { name: 'Rest', exact: true }).click();
    await shows(agentState(a), /^Rest \(until \d\d:\d\d\)$/);
    await shows(wallAgent(wall, '101', 'rest'), 'Rest');
    await a.reload();
    await shows(a.getByTestId('link'), 'Live');
    await shows(agentState(a), /^Rest \(until \d\d:\d\d\)$/);
    await a.getByRole('button', { name: 'Cancel rest' }).click();
    await shows(agentState(a), /^Ready$/);
    expect(await a.getByRole('button', { name: 'Cancel rest' }).count()).toBe(0);
  });

  it('a dropped event stream: the desk says so, reconnects, and catches up with what happened meanwhile', async () => {
    const a = await newPage();
    let blocked = false;
    const open: { close(): Promise<void> }[] = [];
    await a.routeWebSocket(/\/agentevent\/101\/stream/, (ws) => {
      if (blocked) return void ws.close();
      const server = ws.connectToServer();
      open.push({ close: async () => Promise.all([ws.close(), server.close()]).then(() => undefined) });
    });
    await signIn(a, world.url, '/desk', '101');
    await world.sim.placeCustomerCall(B, '4000');
    await shows(lineIn(a, 'ringing'), `Ringing: call from ${B}`);
    await a.getByRole('button', { name: 'Answer', exact: true }).click();
    await shows(lineIn(a, 'talking'), `Talking with ${B}`);

    // The stream drops and cannot come back for now; the service sees the socket gone.
    blocked = true;
    for (const socket of open.splice(0)) await socket.close();
    await shows(a.getByTestId('link'), 'Connection lost: reconnecting…');
    await expect.poll(() => world.app.websocketServer.clients.size).toBe(0);
    await screenshot(a, 'desk-reconnecting');

    // Meanwhile the customer hangs up: the service keeps A's events for the stream's return.
    world.sim.hangup(B);
    await world.orchestrator.settle();
    expect(await lineIn(a, 'talking').count()).toBe(1);

    blocked = false;
    await shows(a.getByTestId('link'), 'Live');
    await shows(calls(a), 'No call.');
    const events = (await a.getByTestId('events').textContent()) ?? '';
    expect(events).toContain('AgentEvent_Customer_Release');
    expect(events).toContain('AgentEvent_Call_Release');

    // A reload keeps the session and the desk's picture (kept in the tab), and the stream comes back.
    await world.sim.placeCustomerCall(B, '4000');
    await shows(lineIn(a, 'ringing'), `Ringing: call from ${B}`);
    await a.reload();
    await shows(a.getByTestId('link'), 'Live');
    await shows(lineIn(a, 'ringing'), `Ringing: call from ${B}`);
  });

  it('a service restart: desk and wall ask to sign in again, and work once signed in', async () => {
    const a = await newPage();
    const wall = await newPage();
    await signIn(a, world.url, '/desk', '101');
    await signIn(wall, world.url, '/wall', '901');
    const port = world.port;
    await world.stop();
    await shows(a.getByTestId('link'), 'Connection lost: reconnecting…');
    world = await startWorld(port);

    await shows(a.getByTestId('stale'), 'Your session has ended: the agent is not signed in (retcode 100-006). Sign in again.');
    await shows(wall.getByTestId('stale'), 'Your session has ended');
    // The form keeps the work number; the password is typed again.
    expect(await a.getByLabel('Work number').inputValue()).toBe('101');
    await screenshot(a, 'desk-session-ended');
    await signIn(a, world.url, '/desk', '101');
    await signIn(wall, world.url, '/wall', '901');
    await world.sim.placeCustomerCall(B, '4000');
    await shows(lineIn(a, 'ringing'), `Ringing: call from ${B}`);
    await wall.locator(`[data-testid=wall-calls] tr[data-party="${B}"][data-hears=ringback]`).waitFor();
  });
});
