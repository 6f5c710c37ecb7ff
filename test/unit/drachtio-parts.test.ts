/** The pure parts of the real backend: re-INVITE classification, SDP answers, contacts, deadlines, SIP statuses, draining. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/config.js';
import type { SignallingEvents } from '../../src/ports/telephony.js';
import { contactResolver, phoneCredentials } from '../../src/telephony/create-backend.js';
import { LegTable } from '../../src/telephony/drachtio/legs.js';
import type { FreeSwitchMedia } from '../../src/telephony/drachtio/media.js';
import { mostTelling } from '../../src/telephony/drachtio/signalling.js';
import { answerDirection, classifyReInvite, isSecureOffer, withDirection } from '../../src/telephony/drachtio/sdp.js';
import { DrachtioSignalling } from '../../src/telephony/drachtio/signalling.js';
import type { SipRequest, SipResponse, SrfLike } from '../../src/telephony/drachtio/sip-types.js';
import { OperationTimeout, withTimeout } from '../../src/telephony/drachtio/timeouts.js';
import { failureReasonForStatus, referTarget, sipfragFor } from '../../src/telephony/sip-status.js';
import { testConfig } from '../component/api-harness.js';

function sdp(options: { ip?: string; port?: number; direction?: string; codecs?: string; version?: number } = {}): string {
  const { ip = '192.0.2.5', port = 4000, direction = 'sendrecv', codecs = '0 8 101', version = 1 } = options;
  const rtpmaps: Record<string, string> = { '0': 'PCMU/8000', '8': 'PCMA/8000', '9': 'G722/8000', '101': 'telephone-event/8000' };
  return [
    'v=0',
    `o=phone 1000 ${version} IN IP4 ${ip}`,
    's=-',
    `c=IN IP4 ${ip}`,
    't=0 0',
    `m=audio ${port} RTP/AVP ${codecs}`,
    ...codecs.split(' ').map((pt) => `a=rtpmap:${pt} ${rtpmaps[pt]}`),
    `a=${direction}`,
    '',
  ].join('\r\n');
}

describe('phone re-INVITEs', () => {
  it('tells a session refresh, a hold, a resume and a real media change apart', () => {
    expect(classifyReInvite(sdp(), sdp({ version: 2 }))).toBe('refresh');
    expect(classifyReInvite(sdp(), sdp({ direction: 'sendonly' }))).toBe('hold');
    expect(classifyReInvite(sdp(), sdp({ direction: 'inactive' }))).toBe('hold');
    expect(classifyReInvite(sdp(), sdp({ ip: '0.0.0.0' }))).toBe('hold');
    expect(classifyReInvite(sdp({ direction: 'sendonly' }), sdp())).toBe('resume');
    expect(classifyReInvite(sdp(), sdp({ port: 4002 }))).toBe('media-change');
    expect(classifyReInvite(sdp(), sdp({ ip: '192.0.2.6' }))).toBe('media-change');
    expect(classifyReInvite(sdp(), sdp({ codecs: '9 101' }))).toBe('media-change');
  });

  it('answers a hold with recvonly (inactive with inactive) and a new SDP version', () => {
    const ours = sdp({ ip: '127.0.0.1', port: 20000, version: 7 });
    const held = answerDirection(ours, sdp({ direction: 'sendonly' }));
    expect(held).toMatch(/a=recvonly/);
    expect(held).not.toMatch(/a=sendrecv/);
    expect(held).toMatch(/o=phone 1000 8 IN IP4 127.0.0.1/);
    expect(answerDirection(ours, sdp({ direction: 'inactive' }))).toMatch(/a=inactive/);
    expect(answerDirection(ours, sdp({ direction: 'recvonly' }))).toMatch(/a=sendonly/);
    expect(answerDirection(ours, sdp())).toMatch(/a=sendrecv/);
  });

  it('recognises offers that need SRTP', () => {
    expect(isSecureOffer(sdp())).toBe(false);
    expect(isSecureOffer(sdp().replace('RTP/AVP', 'RTP/SAVP'))).toBe(true);
    expect(isSecureOffer(sdp().replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF'))).toBe(true);
  });
});

describe('contacts', () => {
  it('reaches agents at their contact and everyone else through the gateway', () => {
    const config = validateConfig({
      ...testConfig(),
      agents: [{ workNo: '101', password: 'x', phone: '2001', skills: [], contact: 'sip:2001@127.0.0.1:5071' }],
      routes: [],
    });
    const contactFor = contactResolver(config);
    expect(contactFor('2001', '101')).toBe('sip:2001@127.0.0.1:5071');
    expect(contactFor('2001')).toBe('sip:2001@127.0.0.1:5071');
    expect(contactFor('5550100')).toBe('sip:5550100@127.0.0.1:5090');
    // An agent's phone with no contact is unreachable rather than sent to the gateway.
    expect(contactFor('2009', '101')).toBeUndefined();
  });

  it('reaches a handset at its static contact; one that registers is never sent to the gateway', () => {
    const config = validateConfig({
      ...testConfig(),
      phones: [{ number: '2050', contact: 'sip:2050@127.0.0.1:5080' }, { number: '2051', password: 'secret' }],
    });
    const contactFor = contactResolver(config);
    expect(contactFor('2050')).toBe('sip:2050@127.0.0.1:5080');
    expect(contactFor('2051')).toBeUndefined();
    expect(phoneCredentials(config)).toEqual([{ phone: '2051', username: '2051', password: 'secret' }]);
  });

  it('acts on the most telling failure of a forked INVITE: 6xx, then busy, then the first other, 487 last', () => {
    expect(mostTelling([487, 480, 603])).toBe(603);
    expect(mostTelling([480, 486])).toBe(486);
    expect(mostTelling([487, 408, 480])).toBe(408);
    expect(mostTelling([487, 487])).toBe(487);
  });
});

describe('deadlines and statuses', () => {
  it('rejects an operation that does not complete in time, and passes one that does', async () => {
    await expect(withTimeout(new Promise(() => undefined), 20, 'uuid_bridge')).rejects.toBeInstanceOf(OperationTimeout);
    await expect(withTimeout(Promise.resolve(5), 20, 'x')).resolves.toBe(5);
  });

  it('maps final SIP statuses to failure reasons', () => {
    expect([486, 600, 408, 487, 404, 480, 410, 604, 500, 503, 603, 403].map(failureReasonForStatus)).toEqual([
      'busy', 'busy', 'no-answer', 'no-answer', 'unreachable', 'unreachable', 'unreachable', 'unreachable', 'error', 'error', 'rejected', 'rejected',
    ]);
  });
});

describe('a phone hold told to FreeSWITCH', () => {
  it('is the phone\'s own SDP with recvonly and a new version, nothing else changed', () => {
    const held = withDirection(sdp({ direction: 'sendonly', version: 4 }), 'recvonly');
    expect(held).toMatch(/a=recvonly/);
    expect(held).not.toMatch(/a=sendonly/);
    expect(held).toMatch(/o=phone 1000 5 IN IP4 192\.0\.2\.5/);
    expect(classifyReInvite(sdp(), held)).toBe('refresh');
    expect(held).toMatch(/m=audio 4000 RTP\/AVP 0 8 101/);
  });
});

/** The signalling adapter with no FreeSWITCH behind it (every endpoint request fails). */
function signallingWithoutFreeSwitch(srf: SrfLike, legs: LegTable): DrachtioSignalling {
  return new DrachtioSignalling({
    srf,
    legs,
    media: {} as FreeSwitchMedia,
    makeEndpoint: () => Promise.reject(new Error('no FreeSWITCH in this test')),
    contactFor: () => undefined,
    owner: 'test',
    timeoutMs: 100,
    logger: pino({ level: 'silent' }),
  });
}

