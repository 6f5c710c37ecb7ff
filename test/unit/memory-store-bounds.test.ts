/** What keeps the in-memory store bounded when it is flooded (guessing across many addresses or work numbers). */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../src/state/memory-store.js';

describe('MemoryStateStore failure counts under a flood of keys', () => {
  it('forgets the expired counts once more than 10,000 keys are kept, and keeps the live ones', async () => {
    let now = 1_000_000;
    const store = new MemoryStateStore({ logger: pino({ level: 'silent' }), now: () => now });
    for (let i = 0; i < 10_000; i++) await store.countFailure(`old:${i}`, 1000);
    now += 500;
    await store.countFailure('live', 60_000);
    now += 600; // the old ones have expired, 'live' has not
    await store.countFailure('trigger', 60_000);
    const kept = (store as unknown as { failures: Map<string, unknown> }).failures;
    expect(kept.size).toBe(2);
    expect((await store.failureCount('live')).count).toBe(1);
  });
});
