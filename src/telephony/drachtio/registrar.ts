/**
 * The registrar: handsets REGISTER through drachtio-server, authenticated by SIP digest, and are then rung at the
 * contacts they registered (see ../registrations.ts).
 *
 * Built from the drachtio project's own middleware, run in this order on every REGISTER:
 *   1. sourceGuard (ours): a source address that keeps failing digest is answered 403 without checking for a while,
 *      logged once; it also remembers the nonces we issued, so a nonce we never gave (or gave too long ago) gets a
 *      fresh challenge instead of being checked: drachtio-mw-digest-auth itself accepts any nonce (a replay hole).
 *   2. defaultExpires (ours): a REGISTER with neither an Expires header nor an expires parameter gets the configured
 *      default (RFC 3261 10.3 step 6); drachtio-mw-registration-parser would answer it 400.
 *   3. drachtio-mw-digest-auth: no credentials -> 401 with a fresh challenge; unknown user or wrong response -> 403.
 *   4. drachtio-mw-registration-parser: req.registration (type, contacts, AOR).
 *   5. onRegister (ours): the authenticated user must own the AOR; per-contact expiry within min/max (423 below
 *      the minimum); NAT (reach the phone at the address the REGISTER came from); the bindings' update.
 * Passwords and HA1 hashes are never logged.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { BindingStore, ContactUpdate } from '../registrations.js';

const require = createRequire(import.meta.url);
type Middleware = (req: RegisterRequest, res: RegisterResponse, next: () => void) => void;
const digestAuth = require('drachtio-mw-digest-auth') as (options: {
  realm: string;
  passwordLookup: (username: string, realm: string, callback: (err: Error | null, password?: string | { ha1: string } | null) => void) => void;
}) => Middleware;
const registrationParser = require('drachtio-mw-registration-parser') as Middleware;

/** What a phone authenticates with: a password or the HA1 hash md5(user:realm:password). */
export interface PhoneCredentials {
  readonly phone: string;
  readonly username: string;
  readonly password?: string;
  readonly ha1?: string;
}

export interface RegistrarSettings {
  readonly realm: string;
  readonly minExpiresSeconds: number;
  readonly maxExpiresSeconds: number;
  readonly defaultExpiresSeconds: number;
  /** Digest failures from one source address before it is refused without checking. */
  readonly failuresBeforeBlock: number;
  readonly blockSeconds: number;
  /** How long a nonce we issued may be answered. */
  readonly nonceLifetimeSeconds: number;
}

/** The parts of a drachtio-srf request that the registrar and the middleware read. */
export interface RegisterRequest {
  readonly method: string;
  readonly uri: string;
  readonly source_address: string;
  readonly source_port: number;
  readonly protocol: string;
  get(header: string): string | undefined;
  has(header: string): boolean;
  set(header: string, value: string): unknown;
  getParsedHeader(header: string): unknown;
  authorization?: { username?: string; nonce?: string };
  registration?: { type: 'register' | 'unregister'; expires: number; contact: { uri: string; params?: Record<string, string> }[]; aor: string };
}
export interface RegisterResponse {
  send(status: number, opts?: { headers?: Record<string, string> }): void;
}
export interface SrfRegistrarHost {
  use(method: 'register', middleware: Middleware): void;
  register(handler: (req: RegisterRequest, res: RegisterResponse) => void): void;
}

/**
 * Nonces shared by several instances (the state store's expiring counts, under `nonce:{nonce}`): drachtio-server
 * hands each REGISTER to one app, round robin, so a challenge issued by one instance is often answered to another.
 */
export interface SharedNonces {
  countFailure(key: string, windowMs: number): Promise<unknown>;
  failureCount(key: string): Promise<{ readonly count: number }>;
}

export class Registrar {
  /** Set when several instances share a store (see SharedNonces). */
  private shared: SharedNonces | null = null;
  private readonly byUsername = new Map<string, PhoneCredentials>();
  /** nonce -> when we issued it. */
  private readonly nonces = new Map<string, number>();
  private readonly sources = new Map<string, { failures: number; blockedUntil: number }>();
  private readonly log: Logger;
  /** drachtio-mw-digest-auth, for REGISTERs and handsets' INVITEs alike. */
  private readonly digest: Middleware;

  constructor(
    private readonly store: BindingStore,
    credentials: readonly PhoneCredentials[],
    private readonly settings: RegistrarSettings,
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    for (const c of credentials) this.byUsername.set(c.username, c);
    this.log = logger.child({ component: 'registrar' });
    this.digest = digestAuth({ realm: settings.realm, passwordLookup: (user, realm, cb) => cb(null, this.secretOf(user, realm)) });
  }

