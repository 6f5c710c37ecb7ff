/**
 * The reconciler against a FreeSWITCH listing given by the test: only our own channels that no live leg owns, and
 * that are older than the grace period, are hung up; everything else is left alone.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { FreeSwitchCommands } from '../../src/telephony/drachtio/freeswitch-control.js';
import { Reconciler, parseRows } from '../../src/telephony/drachtio/reconciler.js';

interface FakeChannel {
  readonly uuid: string;
  readonly ageSeconds: number;
  readonly vars: Record<string, string>;
}

function fakeFreeSwitch(channels: FakeChannel[], rooms: unknown[] = []): FreeSwitchCommands & { readonly killed: string[] } {
  const killed: string[] = [];
  const now = Date.now() / 1000;
  return {
    up: true,
    killed,
    onEvent: () => () => undefined,
    async run(command, args) {
      if (command === 'show') {
        const rows = channels.filter((c) => !killed.includes(c.uuid)).map((c) => ({ uuid: c.uuid, created_epoch: String(Math.floor(now - c.ageSeconds)), name: `sofia/drachtio_mrf/${c.uuid}`, application: 'endless_playback' }));
        return JSON.stringify(rows.length ? { row_count: rows.length, rows } : { row_count: 0 });
      }
      if (command === 'uuid_dump') {
        const channel = channels.find((c) => c.uuid === args.split(' ')[0]);
        if (!channel) return '-ERR No such channel!';
        return JSON.stringify(Object.fromEntries([['Unique-ID', channel.uuid], ...Object.entries(channel.vars).map(([k, v]) => [`variable_${k}`, v])]));
      }
      if (command === 'uuid_kill') {
        killed.push(args);
        return '+OK';
      }
      if (command === 'conference') return rooms.length ? JSON.stringify(rooms) : '-ERR No active conferences.';
      return '-ERR unknown';
    },
  };
}

const ours = (leg: string, call?: string): Record<string, string> => ({
  'sip_h_X-Helpdesk-Owner': 'svc-1',
  'sip_h_X-Helpdesk-Leg': leg,
  ...(call ? { 'sip_h_X-Helpdesk-Call': call } : {}),
});

function reconciler(fs: FreeSwitchCommands, live: { channels: string[]; legs: string[] }) {
  return new Reconciler({
    fs,
    owner: 'svc-1',
    liveChannels: () => new Set(live.channels),
    isLiveLeg: (legId) => live.legs.includes(legId),
    intervalMs: 0,
    graceMs: 3000,
    logger: pino({ level: 'silent' }),
  });
}

describe('reconciler', () => {
  it('hangs up our channels that no live leg owns, and only those', async () => {
    const fs = fakeFreeSwitch([
      { uuid: 'orphan-1', ageSeconds: 60, vars: ours('leg-gone', 'call-7') },
      { uuid: 'live-1', ageSeconds: 60, vars: ours('leg-live') },
      { uuid: 'setting-up', ageSeconds: 60, vars: ours('leg-dialling') },
      { uuid: 'young', ageSeconds: 1, vars: ours('leg-young') },
      { uuid: 'foreign', ageSeconds: 60, vars: { 'sip_h_X-Helpdesk-Owner': 'other-service', 'sip_h_X-Helpdesk-Leg': 'x' } },
      { uuid: 'untagged', ageSeconds: 60, vars: {} },
    ]);
    const r = reconciler(fs, { channels: ['live-1'], legs: ['leg-live', 'leg-dialling'] });
    const seen: unknown[] = [];
    r.onOrphan((o) => seen.push(o));
    expect(await r.runOnce()).toBe(1);
    expect(fs.killed).toEqual(['orphan-1']);
    expect(seen).toEqual([{ uuid: 'orphan-1', legId: 'leg-gone', callId: 'call-7' }]);
    expect(r.report()).toMatchObject({ orphansHungUp: 1, lastError: null });
    expect(r.report().lastRunAt).not.toBeNull();
    // Nothing more to do on the next run.
    expect(await r.runOnce()).toBe(0);
    expect(r.report().orphansHungUp).toBe(1);
  });

  it('counts rooms whose members are all unknown to us', async () => {
    const fs = fakeFreeSwitch([], [
      { conference_name: 'c1-room', members: [{ uuid: 'live-1' }, { uuid: 'x' }] },
      { conference_name: 'c2-room', members: [{ uuid: 'y' }] },
    ]);
    const r = reconciler(fs, { channels: ['live-1'], legs: [] });
    await r.runOnce();
    expect(r.report().staleRooms).toBe(1);
  });

  it('reports a listing it cannot read instead of throwing', async () => {
    const fs = fakeFreeSwitch([]);
    fs.run = async () => '-ERR permission denied';
    const r = reconciler(fs, { channels: [], legs: [] });
    expect(await r.runOnce()).toBe(0);
    expect(r.report().lastError).toMatch(/show channels/);
  });

  it('reads FreeSWITCH listings with and without rows', () => {
    expect(parseRows('{"row_count":0}')).toEqual([]);
    expect(parseRows('{"row_count":1,"rows":[{"uuid":"u1"}]}')).toEqual([{ uuid: 'u1' }]);
    expect(() => parseRows('-ERR no')).toThrow(/show channels/);
  });
});
