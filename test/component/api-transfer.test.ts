/**
 * Blind transfer through the agent API (POST /voicecall/{agentid}/transfer), and a handset's transfer button as
 * the simulator's phones play it over HTTP.
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

const transfer = (body: unknown) => s.http('POST', `${BASE}/voicecall/101/transfer`, { guid: guidA, body });

describe('blind transfer through the API', () => {
  it('to an agent: C rings with the customer call, answers, talks with B; A gets the result and its release', async () => {
    const r = await transfer({ devicetype: 2, address: '102', mode: 0 });
    expect(r.body.retcode).toBe('0');
    const callId = r.body.result as string;
    expect((await s.waitForEvent('102', guidC, 'AgentEvent_Ringing')).content).toMatchObject({ callid: callId, caller: B });
    expect(await s.hears(B)).toEqual(['ringback']);
    expect((await s.http('POST', '/sim/phones/2002/answer')).body.retcode).toBe('0');
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_SuccTransResult')).content).toEqual({ callId, result: 0 });
    await s.waitForEvent('101', guidA, 'AgentEvent_Call_Release');
    expect(await s.hears(B)).toEqual(['2002']);
    expect(await s.phoneState('2001')).toBe('idle');
    expect(await (await fetch(`${s.url}/metrics`)).text()).toContain('transfers_total{outcome="done"} 1');
  });

  it('refuses what cannot be done with a retcode, and the call goes on', async () => {
    expect((await transfer({ devicetype: 2, address: '103' })).body.retcode).toBe('200-017');
    expect((await transfer({ devicetype: 2, address: '999' })).body.retcode).toBe('200-016');
    expect((await transfer({ devicetype: 1, address: 'nosuchskill' })).body.retcode).toBe('200-040');
    expect((await transfer({ devicetype: 3, address: '102' })).body.retcode).toBe('000-002');
    expect((await transfer({ devicetype: 2, address: '102', mode: 2 })).body.retcode).toBe('000-002');
    expect((await transfer({ devicetype: 5, address: 'abc' })).body.retcode).toBe('000-002');
    expect((await s.http('POST', `${BASE}/voicecall/102/transfer`, { guid: guidC, body: { devicetype: 5, address: '5550199' } })).body.retcode).toBe('200-008');
    expect(await s.hears(B)).toEqual(['2001']);
  });
});

describe("a handset's transfer button on the simulator (POST /sim/phones/{n}/transfer)", () => {
  it('to an outside number: 202, the number rings, answers, talks with B; the phone was told 100, 180, 200', async () => {
    const r = await s.http('POST', '/sim/phones/2001/transfer', { body: { to: '5550199' } });
    expect(r.body.result).toEqual({ status: 202, reason: 'Accepted' });
    await s.waitForEvent('101', guidA, 'AgentEvent_linkagePhoneTransferOut');
    expect((await s.http('POST', '/sim/phones/5550199/answer')).body.retcode).toBe('0');
    await s.waitForEvent('101', guidA, 'AgentEvent_Call_Release');
    expect(await s.hears(B)).toEqual(['5550199']);
    expect((await s.http('GET', '/sim/phones/2001/transfer')).body.result).toEqual({ notices: [100, 180, 200] });
  });

  it('refused: the REFER gets its status (480 for an agent not signed in)', async () => {
    expect((await s.http('POST', '/sim/phones/2001/transfer', { body: { to: '103' } })).body.result).toMatchObject({ status: 480 });
    expect((await s.http('POST', '/sim/phones/9999/transfer', { body: { to: '102' } })).body.retcode).toBe('300-001');
  });
});
