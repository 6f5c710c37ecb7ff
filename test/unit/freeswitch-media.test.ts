/**
 * The media adapter against a scripted FreeSWITCH: which commands it sends, in what order, and how pending and
 * later commands end when a leg goes away. Every reply and event is given by the test, so each race is exact.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EslEvent } from 'modesl';
import { LegMediaError } from '../../src/ports/telephony.js';
import type { FreeSwitchCommands } from '../../src/telephony/drachtio/freeswitch-control.js';
import { FreeSwitchMedia, HELD_MEDIA_TIMEOUT_MS, HOLD_MUSIC, RINGBACK, inlineApp } from '../../src/telephony/drachtio/media.js';

interface Sent {
  readonly command: string;
  readonly args: string;
  answer(reply: string): void;
}

/** FreeSWITCH as the test plays it: commands wait until answered; events are sent by hand. */
class ScriptedFreeSwitch implements FreeSwitchCommands {
  readonly sent: Sent[] = [];
  private readonly listeners = new Set<(event: EslEvent) => void>();
  /** Commands answered at once with this reply (e.g. uuid_exists). */
  readonly auto = new Map<string, (args: string) => string>();
  up = true;

  run(command: string, args: string): Promise<string> {
    const auto = this.auto.get(command);
    if (auto) return Promise.resolve(auto(args));
    return new Promise((resolve) => this.sent.push({ command, args, answer: resolve }));
  }