  /** From now on the nonces this instance issues are known to the others, and theirs here. */
  shareNonces(shared: SharedNonces): void {
    this.shared = shared;
  }

  /** Installs the middleware chain and the REGISTER handler on drachtio-srf (before it connects). */
  install(srf: SrfRegistrarHost): void {
    for (const mw of this.chain()) srf.use('register', mw);
    srf.register((req, res) => this.onRegister(req, res));
  }

  /** The middleware in order, then the handler: also what the tests drive. */
  chain(): Middleware[] {
    return [
      (req, res, next) => this.sourceGuard(req, res, next),
      (req, res, next) => this.defaultExpires(req, res, next),
      this.digest,
      (req, res, next) => this.wildcard(req, res, next),
      registrationParser,
    ];
  }

  /**
   * A handset's own INVITE (to a number that is not a DID), checked with the same digest and source guard as its
   * REGISTERs: resolves with the phone the credentials belong to, or undefined once it has answered the INVITE
   * itself (401 with a challenge, or 403).
   */
  authenticateInvite(req: RegisterRequest, res: RegisterResponse): Promise<string | undefined> {
    return new Promise((resolve) => {
      const send = res.send.bind(res);
      const answered: RegisterResponse = {
        send: (status, opts) => {
          send(status, opts);
          resolve(undefined);
        },
      };
      const steps: Middleware[] = [
        (q, r, next) => this.sourceGuard(q, r, next),
        this.digest,
      ];
      const run = (i: number): void => {
        const step = steps[i];
        if (step) return step(req, answered, () => run(i + 1));
        const credentials = this.byUsername.get(req.authorization?.username ?? '');
        resolve(credentials?.phone);
        if (!credentials) answered.send(403);
      };
      run(0);
    });
  }

  /* ------------------------------------------------------------------------------------------ middleware */

  private sourceGuard(req: RegisterRequest, res: RegisterResponse, next: () => void): void {
    const now = this.now();
    const source = req.source_address;
    const record = this.sources.get(source);
    if (record && record.blockedUntil > now) return res.send(403);
    // Watch what the digest middleware answers: our nonces, and failures by source.
    const send = res.send.bind(res);
    res.send = (status, opts) => {
      const challenge = opts?.headers?.['WWW-Authenticate'];
      const issued = challenge ? nonceOf(challenge) : undefined;
      if (issued) this.rememberNonce(issued, now);
      if (status === 403) this.failed(source, now);
      else if (status >= 200 && status < 300) this.sources.delete(source);
      send(status, opts);
    };
    const header = req.get('Authorization');
    if (header) {
      const nonce = nonceOf(header);
      const issuedAt = nonce ? this.nonces.get(nonce) : undefined;
      const fresh = issuedAt !== undefined && now - issuedAt <= this.settings.nonceLifetimeSeconds * 1000;
      if (!fresh && nonce && issuedAt === undefined && this.shared) {
        // Maybe another instance's: checked in the store (it expires with the nonce's lifetime there).
        void this.shared.failureCount(`nonce:${nonce}`).then(
          ({ count }) => {
            if (count === 0) req.authorization = {};
            next();
          },
          () => {
            req.authorization = {};
            next();
          },
        );
        return;
      }
      // A nonce we did not give, or gave too long ago: a fresh challenge, not a check.
      if (!fresh) req.authorization = {};
    }
    next();
  }

  private defaultExpires(req: RegisterRequest, _res: RegisterResponse, next: () => void): void {
    const contact = req.get('Contact') ?? '';
    if (!req.has('Expires') && !/;\s*expires\s*=/i.test(contact)) req.set('Expires', String(this.settings.defaultExpiresSeconds));
    next();
  }

  /** "Contact: *" (remove every binding) needs Expires: 0 (RFC 3261 10.3 step 6); the parser cannot read it. */
  private wildcard(req: RegisterRequest, res: RegisterResponse, next: () => void): void {
    if ((req.get('Contact') ?? '').trim() !== '*') return next();
    const phone = this.authenticatedPhone(req, res);
    if (!phone) return;
    if (Number(req.get('Expires')) !== 0) return res.send(400);
    this.store.removeAll(phone);
    this.log.info({ phone }, 'phone unregistered every contact');
    res.send(200);
  }

  /* ------------------------------------------------------------------------------------------ handler */

