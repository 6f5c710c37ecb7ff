/**
 * Leg events (src/core/calls/legs.ts): late, repeated and unknown events change nothing (a late answer is hung up),
 * a phone that fails or hangs up while ringing is a failed attempt, an answered party leaving a plain call ends it,
 * and a timer that is no longer pending is ignored.
 */
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/types.js';
import { agent, api, arrive, Call, events, talking } from '../support/calls.js';

const nothing = (call: Call, d: Decision, before: Call['state']): void => {
  expect(d).toEqual({ state: before, commands: [], events: [], presence: [] });
  expect(call.state).toBe(before);
};

describe('leg events', () => {
  it('a repeated ringing or answer, an unknown leg, a failure of an answered leg and a stale timer change nothing', () => {
    const call = talking();
    const before = call.state;
    nothing(call, call.answer('101'), before);
    nothing(call, call.ring('101'), before);
    nothing(call, call.on({ type: 'LegAnswered', legId: 'nobody' }), before);
    nothing(call, call.on({ type: 'LegHungUp', legId: 'nobody' }), before);
    nothing(call, call.on({ type: 'LegFailed', legId: 'c-L2', reason: 'busy' }), before);
    nothing(call, call.on({ type: 'TimerFired', timerId: 'c-t3' }), before);
  });

  it('a late answer from a phone that is gone is hung up, and nothing else', () => {
    const call = new Call([arrive([agent('101')])]);
    call.timeout();
    const d = call.on({ type: 'LegAnswered', legId: 'c-L2' });
    expect(d.commands).toEqual([{ kind: 'hangup', legId: 'c-L2' }]);
    expect(d.events).toEqual([]);
    expect(d.state).toBe(call.state);
    // And a hang-up from it afterwards is nothing new.
    expect(call.on({ type: 'LegHungUp', legId: 'c-L2' }).commands).toEqual([]);
  });

  it('ringing: the leg is ringing (dialling before)', () => {
    const call = new Call([arrive([agent('101')])]);
    expect(call.state.legs['c-L2']?.status).toBe('dialing');
    expect(call.ring('101').state.legs['c-L2']?.status).toBe('ringing');
  });

  it('a ringing phone that fails: unreachable or rung out is not at the desk, busy is a choice', () => {
    for (const [reason, notices] of [
      ['unreachable', [{ kind: 'offer-unanswered', workNo: '101' }]],
      ['no-answer', [{ kind: 'offer-unanswered', workNo: '101' }]],
      ['busy', []],
      ['error', []],
    ] as const) {
      const call = new Call([arrive([agent('101')])]);
      const d = call.on({ type: 'LegFailed', legId: 'c-L2', reason });
      expect(d.presence, reason).toEqual(notices);
      // Failed by itself: nothing to hang up.
      expect(d.commands.filter((c) => c.kind === 'hangup'), reason).toEqual([]);
      expect(d.state.legs['c-L2']?.status).toBe('gone');
    }
  });

  it('a ringing phone that hangs up (or whose channel is lost) is a failed attempt, not a party leaving', () => {
    const call = new Call([arrive([agent('101')])]);
    const d = call.hangUp('101', true);
    expect(d.state.phase).toEqual({ name: 'queued', customer: 'B' });
    expect(d.commands).toContainEqual({ kind: 'hangup', legId: 'c-L2' });
    expect(d.presence).toEqual([]);
  });

  it('the waiting customer gives up: the agent being rung is cancelled and the call ends', () => {
    const call = new Call([arrive([agent('101')])]);
    const d = call.hangUp('B');
    expect(d.state.phase).toEqual({ name: 'ended' });
    expect(d.commands).toEqual([{ kind: 'cancelTimer', timerId: 'c-t3' }, { kind: 'hangup', legId: 'c-L2' }]);
    expect(events(d)).toEqual([['101', 'AgentEvent_Call_Release']]);
  });

  it('either party of a two-party call leaving ends it; a lost channel is hung up too', () => {
    const call = talking();
    const d = call.hangUp('101', true);
    expect(d.state.phase).toEqual({ name: 'ended' });
    expect(d.commands).toEqual([
      { kind: 'hangup', legId: 'c-L2' },
      { kind: 'hangup', legId: 'B' },
    ]);
    // The customer has no desktop: only the agent's call id is released.
    expect(d.events).toEqual([{ workNo: '101', eventType: 'AgentEvent_Call_Release', content: 'c' }]);
  });

  it('after a transfer to an outside number, either side hanging up ends the call', () => {
    for (const leaver of ['B', 'c-L4']) {
      const call = talking();
      call.on(api({ kind: 'transfer', workNo: '101', to: { kind: 'number', number: '5550199' }, fromPhone: false }));
      call.on({ type: 'LegAnswered', legId: 'c-L4' });
      expect(call.state.phase).toEqual({ name: 'trunked', customer: 'B', outside: 'c-L4' });
      const d = call.on({ type: 'LegHungUp', legId: leaver });
      expect(d.state.phase).toEqual({ name: 'ended' });
      expect(d.commands).toEqual([{ kind: 'hangup', legId: leaver === 'B' ? 'c-L4' : 'B' }]);
    }
  });
});