describe('a stopping service on drachtio (drain)', () => {
  it('answers new INVITEs 503 with Retry-After before asking anyone, and takes them before it', async () => {
    let onInvite: ((req: SipRequest, res: SipResponse) => void) | undefined;
    const srf = { invite: (handler: (req: SipRequest, res: SipResponse) => void) => (onInvite = handler) } as unknown as SrfLike;
    const signalling = signallingWithoutFreeSwitch(srf, new LegTable());
    const asked: string[] = [];
    const events: SignallingEvents = {
      ringing: () => undefined,
      transferRequested: async () => ({ accept: false, status: 403, reason: 'Forbidden' }),
      answered: () => undefined,
      failed: () => undefined,
      hungUp: () => undefined,
      phoneHeld: () => undefined,
      dtmf: () => undefined,
      incomingAnswered: () => undefined,
      incoming: async (call) => {
        asked.push(call.to);
        return { accept: false, status: 404, reason: 'no route' };
      },
    };
    signalling.start(events);
    const invite = async (to: string): Promise<unknown[]> => {
      const sent: unknown[] = [];
      const req = { body: '', callingNumber: '5550100', calledNumber: to, get: () => undefined, once: () => undefined, cancel: () => undefined } as SipRequest;
      const res = { status: 0, finalResponseSent: false, send: (...args: unknown[]) => sent.push(args) } as SipResponse;
      onInvite?.(req, res);
      await new Promise((resolve) => setImmediate(resolve));
      return sent;
    };
    expect(await invite('4000')).toEqual([[404]]);
    signalling.drain(30);
    expect(await invite('4001')).toEqual([[503, { headers: { 'Retry-After': '30' } }]]);
    expect(asked).toEqual(['4000']);
  });
});