  private onRegister(req: RegisterRequest, res: RegisterResponse): void {
    const registration = req.registration;
    if (!registration) return res.send(400);
    const phone = this.authenticatedPhone(req, res);
    if (!phone) return;
    const headerExpires = req.get('Expires');
    const updates: ContactUpdate[] = [];
    for (const c of registration.contact) {
      const asked = Number(c.params?.expires ?? headerExpires ?? this.settings.defaultExpiresSeconds);
      if (!Number.isFinite(asked) || asked < 0) return res.send(400);
      if (asked > 0 && asked < this.settings.minExpiresSeconds) {
        return res.send(423, { headers: { 'Min-Expires': String(this.settings.minExpiresSeconds) } });
      }
      const via = this.natAddress(req, c.uri);
      updates.push({ contact: c.uri, expiresSeconds: Math.min(asked, this.settings.maxExpiresSeconds), ...(via ? { via } : {}) });
    }
    const callId = req.get('Call-ID') ?? '';
    const cseq = Number.parseInt(req.get('CSeq') ?? '0', 10);
    const now = this.now();
    const result = this.store.update(phone, updates, { callId, cseq }, now);
    if (!result.ok) {
      this.log.warn({ phone, reason: result.reason }, 'REGISTER refused');
      return res.send(result.reason === 'too-many-contacts' ? 403 : 500);
    }
    const live = this.store.live(phone, now);
    this.log.info({ phone, contacts: live.length, source: `${req.source_address}:${req.source_port}` }, registration.type === 'unregister' ? 'phone unregistered' : 'phone registered');
    const headers: Record<string, string> = {};
    if (live.length > 0) headers.Contact = live.map((b) => `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`).join(', ');
    res.send(200, { headers });
  }

  /* ------------------------------------------------------------------------------------------ helpers */

  /** The phone whose credentials authenticated the request, if it owns the AOR (To) it registers; else 403. */
  private authenticatedPhone(req: RegisterRequest, res: RegisterResponse): string | undefined {
    const credentials = this.byUsername.get(req.authorization?.username ?? '');
    const to = req.get('To') ?? '';
    const aorUser = /sips?:([^@;>]+)@/.exec(to)?.[1];
    if (!credentials || (aorUser !== credentials.phone && aorUser !== credentials.username)) {
      this.log.warn({ username: req.authorization?.username, aor: aorUser }, 'REGISTER for an address the credentials do not own');
      res.send(403);
      return undefined;
    }
    return credentials.phone;
  }

  private secretOf(username: string, realm: string): string | { ha1: string } | null {
    const c = this.byUsername.get(username);
    if (!c || realm !== this.settings.realm) return null;
    if (c.ha1) return { ha1: c.ha1 };
    return c.password ?? null;
  }

  /** The source as a SIP address when it differs from the Contact's host and port (the phone is behind NAT). */
  private natAddress(req: RegisterRequest, contact: string): string | undefined {
    const m = /^sips?:(?:[^@]+@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?/.exec(contact);
    const host = m?.[1];
    const port = Number(m?.[2] ?? 5060);
    if (host === req.source_address && port === req.source_port) return undefined;
    const transport = req.protocol && req.protocol !== 'udp' ? `;transport=${req.protocol}` : '';
    return `sip:${req.source_address}:${req.source_port}${transport}`;
  }

  private rememberNonce(nonce: string, now: number): void {
    this.nonces.set(nonce, now);
    void this.shared?.countFailure(`nonce:${nonce}`, this.settings.nonceLifetimeSeconds * 1000).catch((error: unknown) => {
      this.log.warn({ err: (error as Error).message }, 'nonce not shared: a handset answering it to another instance is challenged again');
    });
    // Bounded: forget expired nonces once the map grows (a REGISTER storm cannot grow it without end).
    if (this.nonces.size > 10_000) {
      const oldest = now - this.settings.nonceLifetimeSeconds * 1000;
      for (const [n, at] of this.nonces) if (at < oldest) this.nonces.delete(n);
      while (this.nonces.size > 10_000) this.nonces.delete(this.nonces.keys().next().value as string);
    }
  }

  private failed(source: string, now: number): void {
    const record = this.sources.get(source) ?? { failures: 0, blockedUntil: 0 };
    record.failures += 1;
    if (record.failures >= this.settings.failuresBeforeBlock) {
      record.failures = 0;
      record.blockedUntil = now + this.settings.blockSeconds * 1000;
      this.log.warn({ source, blockSeconds: this.settings.blockSeconds }, 'SIP source keeps failing digest: refused without checking for a while');
    }
    this.sources.set(source, record);
  }
}

/** The nonce of a WWW-Authenticate or Authorization header; not cnonce="...", which SIPp, for one, sends first. */
function nonceOf(header: string): string | undefined {
  return /(?:^|[\s,])nonce="([^"]+)"/.exec(header)?.[1];
}

/** HA1 for a phone's credentials: what to put in the configuration instead of a password. */
export function ha1Of(username: string, realm: string, password: string): string {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest('hex');
}
