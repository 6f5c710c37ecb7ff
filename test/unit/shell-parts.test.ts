/** The small parts of the shell: serial queue, agent directory, simulated backend. */
import { describe, expect, it } from 'vitest';
import { AgentDirectory } from '../../src/orchestrator/agent-directory.js';
import { SerialQueue } from '../../src/orchestrator/serial-queue.js';
import { LegMediaError, type SignallingEvents } from '../../src/ports/telephony.js';
import { SimBackend, SimError, failureReasonForStatus } from '../../src/telephony/sim/sim-backend.js';

describe('SerialQueue', () => {
  it('runs tasks one after another, even when they await, and survives a failing task', async () => {
    const errors: unknown[] = [];
    const queue = new SerialQueue((e) => errors.push(e));
    const trace: string[] = [];
    const slow = async (name: string): Promise<void> => {
      trace.push(`${name}:start`);
      await new Promise((r) => setTimeout(r, 5));
      trace.push(`${name}:end`);
    };
    void queue.push(() => slow('a'));
    void queue.push(() => {
      throw new Error('boom');
    });
    void queue.push(() => slow('b'));
    expect(queue.idle).toBe(false);
    await queue.drain();
    expect(trace).toEqual(['a:start', 'a:end', 'b:start', 'b:end']);
    expect(errors).toHaveLength(1);
    expect(queue.idle).toBe(true);
  });
});

describe('AgentDirectory', () => {
  const profiles = [
    { workNo: '101', phone: '2001', skills: ['support'] },
    { workNo: '102', phone: '2002', skills: ['support', 'billing'] },
  ];

  it('knows who is signed in, on which phone, and who is busy from the calls', () => {
    const d = new AgentDirectory(profiles);
    let changes = 0;
    d.onAvailabilityChange(() => changes++);
    expect(d.snapshot('101')).toEqual({ workNo: '101', phone: '2001', signedIn: false, busy: false, ready: false });
    d.signIn('101', '3001');
    expect(d.phoneOf('101')).toBe('3001');
    expect(d.agentOnPhone('3001')).toBe('101');
    d.setCallAgents('c1', new Set(['101']));
    expect(d.isBusy('101')).toBe(true);
    expect(d.callsOf('101')).toEqual(['c1']);
    d.setCallAgents('c1', new Set());
    expect(d.isBusy('101')).toBe(false);
    expect(changes).toBe(2); // sign-in, and 101 freed
    expect(d.withSkill('billing').map((s) => s.workNo)).toEqual(['102']);
    expect(d.snapshot('999')).toBeUndefined();
    expect(() => d.signIn('999')).toThrow(/unknown agent/);
    d.signOut('101');
    expect(d.isSignedIn('101')).toBe(false);
  });
});

describe('SimBackend', () => {
  function started(): { sim: SimBackend; log: string[] } {
    const sim = new SimBackend();
    const log: string[] = [];
    const events: SignallingEvents = {
      ringing: (id) => log.push(`ringing ${id}`),
      answered: (id) => log.push(`answered ${id}`),
      failed: (id, reason) => log.push(`failed ${id} ${reason}`),
      hungUp: (id, lost) => log.push(`hungUp ${id} ${lost}`),
      phoneHeld: (id, held) => log.push(`phoneHeld ${id} ${held}`),
      dtmf: (id, digit) => log.push(`dtmf ${id} ${digit}`),
      transferRequested: async (id, to) => (log.push(`transfer ${id} ${to}`), to === '2002' ? { accept: true } : { accept: false, status: 404, reason: 'Not Found' }),
      incoming: async (call) => (call.to === '4000' ? { accept: true } : { accept: false, status: 404, reason: 'Not Found' }),
      incomingAnswered: (id) => log.push(`incomingAnswered ${id}`),
    };
    void sim.start(events);
    return { sim, log };
  }

  it('maps SIP statuses to failure reasons', () => {
    expect([486, 600, 408, 404, 480, 503, 603, 401].map(failureReasonForStatus)).toEqual(['busy', 'busy', 'no-answer', 'unreachable', 'unreachable', 'error', 'rejected', 'rejected']);
  });

  it('rings, answers, bridges, and parks the old partner when a leg is bridged elsewhere', async () => {
    const { sim, log } = started();
    const placed = await sim.placeCustomerCall('555', '4000');
    expect(placed).toMatchObject({ ok: true });
    const b = (placed as { id: string }).id;
    sim.signalling.dial({ legId: 'a', callId: 'c', number: '2001', callerNumber: '555' });
    sim.signalling.dial({ legId: 'c', callId: 'c', number: '2002', callerNumber: '2001' });
    await Promise.resolve();
    expect(sim.phone('2001')).toEqual({ state: 'ringing', hears: [] });
    sim.answer('2001');
    sim.answer('2002');
    await sim.media.bridge(b, 'a');
    expect(sim.phone('555').hears).toEqual(['2001']);
    await sim.media.bridge('a', 'c');
    expect(sim.phone('555').hears).toEqual([]);
    expect(sim.phone('2002').hears).toEqual(['2001']);
    await sim.media.joinRoom('r', b);
    expect(sim.phone('555').hears).toEqual(['moh']); // a lone room member hears music
    await sim.media.playRingback('a');
    expect(sim.phone('2001').hears).toEqual(['ringback']);
    expect(sim.phone('2002').hears).toEqual([]);
    expect(log).toContain('incomingAnswered sim-in-1');
    expect(log).toContain('answered a');
  });

  it('refuses what a real phone or media server would refuse', async () => {
    const { sim, log } = started();
    expect(await sim.placeCustomerCall('555', '4999')).toEqual({ ok: false, status: 404, reason: 'Not Found' });
    expect(() => sim.answer('2001')).toThrow(SimError);
    sim.signalling.dial({ legId: 'a', callId: 'c', number: '2001', callerNumber: '555' });
    sim.signalling.dial({ legId: 'a2', callId: 'c', number: '2001', callerNumber: '555' });
    await Promise.resolve();
    expect(log).toContain('failed a2 busy');
    await expect(sim.media.playHoldMusic('a')).rejects.toBeInstanceOf(LegMediaError);
    sim.hangup('2001'); // a ringing phone that hangs up declines
    expect(log).toContain('failed a rejected');
    await sim.signalling.hangup('a'); // already gone: ignored
    expect(sim.phone('2001').state).toBe('idle');
  });
});
