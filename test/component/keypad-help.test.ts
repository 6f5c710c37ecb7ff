/**
 * Help from the handset's keypad, for agents without a desktop: the same requests, events and refusals as the API,
 * a refusal heard as an error tone by the agent only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { A, C, CUSTOMER, D, FakeClock, createWorld, type World } from '../support/sim-world.js';

let w: World;
afterEach(async () => {
  await w.stop();
});

describe('keypad help', () => {
  it('*2<agent># asks that agent for two-party help; *0 drops the helper and takes the customer back', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    w.backend.pressKeys(A.phone, `*2${C.workNo}#`);
    await w.settle();
    expect(w.state(C.phone)).toBe('ringing');
    expect(w.hears(CUSTOMER)).toEqual(['moh']);
    w.backend.answer(C.phone);
    await w.settle();
    expect(w.hears(A.phone)).toEqual([C.phone]);
    w.backend.pressKeys(A.phone, '*0');
    await w.settle();
    expect(w.state(C.phone)).toBe('idle');
    expect(w.hears(A.phone)).toEqual([CUSTOMER]);
    expect(w.backend.errorTonesHeard(A.phone)).toBe(0);
  });

  it('*3<agent># asks for three-party help: the room forms when the helper answers', async () => {
    w = await createWorld(['101', '103']);
    await w.customerTalkingWithA();
    w.backend.pressKeys(A.phone, `*3${D.workNo}#`);
    await w.settle();
    w.backend.answer(D.phone);
    await w.settle();
    expect(w.hears(CUSTOMER).sort()).toEqual([A.phone, D.phone].sort());
  });

  it('*5 joins a two-party help into one room', async () => {
    w = await createWorld();
    await w.customerTalkingWithA();
    w.backend.pressKeys(A.phone, `*2${C.workNo}#`);
    await w.settle();
    w.backend.answer(C.phone);
    await w.settle();
    w.backend.pressKeys(A.phone, '*5');
    await w.settle();
    expect(w.hears(CUSTOMER).sort()).toEqual([A.phone, C.phone].sort());
  });

  it('a refused or meaningless code is heard as the error tone by the agent only, and changes nothing', async () => {
    w = await createWorld(['101', '102']);
    await w.customerTalkingWithA();
    // 103 is not signed in: refused, as the API would.
    w.backend.pressKeys(A.phone, `*2${D.workNo}#`);
    await w.settle();
    w.backend.pressKeys(A.phone, '*9');
    await w.settle();
    w.backend.pressKeys(A.phone, '*0');
    await w.settle();
    expect(w.backend.errorTonesHeard(A.phone)).toBe(3);
    expect(w.backend.errorTonesHeard(CUSTOMER)).toBe(0);
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });

  it("digits typed slowly are forgotten, and a customer's keys are never codes", async () => {
    const clock = new FakeClock();
    w = await createWorld(undefined, { clock });
    await w.customerTalkingWithA();
    w.backend.pressKeys(A.phone, '*2');
    clock.advance(10);
    w.backend.pressKeys(A.phone, `${C.workNo}#`);
    w.backend.pressKeys(CUSTOMER, `*2${C.workNo}#`);
    await w.settle();
    expect(w.state(C.phone)).toBe('idle');
    expect(w.hears(CUSTOMER)).toEqual([A.phone]);
  });
});
