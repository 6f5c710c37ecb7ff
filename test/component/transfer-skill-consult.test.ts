/**
 * Transfer to a skill queue (devicetype 1, and a handset's REFER to the skill's name) and consult, then complete
 * (innerhelp mode 1, then a transfer to the consulted agent), through the API and the simulator's phones.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BASE, startWithCustomerTalking, type Service } from './api-harness.js';

const B = '5550100';
let s: Service;
let guidA: string;
let guidC: string;

beforeEach(async () => {
  ({ s, guidA, guidC } = await startWithCustomerTalking());
});
afterEach(async () => {
  await s.stop();
});

describe('transfer to a skill queue', () => {
  it("API devicetype 1: A is free at once; B hears music while the skill's free agent rings, then talks with it", async () => {
    const r = await s.http('POST', `${BASE}/voicecall/101/transfer`, { guid: guidA, body: { devicetype: 1, address: 'support', mode: 0 } });
    expect(r.body.retcode).toBe('0');
    const callId = r.body.result as string;
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_SuccTransResult')).content).toEqual({ callId, result: 0 });
    await s.waitForEvent('101', guidA, 'AgentEvent_Call_Release');
    expect(await s.phoneState('2001')).toBe('idle');
    expect((await s.waitForEvent('102', guidC, 'AgentEvent_Ringing')).content).toMatchObject({ callid: callId, caller: B });
    expect(await s.hears(B)).toEqual(['moh']);
    expect((await s.http('POST', '/sim/phones/2002/answer')).body.retcode).toBe('0');
    await s.waitForEvent('102', guidC, 'AgentEvent_Talking');
    expect(await s.hears(B)).toEqual(['2002']);
  });

  it("a handset's REFER to the skill's name: 202, NOTIFY 100 then 200, the phone is hung up, B queues with music", async () => {
    // 102 is busy elsewhere (not ready): nobody of the skill is free, B waits.
    expect((await s.http('POST', `${BASE}/onlineagent/102/saybusy`, { guid: guidC })).body.retcode).toBe('0');
    const r = await s.http('POST', '/sim/phones/2001/transfer', { body: { to: 'support' } });
    expect(r.body.result).toEqual({ status: 202, reason: 'Accepted' });
    await s.waitForEvent('101', guidA, 'AgentEvent_Call_Release');
    expect((await s.http('GET', '/sim/phones/2001/transfer')).body.result).toEqual({ notices: [100, 200] });
    expect(await s.phoneState('2001')).toBe('idle');
    expect(await s.hears(B)).toEqual(['moh']);
    // 102 becomes ready: it is offered B.
    expect((await s.http('POST', `${BASE}/onlineagent/102/sayfree`, { guid: guidC })).body.retcode).toBe('0');
    await s.waitForEvent('102', guidC, 'AgentEvent_Ringing');
    expect((await s.http('POST', '/sim/phones/2002/answer')).body.retcode).toBe('0');
    expect(await s.hears(B)).toEqual(['2002']);
  });
});

describe('consult, then complete', () => {
  it('innerhelp mode 1, C answers, then transfer to C: B and C talk, A is released', async () => {
    const help = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102', mode: 1 } });
    expect(help.body.retcode).toBe('0');
    // Completing while C still rings is refused: B stays held, with A.
    expect((await s.http('POST', `${BASE}/voicecall/101/transfer`, { guid: guidA, body: { devicetype: 2, address: '102' } })).body.retcode).toBe('200-012');
    expect((await s.http('POST', '/sim/phones/2002/answer')).body.retcode).toBe('0');
    expect(await s.hears('2001')).toEqual(['2002']);
    const r = await s.http('POST', `${BASE}/voicecall/101/transfer`, { guid: guidA, body: { devicetype: 2, address: '102' } });
    expect(r.body.retcode).toBe('0');
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_SuccTransResult')).content).toEqual({ callId: r.body.result, result: 0 });
    expect(await s.hears(B)).toEqual(['2002']);
    expect(await s.phoneState('2001')).toBe('idle');
    expect(await (await fetch(`${s.url}/metrics`)).text()).toContain('transfers_total{outcome="done"} 1');
  });
});

describe("a handset's attended transfer through the simulator's routes", () => {
  it('hold, a second line to 102, transfer with replaces: B and 102 talk, 2001 is free', async () => {
    expect((await s.http('POST', '/sim/phones/2001/hold', { body: { held: true } })).body.retcode).toBe('0');
    const line2 = await s.http('POST', '/sim/calls', { body: { from: '2001', to: '102', handset: true } });
    expect(line2.body.retcode).toBe('0');
    expect((await s.http('POST', '/sim/phones/2002/answer')).body.retcode).toBe('0');
    const r = await s.http('POST', '/sim/phones/2001/transfer', { body: { to: '102', replaces: (line2.body.result as { id: string }).id } });
    expect(r.body.result).toEqual({ status: 202, reason: 'Accepted' });
    await s.waitForEvent('101', guidA, 'AgentEvent_SuccTransResult');
    expect(await s.hears(B)).toEqual(['2002']);
    expect(await s.phoneState('2001')).toBe('idle');
  });
});