describe('a REFER from a phone', () => {
  it("reads the Refer-To's number in the forms phones send, and tells an attended transfer apart", () => {
    expect(referTarget('<sip:2002@127.0.0.1:5060>')).toEqual({ user: '2002' });
    expect(referTarget('"Bob" <sip:102@pbx.example;transport=udp>')).toEqual({ user: '102' });
    expect(referTarget('sip:%2B4930123@gw.example;user=phone')).toEqual({ user: '+4930123' });
    expect(referTarget('<tel:+4930123>')).toEqual({ user: '+4930123' });
    expect(referTarget('<sip:2002@127.0.0.1?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>')).toEqual({ user: '2002', replaces: { callId: 'abc@host', toTag: '1', fromTag: '2' } });
    expect(referTarget('<sip:2002@h?Subject=x&Replaces=abc%3Bfrom-tag%3D2%3Bto-tag%3D1%3Bearly-only>')).toEqual({ user: '2002', replaces: { callId: 'abc', toTag: '1', fromTag: '2' } });
    expect(referTarget('<sip:2002@127.0.0.1?Replaces=>')).toEqual({ refused: 'unreadable' });
    expect(referTarget('<sip:127.0.0.1>')).toEqual({ refused: 'unreadable' });
    expect(referTarget('nonsense')).toEqual({ refused: 'unreadable' });
    expect(referTarget(undefined)).toEqual({ refused: 'unreadable' });
  });

  it('reports progress as message/sipfrag status lines', () => {
    expect(sipfragFor(100)).toBe('SIP/2.0 100 Trying\r\n');
    expect(sipfragFor(200)).toBe('SIP/2.0 200 OK\r\n');
    expect(sipfragFor(486)).toBe('SIP/2.0 486 Busy Here\r\n');
    expect(sipfragFor(699)).toBe('SIP/2.0 699 Failed\r\n');
  });
});

/** The phone on leg L1 sends REFERs (through the adapter's own handler); `sent`: the answers. */
function referrer(signalling: DrachtioSignalling): { sent: unknown[][]; refer: (referTo: string) => Promise<void> } {
  const sent: unknown[][] = [];
  const refer = (referTo: string): Promise<void> =>
    signalling['phoneRefer'](
      signalling['options'].legs.get('L1') as never,
      { body: '', callingNumber: '', calledNumber: '', get: (h: string) => (h === 'Refer-To' ? referTo : undefined) },
      { status: 0, finalResponseSent: false, send: (...args: unknown[]) => sent.push(args) },
    );
  return { sent, refer };
}

