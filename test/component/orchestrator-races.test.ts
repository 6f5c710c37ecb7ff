/**
 * Races through the whole shell: random phone actions and agent requests on the simulated backend, often several
 * before the orchestrator gets to run (so hang-ups cross, answers arrive late, requests meet calls that just
 * changed), then what every phone hears is checked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CallControlRequest } from '../../src/orchestrator/call-control.js';
import { AGENTS, createWorld, type World } from '../support/sim-world.js';

const CUSTOMERS = ['5550001', '5550002'];
const AGENT_PHONES = AGENTS.map((a) => a.phone);
const PHONES = [...CUSTOMERS, ...AGENT_PHONES];

/** Phones and agents are picked by index among those it makes sense for, when the action runs. */
type Action =
  | { kind: 'call'; from: string; to: string }
  | { kind: 'answer' | 'hangup' | 'lose'; n: number }
  /** The phone's channel starts going away: its media commands get no answer until it hangs up, at the next settle. */
  | { kind: 'dying'; n: number }
  | { kind: 'reject'; n: number; status: number }
  | { kind: 'request'; pick: number; n: number; mode: 1 | 2; target: string }
  | { kind: 'timers' }
  | { kind: 'settle' };

const workNos = AGENTS.map((a) => a.workNo);
const n = fc.nat({ max: 11 });
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('call' as const), from: fc.constantFrom(...CUSTOMERS), to: fc.constantFrom('4000', '4001', '4001', '4999') }),
  { arbitrary: fc.record({ kind: fc.constantFrom('answer' as const, 'hangup' as const), n }), weight: 3 },
  fc.record({ kind: fc.constant('lose' as const), n }),
  fc.record({ kind: fc.constant('dying' as const), n }),
  fc.record({ kind: fc.constant('reject' as const), n, status: fc.constantFrom(486, 603, 480, 500) }),
  {
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      // Asking for help is what brings the interesting states: ask more often than the rest.
      pick: fc.oneof({ arbitrary: fc.constantFrom(0, 1), weight: 2 }, { arbitrary: fc.nat({ max: 7 }), weight: 3 }),
      n,
      mode: fc.constantFrom(1 as const, 2 as const),
      target: fc.constantFrom(...workNos, ...CUSTOMERS),
    }),
    weight: 3,
  },
  fc.constant({ kind: 'timers' as const }),
  { arbitrary: fc.constant({ kind: 'settle' as const }), weight: 3 },
);

function phonesIn(w: World, state: 'ringing' | 'talking'): string[] {
  return PHONES.filter((p) => w.backend.phone(p).state === state);
}

function nth<T>(items: readonly T[], i: number): T | undefined {
  return items.length === 0 ? undefined : items[i % items.length];
}

/** The call ids agents were told about, for requests that name one. */
function knownCallIds(w: World): string[] {
  const ids = new Set<string>();
  for (const e of w.events) {
    if (typeof e.content === 'string') ids.add(e.content);
    else if (e.content !== null && typeof e.content.callid === 'string') ids.add(e.content.callid);
  }
  return [...ids];
}

function request(w: World, a: Extract<Action, { kind: 'request' }>): CallControlRequest {
  const ids = knownCallIds(w);
  const callid = ids[a.pick % Math.max(ids.length, 1)] ?? 'none';
  // Mostly agents who are on a call, sometimes one who is not.
  const workNo = nth(workNos.filter((x) => w.directory.isBusy(x)), a.n) ?? nth(workNos, a.n) as string;
  const requests: CallControlRequest[] = [
    { kind: 'innerhelp', workNo, mode: a.mode, helper: { kind: 'agent', workNo: a.target }, callappdata: '' },
    { kind: 'innerhelp', workNo, mode: a.mode, helper: { kind: 'skill', skill: 'support' }, callappdata: '' },
    { kind: 'dropcall', workNo, callid },
    { kind: 'disconnect', workNo, number: a.target },
    { kind: 'confjoin', workNo, callid },
    { kind: 'hold', workNo },
    { kind: 'gethold', workNo, callid: null },
    { kind: 'release', workNo },
  ];
  return requests[a.pick] as CallControlRequest;
}

