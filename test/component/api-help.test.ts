/**
 * Every rule of the seed driven through the agent API over HTTP, checked through the agents' events and through
 * what the simulated phones hear (GET /sim/phones/{number}).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BASE, startWithCustomerTalking, testConfig, type Service } from './api-harness.js';

const B = '5550100';
let s: Service;
let guidA: string;
let guidC: string;

/** A talks with B (B called the DID routed to A, A answered); C and 103 are signed in. */
async function talkingWithB(config = testConfig()): Promise<void> {
  ({ s, guidA, guidC } = await startWithCustomerTalking(config, ['103']));
  expect(await s.hears(B)).toEqual(['2001']);
}

beforeEach(async () => {
  await talkingWithB();
});
afterEach(async () => {
  await s.stop();
});

async function askHelp(mode: 1 | 2, dstaddress = '102'): Promise<string> {
  const r = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress, devicetype: 2, mode, callappdata: 'ticket 7' } });
  expect(r.body.retcode).toBe('0');
  return r.body.result as string;
}

async function helperAnswers(): Promise<void> {
  const ringing = await s.waitForEvent('102', guidC, 'AgentEvent_Ringing');
  expect(ringing.content).toMatchObject({ caller: '101', callappdata: 'ticket 7' });
  expect((await s.http('POST', '/sim/phones/2002/answer')).body.retcode).toBe('0');
}

describe('two-party help through the API', () => {
  it('B hears music and A ringback while C rings; after C answers A and C talk, B stays on music', async () => {
    const helpCallId = await askHelp(1);
    await s.waitForEvent('101', guidA, 'AgentEvent_Hold');
    expect(await s.hears(B)).toEqual(['moh']);
    expect(await s.hears('2001')).toEqual(['ringback']);
    expect(await s.phoneState('2002')).toBe('ringing');
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_Customer_Alerting')).content).toMatchObject({ callid: helpCallId, otherPhoneWorkno: '102' });
    await helperAnswers();
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_Talking')).content).toMatchObject({ callid: helpCallId });
    expect(await s.hears('2001')).toEqual(['2002']);
    expect(await s.hears('2002')).toEqual(['2001']);
    expect(await s.hears(B)).toEqual(['moh']);
  });

  it('C releases first: A and B resume', async () => {
    await askHelp(1);
    await helperAnswers();
    await s.http('POST', '/sim/phones/2002/hangup');
    expect(await s.hears(B)).toEqual(['2001']);
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_Customer_Release')).content).toMatchObject({ number: '102' });
  });

  it('A releases first (DELETE release): B is transferred to C', async () => {
    await askHelp(1);
    await helperAnswers();
    expect((await s.http('DELETE', `${BASE}/voicecall/101/release`, { guid: guidA })).body.retcode).toBe('0');
    expect(await s.hears(B)).toEqual(['2002']);
    expect(await s.hears('2002')).toEqual([B]);
    expect(await s.phoneState('2001')).toBe('idle');
  });

  it('A drops the A–C call by its callid and gets B back', async () => {
    const helpCallId = await askHelp(1);
    await helperAnswers();
    expect((await s.http('POST', `${BASE}/voicecall/101/dropcall/${helpCallId}`, { guid: guidA })).body.retcode).toBe('0');
    expect(await s.hears(B)).toEqual(['2001']);
    expect(await s.phoneState('2002')).toBe('idle');
  });

  it('confjoin turns it into three-party help', async () => {
    await askHelp(1);
    await helperAnswers();
    const held = (await s.waitForEvent('101', guidA, 'AgentEvent_Hold')).content as string;
    expect((await s.http('POST', `${BASE}/voicecall/101/confjoin`, { guid: guidA, body: { callid: held } })).body.retcode).toBe('0');
    expect(await s.hears(B)).toEqual(['2001', '2002']);
    await s.waitForEvent('102', guidC, 'AgentEvent_Conference');
  });

  it('C rejects: A gets AgentEvent_Consult_Fail and talks with B again', async () => {
    const helpCallId = await askHelp(1);
    expect((await s.http('POST', '/sim/phones/2002/reject', { body: { status: 486 } })).body.retcode).toBe('0');
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_Consult_Fail')).content).toBe(helpCallId);
    expect(await s.hears(B)).toEqual(['2001']);
  });

  it('C does not answer in time: A gets AgentEvent_Consult_Fail and talks with B again', async () => {
    await s.stop();
    await talkingWithB(testConfig({ help: { answerTimeoutSeconds: 0.3 } }));
    await askHelp(1);
    await s.waitForEvent('101', guidA, 'AgentEvent_Consult_Fail');
    expect(await s.phoneState('2002')).toBe('idle');
    expect(await s.hears(B)).toEqual(['2001']);
  });

  it('C is busy on another call: refused at once with its retcode', async () => {
    await s.http('POST', '/sim/calls', { body: { from: '5550999', to: '4001' } });
    await s.waitForEvent('102', guidC, 'AgentEvent_Ringing');
    await s.http('POST', '/sim/phones/2002/answer');
    await s.hears('2002');
    const r = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: '102' } });
    expect(r.body).toMatchObject({ retcode: '200-005', message: 'the helper is busy' });
  });

  it('help from a skill queue (devicetype 1) reaches a free agent of the skill', async () => {
    const r = await s.http('POST', `${BASE}/voicecall/101/innerhelp`, { guid: guidA, body: { dstaddress: 'billing', devicetype: 1 } });
    expect(r.body.retcode).toBe('0');
    expect(await s.phoneState('2003')).toBe('ringing');
  });
});

describe('three-party help through the API', () => {
  beforeEach(async () => {
    await askHelp(2);
    await helperAnswers();
    await s.waitForEvent('101', guidA, 'AgentEvent_Conference');
    expect(await s.hears(B)).toEqual(['2001', '2002']);
    expect(await s.hears('2001')).toEqual(['2002', B].sort());
    expect(await s.hears('2002')).toEqual(['2001', B].sort());
  });

  it('A leaves: B and C talk', async () => {
    await s.http('POST', '/sim/phones/2001/hangup');
    expect(await s.hears(B)).toEqual(['2002']);
  });

  it('C leaves: B and A talk', async () => {
    await s.http('POST', '/sim/phones/2002/hangup');
    expect(await s.hears(B)).toEqual(['2001']);
  });

  it('B leaves: A and C stay as an internal call', async () => {
    await s.http('POST', `/sim/phones/${B}/hangup`);
    expect(await s.hears('2001')).toEqual(['2002']);
    expect((await s.waitForEvent('101', guidA, 'AgentEvent_Customer_Release')).content).toMatchObject({ number: B });
  });

  it('A releases C by C’s number and keeps B', async () => {
    expect((await s.http('POST', `${BASE}/voicecall/101/disconnect/102`, { guid: guidA })).body.retcode).toBe('0');
    expect(await s.hears(B)).toEqual(['2001']);
    expect(await s.phoneState('2002')).toBe('idle');
  });
});