  onEvent(listener: (event: EslEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(headers: Record<string, string>): void {
    const event: EslEvent = { getHeader: (name) => headers[name], getBody: () => '' };
    for (const listener of this.listeners) listener(event);
  }

  lines(): string[] {
    return this.sent.map((s) => `${s.command} ${s.args}`);
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function setup(timeoutMs = 2000) {
  const fs = new ScriptedFreeSwitch();
  const lost: [string, string][] = [];
  const effects: [string, string][] = [];
  const digits: [string, string][] = [];
  const media = new FreeSwitchMedia(fs, {
    logger: pino({ level: 'silent' }),
    timeoutMs,
    onDigit: (legId, digit) => digits.push([legId, digit]),
    onChannelLost: (legId, cause) => lost.push([legId, cause]),
    onEffect: (op, _ms, legId) => effects.push([op, legId]),
  });
  media.track('A', 'uuid-a');
  media.track('B', 'uuid-b');
  media.track('C', 'uuid-c');
  return { fs, media, lost, effects, digits };
}

describe('FreeSWITCH media adapter', () => {
  it('makes each change with one command: hold music, ringback, park and rooms move the channel by uuid_transfer inline', async () => {
    const { fs, media } = setup();
    void media.playHoldMusic('B');
    void media.playRingback('A');
    void media.joinRoom('call-1-room', 'C');
    await tick();
    expect(fs.lines()).toEqual([
      `uuid_transfer uuid-b m:|:endless_playback:${HOLD_MUSIC} inline`,
      `uuid_transfer uuid-a m:|:endless_playback:${RINGBACK} inline`,
      'uuid_transfer uuid-c m:|:conference:call-1-room@help inline',
    ]);
    // The tone sources have commas (the inline dialplan's default separator) and no spaces (the API's separator).
    expect(HOLD_MUSIC).toContain(',');
    expect(HOLD_MUSIC).not.toMatch(/[ |]/);
    expect(inlineApp('park')).toBe('m:|:park');
  });

  it('never lets a command for one leg wait on another leg: both are sent before either is answered', async () => {
    const { fs, media } = setup();
    const hold = media.playHoldMusic('B');
    const ring = media.playRingback('A');
    await tick();
    expect(fs.sent).toHaveLength(2);
    fs.sent[1]?.answer('+OK');
    await expect(ring).resolves.toBeUndefined();
    fs.sent[0]?.answer('+OK');
    await expect(hold).resolves.toBeUndefined();
  });

  it('keeps the order of commands for the same leg: the bridge is sent once the hold music is answered', async () => {
    const { fs, media } = setup();
    const hold = media.playHoldMusic('B');
    const bridge = media.bridge('A', 'B');
    await tick();
    expect(fs.lines()).toEqual([expect.stringMatching(/^uuid_transfer uuid-b /)]);
    fs.sent[0]?.answer('+OK');
    await hold;
    await tick();
    expect(fs.lines()[1]).toBe('uuid_bridge uuid-a uuid-b');
    fs.sent[1]?.answer('+OK uuid-b');
    await expect(bridge).resolves.toBeUndefined();
  });

  it('fails a pending command at once when FreeSWITCH hangs its leg up, and tells that the leg was lost', async () => {
    const { fs, media, lost } = setup();
    const hold = media.playHoldMusic('B');
    await tick();
    fs.emit({ 'Event-Name': 'CHANNEL_HANGUP', 'Unique-ID': 'uuid-b', 'Hangup-Cause': 'NORMAL_CLEARING' });
    await expect(hold).rejects.toMatchObject({ name: 'LegMediaError', legId: 'B' });
    expect(lost).toEqual([['B', 'NORMAL_CLEARING']]);
    // Later commands for B fail without being sent.
    await expect(media.park('B')).rejects.toBeInstanceOf(LegMediaError);
    await expect(media.bridge('A', 'B')).rejects.toBeInstanceOf(LegMediaError);
    expect(fs.sent).toHaveLength(1);
  });

  it('fails a command queued behind a pending one when its leg goes, without sending it', async () => {
    const { fs, media } = setup();
    void media.playHoldMusic('B').catch(() => undefined);
    const bridge = media.bridge('A', 'B');
    await tick();
    fs.emit({ 'Event-Name': 'CHANNEL_HANGUP', 'Unique-ID': 'uuid-b' });
    await expect(bridge).rejects.toMatchObject({ legId: 'B' });
    fs.sent[0]?.answer('-ERR No such channel!');
    await tick();
    expect(fs.lines().filter((l) => l.startsWith('uuid_bridge'))).toEqual([]);
  });

  it('hangs a leg up with uuid_kill at once, even while a command for it is pending, and fails that command', async () => {
    const { fs, media, lost } = setup();
    const ring = media.playRingback('A');
    const ringFailure = ring.catch((error: unknown) => error);
    await tick();
    const hangup = media.hangup('A');
    await tick();
    expect(fs.lines()).toEqual([expect.stringMatching(/^uuid_transfer uuid-a /), 'uuid_kill uuid-a']);
    expect(await ringFailure).toMatchObject({ name: 'LegMediaError', legId: 'A' });
    fs.sent[1]?.answer('+OK');
    await expect(hangup).resolves.toBe(true);
    // FreeSWITCH's CHANNEL_HANGUP for a channel we hung up is not a loss.
    fs.emit({ 'Event-Name': 'CHANNEL_HANGUP', 'Unique-ID': 'uuid-a' });
    expect(lost).toEqual([]);
    expect(media.liveChannels()).toEqual(new Set(['uuid-b', 'uuid-c']));
  });

  it('counts a channel FreeSWITCH had already ended as hung up', async () => {
    const { fs, media } = setup();
    const hangup = media.hangup('C');
    await tick();
    fs.sent[0]?.answer('-ERR No such channel!\n');
    await expect(hangup).resolves.toBe(true);
  });

  it('blames the leg whose channel no longer exists when FreeSWITCH refuses a bridge', async () => {
    const { fs, media } = setup();
    fs.auto.set('uuid_exists', (uuid) => (uuid === 'uuid-c' ? 'false' : 'true'));
    const bridge = media.bridge('A', 'C');
    await tick();
    fs.sent[0]?.answer('-ERR Invalid uuid\n');
    await expect(bridge).rejects.toMatchObject({ legId: 'C' });
  });

  it('gives up on a command FreeSWITCH never answers at the deadline, as its leg lost', async () => {
    const { media } = setup(30);
    await expect(media.park('A')).rejects.toMatchObject({ name: 'LegMediaError', legId: 'A' });
  });

  it('follows each channel from its events: application, bridge partner, room', async () => {
    const { fs, media, effects } = setup();
    void media.bridge('A', 'B');
    await tick();
    fs.emit({ 'Event-Name': 'CHANNEL_BRIDGE', 'Bridge-A-Unique-ID': 'uuid-a', 'Bridge-B-Unique-ID': 'uuid-b' });
    expect(media.view('A')).toMatchObject({ bridgedTo: 'uuid-b' });
    expect(media.view('B')).toMatchObject({ bridgedTo: 'uuid-a' });
    fs.emit({ 'Event-Name': 'CHANNEL_UNBRIDGE', 'Bridge-A-Unique-ID': 'uuid-a', 'Bridge-B-Unique-ID': 'uuid-b' });
    fs.emit({ 'Event-Name': 'CHANNEL_EXECUTE', 'Unique-ID': 'uuid-b', Application: 'endless_playback' });
    expect(media.view('B')).toMatchObject({ bridgedTo: null, application: 'endless_playback' });
    void media.joinRoom('r1', 'C');
    await tick();
    fs.emit({ 'Event-Name': 'CUSTOM', 'Event-Subclass': 'conference::maintenance', Action: 'add-member', 'Unique-ID': 'uuid-c', 'Conference-Name': 'r1' });
    expect(media.view('C')).toMatchObject({ room: 'r1' });
    fs.emit({ 'Event-Name': 'CUSTOM', 'Event-Subclass': 'conference::maintenance', Action: 'del-member', 'Unique-ID': 'uuid-c', 'Conference-Name': 'r1' });
    expect(media.view('C')).toMatchObject({ room: null });
    expect(effects).toEqual([
      ['bridge', 'A'],
      ['join room', 'C'],
    ]);
  });

  it('loses every leg at once when FreeSWITCH goes away', async () => {
    const { fs, media } = setup();
    const hold = media.playHoldMusic('B');
    await tick();
    expect(media.loseAll('gone').sort()).toEqual(['A', 'B', 'C']);
    await expect(hold).rejects.toBeInstanceOf(LegMediaError);
    expect(media.liveChannels().size).toBe(0);
    expect(fs.sent).toHaveLength(1);
    // FreeSWITCH never said so itself: the caller must end each channel another way (SIP BYE).
    await expect(media.hangup('A')).resolves.toBe(false);
    expect(fs.sent).toHaveLength(1);
  });

  it('holds FreeSWITCH\'s media timeout off while a phone holds (a day, as a 0 is ignored) and puts it back', async () => {
    const { fs, media } = setup();
    const set: string[] = [];
    fs.auto.set('uuid_getvar', () => '3000\n');
    fs.auto.set('uuid_setvar', (args) => (set.push(args), '+OK'));
    await media.holdMediaTimeout('A', true);
    expect(set.sort()).toEqual([`uuid-a media_timeout ${HELD_MEDIA_TIMEOUT_MS}`, `uuid-a media_timeout_audio ${HELD_MEDIA_TIMEOUT_MS}`]);
    set.length = 0;
    await media.holdMediaTimeout('A', false);
    expect(set.sort()).toEqual(['uuid-a media_timeout 3000', 'uuid-a media_timeout_audio 3000']);
    // A resume with no hold before it changes nothing.
    set.length = 0;
    await media.holdMediaTimeout('B', false);
    expect(set).toEqual([]);
  });

  it('arms a dialled leg\'s media timeout by copying media_timeout to media_timeout_audio, never throwing', async () => {
    const { fs, media } = setup();
    const set: string[] = [];
    fs.auto.set('uuid_getvar', () => '60000');
    fs.auto.set('uuid_setvar', (args) => (set.push(args), '+OK'));
    await media.armMediaTimeout('C');
    expect(set).toEqual(['uuid-c media_timeout_audio 60000']);
    fs.auto.set('uuid_getvar', () => '_undef_');
    await media.armMediaTimeout('B');
    expect(set).toHaveLength(1);
    fs.auto.set('uuid_getvar', () => {
      throw new Error('connection lost');
    });
    await expect(media.armMediaTimeout('A')).resolves.toBeUndefined();
  });

  it('bridges a leg whose old partner is going away only once FreeSWITCH has parked it (park_after_bridge)', async () => {
    const { fs, media } = setup();
    fs.emit({ 'Event-Name': 'CHANNEL_BRIDGE', 'Bridge-A-Unique-ID': 'uuid-a', 'Bridge-B-Unique-ID': 'uuid-c' });
    // A hangs up (we kill its channel); the core bridges C to B at once.
    void media.hangup('A');
    const bridge = media.bridge('C', 'B');
    await tick();
    expect(fs.lines()).toEqual(['uuid_kill uuid-a']);
    fs.emit({ 'Event-Name': 'CHANNEL_UNBRIDGE', 'Bridge-A-Unique-ID': 'uuid-a', 'Bridge-B-Unique-ID': 'uuid-c' });
    await tick();
    expect(fs.lines()).toEqual(['uuid_kill uuid-a']);
    fs.emit({ 'Event-Name': 'CHANNEL_PARK', 'Unique-ID': 'uuid-c' });
    await tick();
    expect(fs.lines()).toEqual(['uuid_kill uuid-a', 'uuid_bridge uuid-c uuid-b']);
    fs.sent[1]?.answer('+OK');
    await expect(bridge).resolves.toBeUndefined();
  });

  it('does not wait to bridge a leg whose partner is live (it is moved out of that bridge by the new one)', async () => {
    const { fs, media } = setup();
    fs.emit({ 'Event-Name': 'CHANNEL_BRIDGE', 'Bridge-A-Unique-ID': 'uuid-a', 'Bridge-B-Unique-ID': 'uuid-c' });
    void media.bridge('C', 'B');
    await tick();
    expect(fs.lines()).toEqual(['uuid_bridge uuid-c uuid-b']);
  });
  it('moves a leg again only once FreeSWITCH has reported its bridge (uuid_bridge\'s originator polls for its partner)', async () => {
    const { fs, media } = setup();
    const bridge = media.bridge('A', 'B');
    await tick();
    fs.sent[0]?.answer('+OK');
    await expect(bridge).resolves.toBeUndefined();
    // A help request a few ms after the answer: B to hold music, A to ringback. Neither goes before the bridge is up.
    const hold = media.playHoldMusic('B');
    const ring = media.playRingback('A');
    await tick();
    expect(fs.lines()).toEqual(['uuid_bridge uuid-a uuid-b']);
    fs.emit({ 'Event-Name': 'CHANNEL_BRIDGE', 'Bridge-A-Unique-ID': 'uuid-a', 'Bridge-B-Unique-ID': 'uuid-b' });
    await tick();
    expect(fs.lines().slice(1).sort()).toEqual([expect.stringMatching(/^uuid_transfer uuid-a /), expect.stringMatching(/^uuid_transfer uuid-b /)]);
    for (const s of fs.sent.slice(1)) s.answer('+OK');
    await expect(Promise.all([hold, ring])).resolves.toBeDefined();
  });

  it('does not hold a leg\'s next command on a bridge whose other leg went away', async () => {
    const { fs, media } = setup();
    const bridge = media.bridge('A', 'B').catch((error: unknown) => error);
    await tick();
    fs.sent[0]?.answer('+OK');
    const ring = media.playRingback('A');
    fs.emit({ 'Event-Name': 'CHANNEL_HANGUP', 'Unique-ID': 'uuid-b' });
    await tick();
    expect(fs.lines()).toEqual(['uuid_bridge uuid-a uuid-b', expect.stringMatching(/^uuid_transfer uuid-a /)]);
    fs.sent[1]?.answer('+OK');
    await expect(ring).resolves.toBeUndefined();
    await bridge;
  });
  it('hangs up a leg in a bridge FreeSWITCH has not reported yet only once it is reported (else both legs fall)', async () => {
    const { fs, media } = setup();
    void media.bridge('A', 'C');
    await tick();
    fs.sent[0]?.answer('+OK');
    await tick();
    const killed = media.hangup('C');
    await tick();
    expect(fs.lines()).toEqual(['uuid_bridge uuid-a uuid-c']);
    fs.emit({ 'Event-Name': 'CHANNEL_BRIDGE', 'Bridge-A-Unique-ID': 'uuid-a', 'Bridge-B-Unique-ID': 'uuid-c' });
    await tick();
    expect(fs.lines()).toEqual(['uuid_bridge uuid-a uuid-c', 'uuid_kill uuid-c']);
    fs.sent[1]?.answer('+OK');
    await expect(killed).resolves.toBe(true);
  });
  it("tells each channel's RFC 2833 keys by leg, and plays the error tone to that channel only (uuid_broadcast aleg)", async () => {
    const { fs, media, digits } = setup();
    fs.emit({ 'Event-Name': 'DTMF', 'Unique-ID': 'uuid-a', 'DTMF-Digit': '*' });
    fs.emit({ 'Event-Name': 'DTMF', 'Unique-ID': 'uuid-unknown', 'DTMF-Digit': '1' });
    expect(digits).toEqual([['A', '*']]);
    const tone = media.playErrorTone('A');
    await tick();
    expect(fs.lines()).toEqual([expect.stringMatching(/^uuid_broadcast uuid-a tone_stream:\/\/\S+ aleg$/)]);
    fs.sent[0]?.answer('+OK');
    await expect(tone).resolves.toBeUndefined();
  });
  it("sends a transfer once more when FreeSWITCH's park_after_bridge replaced it (parked before the change showed)", async () => {
    const { fs, media } = setup();
    const join = media.joinRoom('r1', 'B');
    await tick();
    fs.sent[0]?.answer('+OK');
    await join;
    fs.emit({ 'Event-Name': 'CHANNEL_PARK', 'Unique-ID': 'uuid-b' });
    await tick();
    expect(fs.lines()).toEqual(['uuid_transfer uuid-b m:|:conference:r1@help inline', 'uuid_transfer uuid-b m:|:conference:r1@help inline']);
    // Once only; and never after the change has shown.
    fs.emit({ 'Event-Name': 'CHANNEL_PARK', 'Unique-ID': 'uuid-b' });
    const hold = media.playHoldMusic('A');
    await tick();
    fs.sent.at(-1)?.answer('+OK');
    await hold;
    fs.emit({ 'Event-Name': 'CHANNEL_EXECUTE', 'Unique-ID': 'uuid-a', Application: 'endless_playback' });
    fs.emit({ 'Event-Name': 'CHANNEL_PARK', 'Unique-ID': 'uuid-a' });
    await tick();
    expect(fs.lines().filter((l) => l.startsWith('uuid_transfer uuid-a'))).toHaveLength(1);
    expect(fs.lines()).toHaveLength(3);
  });
});

