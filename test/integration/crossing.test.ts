/**
 * Crossing hang-ups on real servers: after an ordinary call, two-party help and three-party help, the parties hang
 * up in every order with 0, 20, 50 and 200 ms between them; and hang-ups that cross each media step (the customer
 * while A's help request is carried out, C while the room forms, A while C rings). 1.5 s after the last BYE the
 * service must have no call and no busy agent, and FreeSWITCH none of the call's channels and no room.
 *
 * The phones are small SIP phones of our own (support/sip-phone.ts) so that each BYE leaves at the millisecond the
 * test says. Eight lanes run side by side, each with its own agents and DID, so the suite also puts FreeSWITCH
 * under some load while hang-ups cross.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipPhone } from './support/sip-phone.js';
import { integrationEnv, startStack, type Stack, ok } from './support/stack.js';

const env = integrationEnv();
if (typeof env === 'string') console.log(`integration suite (crossing hang-ups) skipped: ${env}`);

const LANES = 8;
const MEDIA_TIMEOUT_MS = 3000;
const GAPS = [0, 20, 50, 200];
type Party = 'A' | 'B' | 'C';
type Kind = 'call' | 'two-party' | 'three-party';

interface Lane {
  readonly a: { workNo: string; phone: string };
  readonly c: { workNo: string; phone: string };
  readonly did: string;
  readonly customer: string;
}

const lanes: Lane[] = Array.from({ length: LANES }, (_, i) => ({
  a: { workNo: String(201 + 2 * i), phone: String(3001 + 2 * i) },
  c: { workNo: String(202 + 2 * i), phone: String(3002 + 2 * i) },
  did: String(4100 + i),
  customer: String(5550200 + i),
}));

/** Where each agent phone listens (a fresh port per case, so nothing late from one case reaches the next). */
const phonePorts = new Map<string, number>();
let nextPort = 41000;
const allocate = (): { sip: number; rtp: number } => {
  nextPort += 2;
  return { sip: nextPort, rtp: nextPort + 10000 };
};

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long each innerhelp request took to be answered by the service (ms). */
const helpReplies: number[] = [];

function percentiles(values: number[]): string {
  const sorted = [...values].sort((x, y) => x - y);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return `n=${sorted.length} p50=${p(0.5)} ms p99=${p(0.99)} ms max=${sorted.at(-1)} ms`;
}

