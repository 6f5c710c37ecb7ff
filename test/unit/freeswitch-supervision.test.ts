/** The FreeSWITCH commands of a supervisor's audio (FreeSwitchSupervision), against a fake media adapter. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { FreeSwitchMedia } from '../../src/telephony/drachtio/media.js';
import { FreeSwitchSupervision } from '../../src/telephony/drachtio/supervision-media.js';

const ROOM = 'c1-room';

function fakeMedia(joined = false) {
  const commands: string[] = [];
  const rooms = new Map<string, { room: string; memberId: string }>([
    ['A', { room: ROOM, memberId: '1' }],
    ['B', { room: ROOM, memberId: '2' }],
  ]);
  if (joined) rooms.set('S', { room: ROOM, memberId: '7' });
  const media = {
    view: (legId: string) => ({ uuid: `u-${legId}`, application: null, bridgedTo: null, room: rooms.get(legId)?.room ?? null, memberId: rooms.get(legId)?.memberId ?? null, gone: false }),
    membersOf: (room: string) => [...rooms].filter(([, m]) => m.room === room).map(([legId, m]) => ({ legId, memberId: m.memberId })),
    joinRoom: async (room: string, legId: string, flags?: string) => {
      commands.push(`join ${legId} ${room} ${flags ?? ''}`);
      setTimeout(() => rooms.set(legId, { room, memberId: '7' }), 30); // add-member comes after the reply
    },
    conferenceCommand: async (args: string) => {
      commands.push(`conference ${args}`);
      return '+OK';
    },
  };
  return { media: media as unknown as FreeSwitchMedia, commands };
}

describe('FreeSwitchSupervision', () => {
  it('monitor: joins the room muted, then mutes (nobody hears it); no relation needed', async () => {
    const { media, commands } = fakeMedia();
    await new FreeSwitchSupervision(() => media, pino({ level: 'silent' })).superviseAudio(ROOM, 'S', ['A', 'B'], []);
    expect(commands).toEqual([`join S ${ROOM} mute`, `conference ${ROOM} mute 7 quiet`]);
  });

  it('coach: the customer related nospeak, the agent cleared, and only then unmuted', async () => {
    const { media, commands } = fakeMedia(true);
    await new FreeSwitchSupervision(() => media, pino({ level: 'silent' })).superviseAudio(ROOM, 'S', ['A', 'B'], ['A']);
    expect(commands).toEqual([`conference ${ROOM} relate 7 1 clear`, `conference ${ROOM} relate 7 2 nospeak`, `conference ${ROOM} unmute 7 quiet`]);
  });

  it('barge: every relation cleared, unmuted; the same member (no new join)', async () => {
    const { media, commands } = fakeMedia(true);
    await new FreeSwitchSupervision(() => media, pino({ level: 'silent' })).superviseAudio(ROOM, 'S', ['A', 'B'], ['A', 'B']);
    expect(commands).toEqual([`conference ${ROOM} relate 7 1 clear`, `conference ${ROOM} relate 7 2 clear`, `conference ${ROOM} unmute 7 quiet`]);
  });
});
