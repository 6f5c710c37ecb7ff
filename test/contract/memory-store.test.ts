/** The StateStore contract on the in-memory adapter (one instance: "another instance" is the store itself). */
import pino from 'pino';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { stateStoreContract } from './state-store.contract.js';

stateStoreContract<MemoryStateStore>({
  name: 'MemoryStateStore',
  open: async ({ eventLimit }) => new MemoryStateStore({ eventLimit, logger: pino({ level: 'silent' }) }),
  peer: async (store) => store,
  separateInstances: false,
});
