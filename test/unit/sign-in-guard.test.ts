/** The sign-in throttle by itself: delays per source, their cap, forgetting, and never a lock on an account. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SignInGuard } from '../../src/api/sign-in-guard.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';

const settings = { maxFailures: 3, lockSeconds: 60, maxDelaySeconds: 8, maxWaiting: 1 };

function guard() {
  let now = 1_000_000;
  const slept: number[] = [];
  const g = new SignInGuard(settings, pino({ level: 'silent' }), () => now, async (ms) => void slept.push(ms));
  return { g, slept, advance: (ms: number) => (now += ms) };
}

describe('SignInGuard', () => {
  it('lets maxFailures failures pass free, then doubles the wait from 1 s up to maxDelaySeconds', () => {
    const { g } = guard();
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      delays.push(g.delayFor('10.0.0.1'));
      g.failed('10.0.0.1', '101');
    }
    expect(delays).toEqual([0, 0, 0, 1000, 2000, 4000, 8000, 8000]);
    expect(g.delayFor('10.0.0.2')).toBe(0);
  });

  it('waits out the delay before the check, and refuses more than maxWaiting at once with a Retry-After', async () => {
    const { g, slept } = guard();
    for (let i = 0; i < 5; i++) g.failed('10.0.0.1', '101');
    const first = g.admit('10.0.0.1');
    const second = await g.admit('10.0.0.1');
    expect(second).toEqual({ ok: false, retryAfterSeconds: 4 });
    const admitted = await first;
    expect(admitted.ok).toBe(true);
    expect(slept).toEqual([4000]);
    if (admitted.ok) admitted.done();
    expect((await g.admit('10.0.0.1')).ok).toBe(true);
  });

  it('forgets a source lockSeconds after its last failure, or at its first success', () => {
    const { g, advance } = guard();
    for (let i = 0; i < 5; i++) g.failed('a', '101');
    advance(59_000);
    expect(g.delayFor('a')).toBe(4000);
    advance(1_000);
    expect(g.delayFor('a')).toBe(0);
    for (let i = 0; i < 5; i++) g.failed('b', '101');
    g.succeeded('b');
    expect(g.delayFor('b')).toBe(0);
  });
});

describe('SignInGuard with counts shared through the store (several instances)', () => {
  it("counts a source's failures made through another instance, and forgets them everywhere at a success", async () => {
    const store = new MemoryStateStore();
    const make = () => new SignInGuard(settings, pino({ level: 'silent' }), Date.now, async () => undefined, store);
    const one = make();
    const two = make();
    for (let i = 0; i < 5; i++) await one.recordFailure('10.0.0.1', '101');
    expect(two.delayFor('10.0.0.1')).toBe(0);
    await two.admitShared('10.0.0.1');
    expect(two.delayFor('10.0.0.1')).toBe(4000);
    await one.recordSuccess('10.0.0.1');
    expect((await store.failureCount('sign-in:10.0.0.1')).count).toBe(0);
  });

  it('a store that cannot be reached leaves each instance its own count', async () => {
    const broken = {
      countFailure: () => Promise.reject(new Error('down')),
      failureCount: () => Promise.reject(new Error('down')),
      clearFailures: () => Promise.reject(new Error('down')),
    };
    const g = new SignInGuard(settings, pino({ level: 'silent' }), Date.now, async () => undefined, broken);
    for (let i = 0; i < 4; i++) await g.recordFailure('10.0.0.1', '101');
    expect(g.delayFor('10.0.0.1')).toBe(2000);
    expect((await g.admitShared('10.0.0.1')).ok).toBe(true);
  });
});