/** Runs an action without waiting for the orchestrator (except `settle`). */
function perform(w: World, a: Action, pending: Promise<unknown>[], dying: Set<string>): void {
  const quietly = (f: () => void): void => {
    try {
      f();
    } catch {
      // The phone was not in a state for that action (no call, not ringing): a person pressing a dead key.
    }
  };
  switch (a.kind) {
    case 'call':
      pending.push(w.backend.placeCustomerCall(a.from, a.to).catch(() => undefined));
      return;
    case 'answer':
      return quietly(() => w.backend.answer(nth(phonesIn(w, 'ringing'), a.n) ?? 'none'));
    case 'hangup':
      return quietly(() => w.backend.hangup(nth([...phonesIn(w, 'talking'), ...phonesIn(w, 'ringing')], a.n) ?? 'none'));
    case 'lose':
      return quietly(() => w.backend.loseChannel(nth(phonesIn(w, 'talking'), a.n) ?? 'none'));
    case 'dying': {
      const phone = nth(phonesIn(w, 'talking'), a.n);
      if (phone === undefined) return;
      w.backend.stallMediaFor(phone);
      dying.add(phone);
      return;
    }
    case 'reject':
      return quietly(() => w.backend.reject(nth(phonesIn(w, 'ringing'), a.n) ?? 'none', a.status));
    case 'request':
      pending.push(w.orchestrator.request(request(w, a)));
      return;
    case 'timers':
      w.timers.fireAll();
      return;
    case 'settle':
      return;
  }
}

function checkPhones(w: World): void {
  const views = w.backend.phones();
  for (const [number, view] of Object.entries(views)) {
    if (view.state !== 'talking') continue;
    if (CUSTOMERS.includes(number)) {
      // A customer on the line hears an agent, hold music or ringback: never silence, never another customer.
      expect(view.hears.length, `${number} hears something`).toBeGreaterThan(0);
      for (const heard of view.hears) expect(['moh', 'ringback', ...AGENT_PHONES]).toContain(heard);
    }
    // Hearing is mutual between phones.
    for (const heard of view.hears) if (PHONES.includes(heard)) expect(views[heard]?.hears).toContain(number);
  }
}

describe('orchestrator races on the simulated backend', () => {
  it('keeps every customer hearing someone or music, and leaves nothing behind, whatever the order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 10, maxLength: 80, size: 'max' }), async (actions) => {
        const w = await createWorld();
        try {
          const pending: Promise<unknown>[] = [];
          const dying = new Set<string>();
          for (const a of actions) {
            perform(w, a, pending, dying);
            if (a.kind === 'settle') {
              // Phones whose channel was going away are gone now: their pending commands fail.
              for (const phone of dying) if (w.backend.phone(phone).state === 'talking') w.backend.hangup(phone);
              dying.clear();
              await Promise.all(pending);
              await w.settle();
              checkPhones(w);
            }
          }
          for (const phone of dying) if (w.backend.phone(phone).state === 'talking') w.backend.hangup(phone);
          await Promise.all(pending);
          await w.settle();
          checkPhones(w);
          expect(w.backend.stalledOperations).toBe(0);
          // Everyone leaves: every call must end, every agent must be free, no timer may be left.
          for (let round = 0; round < 6; round++) {
            for (const phone of PHONES) {
              const view = w.backend.phone(phone);
              if (view.state === 'talking') w.backend.hangup(phone);
              else if (view.state === 'ringing') w.backend.reject(phone, 486);
            }
            await w.settle();
          }
          for (const phone of PHONES) expect(w.backend.phone(phone).state, phone).toBe('idle');
          expect(w.orchestrator.activeCallCount()).toBe(0);
          expect(w.timers.count).toBe(0);
          for (const { workNo } of AGENTS) expect(w.directory.isBusy(workNo), workNo).toBe(false);
        } finally {
          await w.stop();
        }
      }),
      { numRuns: 1000 },
    );
  });
});
