/**
 * The registrar with the drachtio project's real middleware (drachtio-mw-digest-auth, drachtio-mw-registration-
 * parser) and drachtio-srf's own SIP parser for the requests: only the transport is played by the test.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { Registrar, ha1Of, type RegisterRequest, type RegisterResponse, type SharedNonces } from '../../src/telephony/drachtio/registrar.js';
import { BindingStore } from '../../src/telephony/registrations.js';

const require = createRequire(import.meta.url);
const SipMessage = require('drachtio-srf/lib/sip-parser/message') as new (raw: string) => RegisterRequest;

const REALM = 'helpdesk';
const settings = { realm: REALM, minExpiresSeconds: 60, maxExpiresSeconds: 3600, defaultExpiresSeconds: 1800, failuresBeforeBlock: 3, blockSeconds: 30, nonceLifetimeSeconds: 300 };

interface Sent {
  status: number;
  headers: Record<string, string>;
}

function setup(shared?: SharedNonces) {
  let now = 1_000_000;
  const store = new BindingStore(3);
  const registrar = new Registrar(
    store,
    [
      { phone: '2001', username: '2001', password: 'secret-2001' },
      { phone: '2002', username: 'desk-2002', ha1: ha1Of('desk-2002', REALM, 'secret-2002') },
    ],
    settings,
    pino({ level: 'silent' }),
    () => now,
  );
  if (shared) registrar.shareNonces(shared);
  let cseq = 1;
  /** Sends one REGISTER through the middleware chain and the handler, as drachtio-srf would. */
  const register = (o: { user?: string; aor?: string; contact?: string; expires?: string | null; auth?: string; source?: string; callId?: string }): Promise<Sent> => {
    const aor = o.aor ?? '2001';
    const lines = [
      `REGISTER sip:127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK${cseq}`,
      `From: <sip:${aor}@127.0.0.1>;tag=1`,
      `To: <sip:${aor}@127.0.0.1>`,
      `Call-ID: ${o.callId ?? 'reg-1'}`,
      `CSeq: ${cseq++} REGISTER`,
      `Contact: ${o.contact ?? `<sip:${aor}@127.0.0.1:5071>`}`,
      ...(o.expires === null ? [] : [`Expires: ${o.expires ?? '600'}`]),
      ...(o.auth ? [`Authorization: ${o.auth}`] : []),
      'Content-Length: 0',
      '',
      '',
    ];
    const req = new SipMessage(lines.join('\r\n'));
    Object.assign(req, { source_address: o.source ?? '127.0.0.1', source_port: 5071, protocol: 'udp' });
    let done: (sent: Sent) => void = () => undefined;
    const sent = new Promise<Sent>((resolve) => (done = resolve));
    const res: RegisterResponse = { send: (status, opts) => done({ status, headers: opts?.headers ?? {} }) };
    const chain = registrar.chain();
    const handler = (registrar as unknown as { onRegister(q: RegisterRequest, s: RegisterResponse): void }).onRegister.bind(registrar);
    const step = (i: number): void => {
      const mw = chain[i];
      if (mw) mw(req, res, () => step(i + 1));
      else handler(req, res);
    };
    step(0);
    return sent;
  };
  /** The digest answer a phone computes for a challenge. */
  const answer = (challenge: Sent, user: string, password: string, uri = 'sip:127.0.0.1'): string => {
    const nonce = /nonce="([^"]+)"/.exec(challenge.headers['WWW-Authenticate'] ?? '')?.[1] ?? '';
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const ha1 = md5(`${user}:${REALM}:${password}`);
    const response = md5(`${ha1}:${nonce}:00000001:abc:auth:${md5(`REGISTER:${uri}`)}`);
    // In SIPp's order: cnonce before nonce.
    return `Digest username="${user}",realm="${REALM}",cnonce="abc",nc=00000001,qop=auth,uri="${uri}",nonce="${nonce}",response="${response}",algorithm=MD5`;
  };
  /** Challenge, then answer it: a phone's whole REGISTER. */
  const registerWith = async (user: string, password: string, o: Parameters<typeof register>[0] = {}): Promise<Sent> => {
    const challenge = await register(o);
    expect(challenge.status).toBe(401);
    return register({ ...o, auth: answer(challenge, user, password) });
  };
  return { store, register, registerWith, answer, advance: (ms: number) => void (now += ms), now: () => now };
}