describe('hanging up a phone on drachtio', () => {
  function upLeg(): { signalling: DrachtioSignalling; byes: unknown[]; notifies: { headers: Record<string, string>; body: string }[] } {
    const legs = new LegTable();
    const byes: unknown[] = [];
    const notifies: { headers: Record<string, string>; body: string }[] = [];
    const dialog = {
      destroy: (opts: unknown, callback: () => void) => {
        byes.push(opts);
        callback();
      },
      request: async (opts: { headers: Record<string, string>; body: string }) => {
        notifies.push(opts);
        return { status: 200 };
      },
    };
    legs.add({ id: 'L1', state: 'up', hangupRequested: false, dialog: { ...dialog, sip: { callId: 'call-L1', localTag: 'ours', remoteTag: 'theirs' } } as never });
    const signalling = signallingWithoutFreeSwitch({ invite: () => undefined } as unknown as SrfLike, legs);
    return { signalling, byes, notifies };
  }

  it("carries a queue's final status in the BYE's Reason header (RFC 3326)", async () => {
    const { signalling, byes } = upLeg();
    await signalling.hangup('L1', 486);
    expect(byes).toEqual([{ headers: { Reason: 'SIP;cause=486;text="Busy Here"' } }]);
  });

  it('sends a plain BYE otherwise, and tells no transfer progress to a phone that asked for none', async () => {
    const { signalling, byes, notifies } = upLeg();
    signalling.reportTransfer('L1', 200);
    await signalling.hangup('L1');
    expect(byes).toEqual([{}]);
    expect(notifies).toEqual([]);
  });

  it('answers a REFER 202 once the core accepts, then NOTIFYs in order, reports made meanwhile included; the final one ends it', async () => {
    const { signalling, notifies } = upLeg();
    let accept: (decision: { accept: true }) => void = () => undefined;
    signalling.start({ transferRequested: () => new Promise((resolve) => (accept = resolve)) } as unknown as SignallingEvents);
    const { sent, refer } = referrer(signalling);
    const first = refer('<sip:102@127.0.0.1>');
    // The target rings before the REFER is answered: the report waits.
    signalling.reportTransfer('L1', 180);
    expect(notifies).toEqual([]);
    // A second REFER while this one runs.
    await refer('<sip:103@127.0.0.1>');
    accept({ accept: true });
    await first;
    signalling.reportTransfer('L1', 200);
    signalling.reportTransfer('L1', 486);
    expect(sent).toEqual([[491], [202]]);
    expect(notifies.map((n) => [n.body, n.headers['Subscription-State'], n.headers.Event])).toEqual([
      ['SIP/2.0 100 Trying\r\n', 'active;expires=60', 'refer'],
      ['SIP/2.0 180 Ringing\r\n', 'active;expires=60', 'refer'],
      ['SIP/2.0 200 OK\r\n', 'terminated;reason=noresource', 'refer'],
    ]);
  });

  it('answers a refused REFER with its status and a Reason header, an unreadable one 400, and tells nothing', async () => {
    const { signalling, notifies } = upLeg();
    const asked: unknown[] = [];
    signalling.start({
      transferRequested: async (...args: unknown[]) => {
        asked.push(args);
        return { accept: false, status: 486, reason: 'Busy Here' };
      },
    } as unknown as SignallingEvents);
    const { sent, refer } = referrer(signalling);
    await refer('<sip:102@127.0.0.1>');
    await refer('<sip:102@127.0.0.1?Replaces=x%3Bto-tag%3D1%3Bfrom-tag%3D2>');
    await refer('<sip:102@127.0.0.1?Replaces=call-L1%3Bto-tag%3Dtheirs%3Bfrom-tag%3Dours>');
    await refer('garbage');
    signalling.reportTransfer('L1', 200);
    expect(sent[0]).toEqual([486, { headers: { Reason: 'SIP;cause=486;text="Busy Here"' } }]);
    expect((sent[1] as unknown[])[0]).toBe(486);
    expect(sent[3]).toEqual([400]);
    // An attended transfer names the phone's other dialog: the leg whose dialog it is (tags in either order), or null.
    expect(asked).toEqual([
      ['L1', '102', undefined],
      ['L1', '102', null],
      ['L1', '102', 'L1'],
    ]);
    expect(notifies).toEqual([]);
  });

  it('a hang-up decided while the REFER is answered waits for the 202 and the NOTIFYs, then the BYE goes', async () => {
    const { signalling, notifies, byes } = upLeg();
    signalling.start({
      transferRequested: async () => {
        signalling.reportTransfer('L1', 200);
        await signalling.hangup('L1');
        expect(byes).toEqual([]);
        return { accept: true };
      },
    } as unknown as SignallingEvents);
    const { sent, refer } = referrer(signalling);
    await refer('<sip:support@127.0.0.1>');
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([[202]]);
    expect(notifies.map((n) => n.body)).toEqual(['SIP/2.0 100 Trying\r\n', 'SIP/2.0 200 OK\r\n']);
    expect(byes).toHaveLength(1);
  });
});

describe('drachtio-server lost (its dialogs gone)', () => {
  it('ends every leg: an established one lost, a ringing one failed, each BYE tried once, none left in the table', () => {
    const legs = new LegTable();
    const byes: string[] = [];
    const dialog = (id: string): never => ({ destroy: (_opts: unknown, callback: () => void) => (byes.push(id), callback()) }) as never;
    legs.add({ id: 'UP', state: 'up', hangupRequested: false, dialog: dialog('UP') });
    legs.add({ id: 'RINGING', state: 'ringing', hangupRequested: false, invites: [] });
    legs.add({ id: 'GONE', state: 'gone', hangupRequested: false });
    const signalling = signallingWithoutFreeSwitch({ invite: () => undefined } as unknown as SrfLike, legs);
    const told: string[] = [];
    signalling.start({
      hungUp: (legId: string, lost: boolean) => told.push(`hungUp ${legId} ${String(lost)}`),
      failed: (legId: string, reason: string) => told.push(`failed ${legId} ${reason}`),
    } as unknown as SignallingEvents);
    expect(signalling.dialogsLost('test')).toEqual(['UP', 'RINGING']);
    expect(told).toEqual(['hungUp UP true', 'failed RINGING error']);
    expect(byes).toEqual(['UP']);
    expect(legs.ids()).toEqual(['GONE']);
    expect(signalling.dialogsLost('again')).toEqual([]);
  });
});

