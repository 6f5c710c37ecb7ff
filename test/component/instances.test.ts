/** Two instances on one in-memory store, in one process: see instances.shared.ts. */
import { describe } from 'vitest';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { instanceTests } from './instances.shared.js';

describe('two instances on one store (in memory, one process)', () => {
  instanceTests(async () => {
    // Messages between the instances take 30 ms: wide enough for the races to happen without the store's atomic
    // steps (the reservation test fails without them).
    const shared = new MemoryStateStore({ broadcastDelayMs: 30 });
    return [shared, shared];
  });
});