describe('registrar', () => {
  it('several instances on one store: a challenge of one instance answered to another is accepted (drachtio hands REGISTERs round robin)', async () => {
    const shared = new MemoryStateStore();
    const one = setup(shared);
    const two = setup(shared);
    const challenge = await one.register({});
    expect(challenge.status).toBe(401);
    const ok = await two.register({ auth: one.answer(challenge, '2001', 'secret-2001') });
    expect(ok.status).toBe(200);
    expect(two.store.live('2001', two.now()).map((b) => b.contact)).toEqual(['sip:2001@127.0.0.1:5071']);
    // Without the shared store the other instance does not know the nonce: a fresh challenge, not a check.
    const alone = setup();
    const again = await one.register({});
    expect((await alone.register({ auth: one.answer(again, '2001', 'secret-2001') })).status).toBe(401);
    // A nonce nobody issued is challenged too, shared store or not.
    expect((await two.register({ auth: one.answer({ status: 401, headers: { 'WWW-Authenticate': 'Digest nonce="never-issued"' } }, '2001', 'secret-2001') })).status).toBe(401);
  });

  it('challenges a REGISTER without credentials (401, fresh nonce each time) and binds on the right answer', async () => {
    const { register, registerWith, store, now } = setup();
    const a = await register({});
    const b = await register({});
    expect(a.status).toBe(401);
    expect(a.headers['WWW-Authenticate']).toMatch(/^Digest realm="helpdesk", algorithm=MD5, qop="auth", nonce="/);
    expect(a.headers['WWW-Authenticate']).not.toBe(b.headers['WWW-Authenticate']);
    expect(store.live('2001', now())).toEqual([]);
    const ok = await registerWith('2001', 'secret-2001');
    expect(ok.status).toBe(200);
    expect(ok.headers.Contact).toBe('<sip:2001@127.0.0.1:5071>;expires=600');
    expect(store.live('2001', now()).map((b) => b.contact)).toEqual(['sip:2001@127.0.0.1:5071']);
  });

  it('accepts an HA1 hash instead of a password, with a user name other than the number', async () => {
    const { registerWith, store, now } = setup();
    expect((await registerWith('desk-2002', 'secret-2002', { aor: '2002' })).status).toBe(200);
    expect(store.live('2002', now())).toHaveLength(1);
  });

  it('answers a wrong password or an unknown user 403, and never binds', async () => {
    const { registerWith, store, now } = setup();
    expect((await registerWith('2001', 'wrong')).status).toBe(403);
    expect((await registerWith('9999', 'whatever')).status).toBe(403);
    expect(store.live('2001', now())).toEqual([]);
  });

  it("refuses credentials that do not own the AOR they register (2001's password for 2002)", async () => {
    const { registerWith, store, now } = setup();
    expect((await registerWith('2001', 'secret-2001', { aor: '2002' })).status).toBe(403);
    expect(store.live('2002', now())).toEqual([]);
  });

  it('challenges again, without checking, an answer to a nonce it never gave or gave too long ago', async () => {
    const { register, answer, advance } = setup();
    const forged = { status: 401, headers: { 'WWW-Authenticate': 'Digest nonce="made-up"' } };
    expect((await register({ auth: answer(forged, '2001', 'secret-2001') })).status).toBe(401);
    const challenge = await register({});
    advance(301_000);
    expect((await register({ auth: answer(challenge, '2001', 'secret-2001') })).status).toBe(401);
  });

  it('answers 423 with Min-Expires below the minimum, caps at the maximum, and applies the default when none is given', async () => {
    const { registerWith, store, now } = setup();
    const brief = await registerWith('2001', 'secret-2001', { expires: '30' });
    expect(brief).toEqual({ status: 423, headers: { 'Min-Expires': '60' } });
    expect((await registerWith('2001', 'secret-2001', { expires: '99999' })).headers.Contact).toBe('<sip:2001@127.0.0.1:5071>;expires=3600');
    expect((await registerWith('2001', 'secret-2001', { expires: null, callId: 'other' })).headers.Contact).toBe('<sip:2001@127.0.0.1:5071>;expires=1800');
    expect(store.live('2001', now()).every((b) => b.expiresAt - now() <= 3600_000)).toBe(true);
  });

  it('keeps several contacts per phone, refreshes, un-registers one (expires 0) and all (Contact: *), and lets them expire', async () => {
    const { registerWith, store, now, advance } = setup();
    await registerWith('2001', 'secret-2001', { contact: '<sip:2001@127.0.0.1:5071>', expires: '120' });
    await registerWith('2001', 'secret-2001', { contact: '<sip:2001@127.0.0.1:5081>', expires: '600' });
    expect(store.live('2001', now()).map((b) => b.contact)).toEqual(['sip:2001@127.0.0.1:5081', 'sip:2001@127.0.0.1:5071']);
    advance(121_000);
    expect(store.live('2001', now()).map((b) => b.contact)).toEqual(['sip:2001@127.0.0.1:5081']);
    await registerWith('2001', 'secret-2001', { contact: '<sip:2001@127.0.0.1:5071>', expires: '600' });
    await registerWith('2001', 'secret-2001', { contact: '<sip:2001@127.0.0.1:5071>', expires: '0' });
    expect(store.live('2001', now()).map((b) => b.contact)).toEqual(['sip:2001@127.0.0.1:5081']);
    expect((await registerWith('2001', 'secret-2001', { contact: '*', expires: '0' })).status).toBe(200);
    expect(store.live('2001', now())).toEqual([]);
  });

  it('refuses a phone more contacts than allowed (a REGISTER storm cannot grow it)', async () => {
    const { registerWith, store, now } = setup();
    for (let port = 6000; port < 6003; port++) expect((await registerWith('2001', 'secret-2001', { contact: `<sip:2001@127.0.0.1:${port}>` })).status).toBe(200);
    expect((await registerWith('2001', 'secret-2001', { contact: '<sip:2001@127.0.0.1:6003>' })).status).toBe(403);
    expect(store.live('2001', now())).toHaveLength(3);
  });

  it('reaches a phone behind NAT at the address its REGISTER came from', async () => {
    const { registerWith, store, now } = setup();
    await registerWith('2001', 'secret-2001', { contact: '<sip:2001@192.168.1.20:5060>', source: '127.0.0.1' });
    expect(store.live('2001', now())[0]).toMatchObject({ contact: 'sip:2001@192.168.1.20:5060', via: 'sip:127.0.0.1:5071' });
    await registerWith('2001', 'secret-2001', { contact: '<sip:2001@127.0.0.1:5071>', callId: 'other' });
    expect(store.live('2001', now()).find((b) => b.contact === 'sip:2001@127.0.0.1:5071')?.via).toBeUndefined();
  });

  it('refuses a source that keeps failing digest without checking for a while, then checks again', async () => {
    const { registerWith, register, answer, advance } = setup();
    for (let i = 0; i < 3; i++) expect((await registerWith('2001', 'wrong', { source: '10.0.0.9' })).status).toBe(403);
    // Blocked: even a challenge is refused; another source is not.
    expect((await register({ source: '10.0.0.9' })).status).toBe(403);
    expect((await registerWith('2001', 'secret-2001', { source: '127.0.0.1' })).status).toBe(200);
    advance(31_000);
    const challenge = await register({ source: '10.0.0.9', contact: '<sip:2001@10.0.0.9:5071>' });
    expect(challenge.status).toBe(401);
    expect((await register({ source: '10.0.0.9', contact: '<sip:2001@10.0.0.9:5071>', auth: answer(challenge, '2001', 'secret-2001') })).status).toBe(200);
  });
});