describe.skipIf(typeof env === 'string')('crossing hang-ups on real servers', () => {
  let stack: Stack;
  const sipPort = typeof env === 'string' ? 5060 : env.sipPort;

  beforeAll(async () => {
    const real = env as Exclude<typeof env, string>;
    stack = await startStack(real, {
      agents: lanes.flatMap((l) => [l.a, l.c]),
      contactFor: (phone) => {
        const port = phonePorts.get(phone);
        return port ? `sip:${phone}@127.0.0.1:${port}` : undefined;
      },
      routes: lanes.map((l) => ({ did: l.did, route: { kind: 'agent' as const, workNo: l.a.workNo } })),
      listenPort: real.freeswitch.listenPort + 1,
      // These phones send RTP all the time, so FreeSWITCH's media timeout can be short enough to test here.
      mediaSilenceTimeoutMs: MEDIA_TIMEOUT_MS,
    });
  }, 30_000);

  afterAll(async () => {
    await stack?.stop();
  });


  async function waitEvent(from: number, workNo: string, type: string, ms = 8000): Promise<void> {
    await stack.waitFor((e) => stack.events.indexOf(e) >= from && e.workNo === workNo && e.eventType === type, `${type} for ${workNo}`, ms);
  }

  async function agentPhone(agent: { phone: string }): Promise<SipPhone> {
    const ports = allocate();
    const phone = await SipPhone.open(agent.phone, ports.sip, ports.rtp);
    phonePorts.set(agent.phone, ports.sip);
    return phone;
  }

  /** The call's legs (by phone number) and their FreeSWITCH channels, while all are up. */
  function channelsOf(lane: Lane): Map<string, string> {
    const found = new Map<string, string>();
    for (const state of stack.orchestrator.callStates()) {
      for (const leg of Object.values(state.legs)) {
        if (![lane.a.phone, lane.c.phone, lane.customer].includes(leg.number) || leg.status !== 'up') continue;
        const uuid = stack.backend.channelOf(leg.id);
        if (uuid) found.set(leg.number, uuid);
      }
    }
    return found;
  }

  /** Waits until FreeSWITCH reports the media the call should have now (from its channel events). */
  async function mediaIs(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`FreeSWITCH never showed ${what}`);
      await sleep(10);
    }
  }

  const legOf = (number: string): string | undefined => {
    for (const state of stack.orchestrator.callStates()) for (const leg of Object.values(state.legs)) if (leg.number === number && leg.status === 'up') return leg.id;
    return undefined;
  };
  const view = (number: string) => {
    const leg = legOf(number);
    return leg ? stack.backend.channelView(leg) : undefined;
  };

  interface Parties {
    readonly A: SipPhone;
    readonly B: SipPhone;
    readonly C: SipPhone | null;
  }

  /** A talks with B (and, for help, C is connected in the mode asked). */
  async function setUp(lane: Lane, kind: Kind): Promise<Parties> {
    const from = stack.events.length;
    const A = (await agentPhone(lane.a)).answerAfter(0);
    const C = kind === 'call' ? null : (await agentPhone(lane.c)).answerAfter(0);
    const ports = allocate();
    const B = await SipPhone.open(lane.customer, ports.sip, ports.rtp);
    expect(await B.call({ host: '127.0.0.1', port: sipPort }, lane.did)).toBe(200);
    await waitEvent(from, lane.a.workNo, 'AgentEvent_Talking');
    await mediaIs(() => view(lane.a.phone)?.bridgedTo === view(lane.customer)?.uuid, 'A bridged to B');
    const askHelp = async (mode: 1 | 2): Promise<void> => {
      const started = performance.now();
      const reply = await stack.orchestrator.request({ kind: 'innerhelp', workNo: lane.a.workNo, mode, helper: { kind: 'agent', workNo: lane.c.workNo }, callappdata: '' });
      helpReplies.push(Math.round((performance.now() - started) * 10) / 10);
      ok(reply);
    };
    if (kind === 'two-party') {
      await askHelp(1);
      await waitEvent(from, lane.c.workNo, 'AgentEvent_Talking');
      await mediaIs(() => view(lane.a.phone)?.bridgedTo === view(lane.c.phone)?.uuid && view(lane.customer)?.application === 'endless_playback', 'A–C bridged, B on music');
    } else if (kind === 'three-party') {
      await askHelp(2);
      await waitEvent(from, lane.a.workNo, 'AgentEvent_Conference');
      await mediaIs(() => [lane.a.phone, lane.c.phone, lane.customer].every((n) => !!view(n)?.room), 'all three in the room');
    }
    return { A, B, C };
  }

  /** 1.5 s after the last BYE: no call, no busy agent, none of the call's channels, no room. */
  async function nothingLeft(lane: Lane, channels: Map<string, string>, parties: Parties): Promise<void> {
    await sleep(1500);
    const left = stack.orchestrator.callStates().filter((s) => Object.values(s.legs).some((l) => [lane.a.phone, lane.c.phone, lane.customer].includes(l.number)));
    expect(left.map((s) => s.phase.name), 'calls left in the service').toEqual([]);
    expect(stack.directory.isBusy(lane.a.workNo) || stack.directory.isBusy(lane.c.workNo), 'an agent still busy').toBe(false);
    for (const [number, uuid] of channels) expect((await stack.fsApi(`uuid_exists ${uuid}`)).trim(), `channel of ${number} left on FreeSWITCH`).toBe('false');
    for (const p of [parties.A, parties.B, parties.C]) if (p) expect(p.state, `${p.number} still in a call`).not.toBe('talking');
  }

  async function crossing(lane: Lane, kind: Kind, order: Party[], gap: number): Promise<void> {
    const parties = await setUp(lane, kind);
    const channels = channelsOf(lane);
    expect(channels.size).toBe(kind === 'call' ? 2 : 3);
    try {
      const byes: Promise<number>[] = [];
      for (const [i, who] of order.entries()) {
        if (i > 0 && gap > 0) await sleep(gap);
        const phone = parties[who];
        if (phone) byes.push(phone.hangup());
      }
      await Promise.all(byes);
      await nothingLeft(lane, channels, parties);
    } finally {
      for (const p of [parties.A, parties.B, parties.C]) p?.close();
    }
  }

  /** Runs cases in LANES parallel lanes; each lane takes the next case when its previous one is done. */
  async function inLanes<T>(cases: readonly T[], run: (lane: Lane, c: T) => Promise<void>): Promise<void> {
    const queue = [...cases];
    const failures: string[] = [];
    await Promise.all(
      lanes.map(async (lane) => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
          try {
            await run(lane, c);
          } catch (error) {
            failures.push(`${JSON.stringify(c)}: ${(error as Error).message}`);
          }
        }
      }),
    );
    expect(failures).toEqual([]);
  }

  it('an ordinary call: A and B hang up in both orders, 0-200 ms apart', async () => {
    const cases = permutations<Party>(['A', 'B']).flatMap((order) => GAPS.map((gap) => ({ order, gap })));
    await inLanes(cases, (lane, c) => crossing(lane, 'call', c.order, c.gap));
  }, 120_000);

  it('two-party help with C connected: A, B and C hang up in every order, 0-200 ms apart', async () => {
    const cases = permutations<Party>(['A', 'B', 'C']).flatMap((order) => GAPS.map((gap) => ({ order, gap })));
    await inLanes(cases, (lane, c) => crossing(lane, 'two-party', c.order, c.gap));
  }, 180_000);

  it('three-party help: A, B and C hang up in every order, 0-200 ms apart', async () => {
    const cases = permutations<Party>(['A', 'B', 'C']).flatMap((order) => GAPS.map((gap) => ({ order, gap })));
    await inLanes(cases, (lane, c) => crossing(lane, 'three-party', c.order, c.gap));
  }, 180_000);

  it('the customer hangs up while A\'s help request is being carried out (both modes, 0-50 ms after the request)', async () => {
    const cases = [1, 2].flatMap((mode) => [0, 5, 20, 50].map((delay) => ({ mode: mode as 1 | 2, delay })));
    await inLanes(cases, async (lane, c) => {
      const parties = await setUp(lane, 'call');
      const C = (await agentPhone(lane.c)).answerAfter(0);
      const channels = channelsOf(lane);
      try {
        const request = stack.orchestrator.request({ kind: 'innerhelp', workNo: lane.a.workNo, mode: c.mode, helper: { kind: 'agent', workNo: lane.c.workNo }, callappdata: '' });
        if (c.delay > 0) await sleep(c.delay);
        await parties.B.hangup();
        await request;
        // Whatever the core made of it (help refused, C rang and was cancelled, or A–C talk on), A ends it now.
        await sleep(300);
        await Promise.all([parties.A.hangup(), C.hangup()]);
        const helperChannel = C.state !== 'idle' ? legOf(lane.c.phone) : undefined;
        if (helperChannel) channels.set(lane.c.phone, stack.backend.channelOf(helperChannel) as string);
        await nothingLeft(lane, channels, { ...parties, C });
      } finally {
        for (const p of [parties.A, parties.B, C]) p.close();
      }
    });
  }, 120_000);

  it('C hangs up while the three-party room forms (0-50 ms after answering), then A and B', async () => {
    const cases = [0, 5, 20, 50];
    await inLanes(cases, async (lane, delay) => {
      const parties = await setUp(lane, 'call');
      const C = await agentPhone(lane.c);
      const ringing = C.waitForCall();
      const channels = channelsOf(lane);
      try {
        ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: lane.a.workNo, mode: 2, helper: { kind: 'agent', workNo: lane.c.workNo }, callappdata: '' }));
        (await ringing).answer();
        if (delay > 0) await sleep(delay);
        await C.hangup();
        // A and B must be back together: FreeSWITCH shows them bridged.
        await mediaIs(() => view(lane.a.phone)?.bridgedTo === view(lane.customer)?.uuid, 'A and B bridged again');
        await Promise.all([parties.A.hangup(), parties.B.hangup()]);
        await nothingLeft(lane, channels, { ...parties, C });
      } finally {
        for (const p of [parties.A, parties.B, C]) p.close();
      }
    });
  }, 120_000);

  it('A hangs up while C rings, C answers and gets B; then B and C hang up together', async () => {
    const cases = [1, 2].flatMap((mode) => [0, 20].map((delay) => ({ mode: mode as 1 | 2, delay })));
    await inLanes(cases, async (lane, c) => {
      const parties = await setUp(lane, 'call');
      const C = await agentPhone(lane.c);
      const ringing = C.waitForCall();
      const channels = channelsOf(lane);
      try {
        ok(await stack.orchestrator.request({ kind: 'innerhelp', workNo: lane.a.workNo, mode: c.mode, helper: { kind: 'agent', workNo: lane.c.workNo }, callappdata: '' }));
        const call = await ringing;
        await parties.A.hangup();
        if (c.delay > 0) await sleep(c.delay);
        call.answer();
        await mediaIs(() => !!view(lane.c.phone) && view(lane.c.phone)?.bridgedTo === view(lane.customer)?.uuid, 'B bridged to C');
        await Promise.all([parties.B.hangup(), C.hangup()]);
        await nothingLeft(lane, channels, { ...parties, C });
      } finally {
        for (const p of [parties.A, parties.B, C]) p.close();
      }
    });
  }, 120_000);

  describe('media timeouts: FreeSWITCH hangs up a phone that sends nothing, never a held or parked one', () => {
    it('a phone that goes silent without BYE is hung up after the media timeout, and the call ends for the other', async () => {
      await inLanes(['B', 'A'] as const, async (lane, silent) => {
        const parties = await setUp(lane, 'call');
        const channels = channelsOf(lane);
        try {
          const other = silent === 'B' ? parties.A : parties.B;
          const started = Date.now();
          parties[silent].silence();
          await Promise.race([other.remoteHangup, sleep(MEDIA_TIMEOUT_MS + 4000)]);
          const waited = Date.now() - started;
          expect(other.state, `${silent} silent: the other phone got no BYE`).toBe('ended');
          expect(waited).toBeGreaterThanOrEqual(MEDIA_TIMEOUT_MS - 100);
          await nothingLeft(lane, channels, parties);
        } finally {
          for (const p of [parties.A, parties.B]) p.close();
        }
      });
    }, 60_000);

    it('a phone on hold that sends nothing (sendonly or inactive) stays up past the timeout, and resumes', async () => {
      await inLanes(['sendonly', 'inactive'] as const, async (lane, direction) => {
        const parties = await setUp(lane, 'call');
        const channels = channelsOf(lane);
        try {
          expect(await parties.A.hold(direction)).toBe(200);
          expect(parties.A.lastAnswer).toContain(direction === 'sendonly' ? 'a=recvonly' : 'a=inactive');
          await sleep(MEDIA_TIMEOUT_MS + 2000);
          expect([parties.A.state, parties.B.state]).toEqual(['talking', 'talking']);
          for (const uuid of channels.values()) expect((await stack.fsApi(`uuid_exists ${uuid}`)).trim()).toBe('true');
          expect(await parties.A.resume()).toBe(200);
          await mediaIs(() => view(lane.a.phone)?.bridgedTo === view(lane.customer)?.uuid, 'A and B still bridged');
          // Media timeout is on again once the phone resumed: silence now ends the call.
          parties.A.silence();
          await Promise.race([parties.B.remoteHangup, sleep(MEDIA_TIMEOUT_MS + 4000)]);
          expect(parties.B.state).toBe('ended');
          await nothingLeft(lane, channels, parties);
        } finally {
          for (const p of [parties.A, parties.B]) p.close();
        }
      });
    }, 60_000);

    it('held and parked legs (customer on hold music, agent parked; a helper holding in the room) are never cut', async () => {
      await inLanes(['api-hold', 'room-hold'] as const, async (lane, kind) => {
        const parties = await setUp(lane, kind === 'api-hold' ? 'call' : 'three-party');
        const channels = channelsOf(lane);
        try {
          if (kind === 'api-hold') ok(await stack.orchestrator.request({ kind: 'hold', workNo: lane.a.workNo }));
          else expect(await parties.C?.hold()).toBe(200);
          await sleep(MEDIA_TIMEOUT_MS + 2000);
          for (const p of [parties.A, parties.B, parties.C]) if (p) expect(p.state, p.number).toBe('talking');
          if (kind === 'room-hold') {
            // The others are still in the room together.
            expect(view(lane.a.phone)?.room).toBeTruthy();
            expect(view(lane.customer)?.room).toBe(view(lane.a.phone)?.room);
          } else {
            expect(view(lane.customer)?.application).toBe('endless_playback');
          }
          await Promise.all([parties.A, parties.B, parties.C].map((p) => p?.hangup()));
          await nothingLeft(lane, channels, parties);
        } finally {
          for (const p of [parties.A, parties.B, parties.C]) p?.close();
        }
      });
    }, 60_000);
  });

  it('leaves FreeSWITCH with no channel and no room, and the service with no call', async () => {
    await sleep(500);
    expect(stack.orchestrator.activeCallCount()).toBe(0);
    expect(JSON.parse(await stack.fsApi('show channels as json')) as { row_count: number }).toMatchObject({ row_count: 0 });
    expect((await stack.fsApi('conference list')).trim()).toMatch(/^(\+OK )?No active conferences\.?$|^-ERR/);
    // How fast each kind of change showed on FreeSWITCH during these runs (for the README's figures).
    const byOp = new Map<string, number[]>();
    for (const e of stack.effects) byOp.set(e.op, [...(byOp.get(e.op) ?? []), e.ms]);
    const lines = [...byOp].map(([op, ms]) => `${op}: ${percentiles(ms)}`);
    console.log(`media changes on FreeSWITCH during the crossing tests (command sent -> FreeSWITCH's event that it is done):\n  ${lines.join('\n  ')}`);
    console.log(`innerhelp request -> the service's reply: ${percentiles(helpReplies)}`);
  });
});
