/**
 * The supervision decider (a supervisor on a live call: monitor, coach, barge): its rules, and over random event
 * sequences the invariants that matter by ear: the customer hears the supervisor only in barge, in coach only the
 * agents do, a switch never rings the supervisor again, and the supervisor's leg is hung up at most once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideSupervision, heardBy } from '../../src/core/supervision/decide.js';
import type { SupervisedParty, Supervision, SupervisionCommand, SupervisionEvent, SupervisionMode } from '../../src/core/supervision/types.js';

const A: SupervisedParty = { legId: 'a', role: 'agent', workNo: '101' };
const B: SupervisedParty = { legId: 'b', role: 'customer' };
const C: SupervisedParty = { legId: 'c', role: 'agent', workNo: '102' };
const start = (mode: SupervisionMode, parties: readonly SupervisedParty[] = [A, B]): SupervisionEvent => ({ type: 'Start', callId: 'call-1', supervisorId: '901', phone: '2901', mode, parties, legId: 's' });

function run(events: readonly SupervisionEvent[]): { state: Supervision | null; commands: SupervisionCommand[] } {
  let state: Supervision | null = null;
  const commands: SupervisionCommand[] = [];
  for (const e of events) {
    const d = decideSupervision(state, e);
    state = d.state;
    commands.push(...d.commands);
  }
  return { state, commands };
}

describe('supervision decider', () => {
  it('rings the supervisor, then joins in the mode asked last; switching changes the audio only', () => {
    const { commands } = run([start('monitor'), { type: 'Switch', supervisorId: '901', mode: 'coach' }, { type: 'SupervisorAnswered' }, { type: 'Switch', supervisorId: '901', mode: 'barge' }, { type: 'Switch', supervisorId: '901', mode: 'monitor' }]);
    expect(commands).toEqual([
      { kind: 'ringSupervisor', legId: 's', phone: '2901' },
      { kind: 'setSupervisorAudio', legId: 's', callId: 'call-1', heardBy: ['a'] },
      { kind: 'setSupervisorAudio', legId: 's', callId: 'call-1', heardBy: ['a', 'b'] },
      { kind: 'setSupervisorAudio', legId: 's', callId: 'call-1', heardBy: [] },
    ]);
  });

  it('coach during three-party help: both agents hear the supervisor, the customer does not', () => {
    expect(heardBy('coach', [A, B, C])).toEqual(['a', 'c']);
  });

  it('one supervisor at a time, only on a call with an agent; only the supervisor who joined may switch or leave', () => {
    expect(decideSupervision(null, start('monitor', [B])).refusal).toBe('NOT_SUPERVISABLE');
    const { state } = run([start('monitor')]);
    expect(decideSupervision(state, start('barge')).refusal).toBe('ALREADY_SUPERVISED');
    expect(decideSupervision(state, { type: 'Switch', supervisorId: '902', mode: 'barge' }).refusal).toBe('NOT_SUPERVISING');
    expect(decideSupervision(state, { type: 'Leave', supervisorId: '902' }).refusal).toBe('NOT_SUPERVISING');
  });

  it('the supervisor leaving touches nothing of the call; the call ending or its last agent leaving hangs the supervisor up', () => {
    const joined = run([start('barge'), { type: 'SupervisorAnswered' }]).state;
    expect(decideSupervision(joined, { type: 'SupervisorGone' }).commands).toEqual([]);
    expect(decideSupervision(joined, { type: 'Leave', supervisorId: '901' }).commands).toEqual([{ kind: 'hangupSupervisor', legId: 's' }]);
    expect(decideSupervision(joined, { type: 'CallEnded' }).commands).toEqual([{ kind: 'hangupSupervisor', legId: 's' }]);
    expect(decideSupervision(joined, { type: 'PartiesChanged', parties: [B] }).commands).toEqual([{ kind: 'hangupSupervisor', legId: 's' }]);
  });

  it('over random sequences: the customer hears the supervisor only in barge, a switch never rings again, one hangup at most', () => {
    const mode = fc.constantFrom<SupervisionMode>('monitor', 'coach', 'barge');
    const parties = fc.subarray([A, B, C], { minLength: 1 });
    const event: fc.Arbitrary<SupervisionEvent> = fc.oneof(
      fc.record({ mode, parties }).map(({ mode: m, parties: p }) => start(m, p)),
      fc.record({ mode, who: fc.constantFrom('901', '902') }).map(({ mode: m, who }) => ({ type: 'Switch', supervisorId: who, mode: m }) as const),
      fc.constantFrom<SupervisionEvent>({ type: 'SupervisorAnswered' }, { type: 'SupervisorGone' }, { type: 'CallEnded' }, { type: 'Leave', supervisorId: '901' }),
      parties.map((p) => ({ type: 'PartiesChanged', parties: p }) as const),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        let state: Supervision | null = null;
        let rings = 0;
        let hangups = 0;
        for (const e of events) {
          const d = decideSupervision(state, e);
          for (const c of d.commands) {
            if (c.kind === 'ringSupervisor') {
              rings += 1;
              hangups = 0;
            }
            if (c.kind === 'hangupSupervisor') hangups += 1;
            if (c.kind === 'setSupervisorAudio') {
              const s = d.state as Supervision;
              const customers = s.parties.filter((p) => p.role === 'customer').map((p) => p.legId);
              if (s.mode !== 'barge') expect(c.heardBy.filter((l) => customers.includes(l))).toEqual([]);
              if (s.mode === 'monitor') expect(c.heardBy).toEqual([]);
            }
          }
          // A switch or a change of parties never rings the supervisor's phone.
          if (e.type !== 'Start') expect(d.commands.some((c) => c.kind === 'ringSupervisor')).toBe(false);
          expect(hangups).toBeLessThanOrEqual(1);
          state = d.state;
        }
        expect(rings).toBeLessThanOrEqual(events.filter((e) => e.type === 'Start').length);
      }),
    );
  });
});
