/**
 * Handsets' registrations among instances (issue 17): each instance's registrar keeps its BindingStore, and
 * RegistrationSync shares every change through the state store, so a handset registered through one instance is
 * called by the other (drachtio-server hands each REGISTER to one app only). On one in-memory store and on a real
 * redis-server. The registrar's own digest and parsing are tested in test/unit/registrar.test.ts; here the
 * REGISTER's effect (BindingStore.update, as the registrar makes it) is what crosses over.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { StateStore } from '../../src/ports/state-store.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { RegistrationSync } from '../../src/telephony/registration-sync.js';
import { BindingStore } from '../../src/telephony/registrations.js';
import { describeWithRedis } from '../support/redis-server.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });

function sharedRegistrationTests(makeStore: () => Promise<StateStore>): void {
  const syncs: RegistrationSync[] = [];
  afterEach(() => {
    for (const s of syncs.splice(0)) s.stop();
  });

  async function instance(store: StateStore, id: string): Promise<BindingStore> {
    const bindings = new BindingStore(5);
    const sync = new RegistrationSync(bindings, store, id, log);
    await sync.start();
    syncs.push(sync);
    return bindings;
  }

  const contacts = (b: BindingStore, phone: string): string[] => b.live(phone, Date.now()).map((x) => x.contact);

  it('a handset registered through one instance is reachable from the other; its removal too; a new instance loads it', async () => {
    const [storeOne, storeTwo, storeThree] = [await makeStore(), await makeStore(), await makeStore()];
    const one = await instance(storeOne, 'one');
    const two = await instance(storeTwo, 'two');
    expect(one.update('2001', [{ contact: 'sip:2001@10.0.0.5:5060', via: 'sip:192.0.2.7:40000', expiresSeconds: 600 }], { callId: 'reg-1', cseq: 1 }, Date.now()).ok).toBe(true);
    await until(() => contacts(two, '2001').join() === 'sip:2001@10.0.0.5:5060', 'two knows the contact');
    expect(two.live('2001', Date.now())[0]?.via).toBe('sip:192.0.2.7:40000');
    // Its refresh reaches two (round robin): one hears of it, with the refreshed CSeq (an older REGISTER is refused there).
    expect(two.update('2001', [{ contact: 'sip:2001@10.0.0.5:5060', expiresSeconds: 600 }], { callId: 'reg-1', cseq: 2 }, Date.now()).ok).toBe(true);
    await until(() => one.live('2001', Date.now())[0]?.cseq === 2, 'one has the refresh');
    expect(one.update('2001', [{ contact: 'sip:2001@10.0.0.5:5060', expiresSeconds: 600 }], { callId: 'reg-1', cseq: 2 }, Date.now())).toEqual({ ok: false, reason: 'out-of-order' });
    // A third instance started now finds it in the store.
    const three = await instance(storeThree, 'three');
    expect(contacts(three, '2001')).toEqual(['sip:2001@10.0.0.5:5060']);
    // "Contact: *" at two: gone everywhere.
    two.removeAll('2001');
    await until(() => contacts(one, '2001').length === 0 && contacts(three, '2001').length === 0, 'removed on the others');
    expect(await storeOne.registrations()).toEqual([]);
  });
}

describe('handsets registered through one instance, called by another (one in-memory store)', () => {
  const shared = new MemoryStateStore({ broadcastDelayMs: 10 });
  sharedRegistrationTests(async () => shared);
});

let prefixes = 0;
const opened: RedisStateStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
describeWithRedis('handsets registered through one instance, called by another (redis-server)', (server) => {
  let prefix = '';
  sharedRegistrationTests(async () => {
    if (opened.length === 0) prefix = `reg${++prefixes}:`;
    const store = await RedisStateStore.connect({ url: server().url, prefix, logger: log });
    opened.push(store);
    return store;
  });
});