describe("a dead instance's legs ended by a survivor", () => {
  it('sends each BYE by dialog id with a request-URI, hears a response that comes at once, and kills the channels', async () => {
    const requests: unknown[] = [];
    const warnings: unknown[] = [];
    // drachtio-srf calls back with the sent request and, when the phone's 200 came in the same read, emits
    // 'response' on it right away, before any promise continuation could run.
    const srf = {
      invite: () => undefined,
      request: (opts: { uri?: string }, callback: (error: Error | null, request?: { on(event: 'response', listener: () => void): void }) => void) => {
        requests.push(opts);
        // Srf#request throws without a request-URI ("undefined is not a valid request_uri or options object.").
        if (opts.uri === undefined) throw new Error('undefined is not a valid request_uri or options object.');
        const listeners: (() => void)[] = [];
        callback(null, { on: (_event, listener) => listeners.push(listener) });
        for (const listener of listeners) listener();
      },
    } as unknown as SrfLike;
    const killed: string[] = [];
    const signalling = new DrachtioSignalling({
      srf,
      legs: new LegTable(),
      media: { killChannel: async (uuid: string) => void killed.push(uuid) } as unknown as FreeSwitchMedia,
      makeEndpoint: () => Promise.reject(new Error('no FreeSWITCH in this test')),
      contactFor: () => undefined,
      owner: 'test',
      timeoutMs: 1000,
      logger: { child: () => ({ warn: (...args: unknown[]) => warnings.push(args) }) } as never,
    });
    const started = Date.now();
    await signalling.releaseForeign([
      { legId: 'B', dialogId: 'call-b;from-tag=1', channelUuid: 'uuid-b' },
      { legId: 'A', dialogId: 'call-a;from-tag=2' },
    ]);
    expect(Date.now() - started).toBeLessThan(500);
    expect(requests).toEqual([
      { uri: 'sip:placeholder', method: 'BYE', stackDialogId: 'call-b;from-tag=1' },
      { uri: 'sip:placeholder', method: 'BYE', stackDialogId: 'call-a;from-tag=2' },
    ]);
    expect(killed).toEqual(['uuid-b']);
    expect(warnings).toEqual([]);
  });
});

describe('the real backend follows its drachtio-server connection', () => {
  it('ends the calls of a lost connection after the grace time, and again at once on a reconnect', async () => {
    const { DrachtioBackend } = await import('../../src/telephony/drachtio/backend.js');
    const { freePort } = await import('../support/free-port.js');
    const [eslPort, listenPort] = await Promise.all([freePort(), freePort()]);
    // A drachtio port that takes the connection and says nothing: the only connection events are the test's.
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const drachtioPort = (silent.address() as import('node:net').AddressInfo).port;
    const backend = new DrachtioBackend({
      drachtio: { host: '127.0.0.1', port: drachtioPort, secret: 'x' },
      freeswitch: { host: '127.0.0.1', port: eslPort, secret: 'x', listenAddress: '127.0.0.1', listenPort },
      contactFor: () => undefined,
      logger: pino({ level: 'silent' }),
      reconcileIntervalMs: 0,
      signallingLossMs: 100,
    });
    const ended: string[] = [];
    backend.signalling.dialogsLost = (reason: string) => (ended.push(reason), []);
    await backend.start({} as SignallingEvents);
    const srf = (backend as unknown as { srf: import('node:events').EventEmitter }).srf;
    try {
      srf.emit('connect', null, '127.0.0.1:5060');
      expect(ended).toEqual([]);
      srf.emit('close');
      srf.emit('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(ended).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(ended).toHaveLength(1);
      srf.emit('connect', null, '127.0.0.1:5060');
      expect(ended).toHaveLength(2);
      expect(backend.connected.drachtio).toBe(true);
      // A reconnect well within the grace time ends them at the reconnect, once.
      srf.emit('close');
      srf.emit('connect', null, '127.0.0.1:5060');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ended).toHaveLength(3);
      expect(ended[2]).toMatch(/reconnected/);
    } finally {
      await backend.stop();
      silent.close();
    }
  });
});
