/**
 * A small SIP phone for the integration suite, over UDP on 127.0.0.1, for the tests that need exact timing: the
 * test decides the millisecond at which each phone hangs up (crossing hang-ups), which SIPp's scenarios, timed from
 * each phone's own answer, cannot do. It answers and calls with plain RTP/AVP PCMU, sends 20 ms of silence every
 * 20 ms while a call is up (so FreeSWITCH gets real media), answers BYE, CANCEL and re-INVITE, and retransmits
 * its own requests and its 200 to an INVITE as RFC 3261 asks (timer A, 500 ms) until they are answered.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

interface Message {
  readonly start: string;
  readonly headers: Map<string, string[]>;
  readonly body: string;
}

const COMPACT: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type', k: 'supported' };

function parse(text: string): Message | null {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return null;
  const [start = '', ...lines] = text.slice(0, split).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const raw = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT[raw] ?? raw;
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { start, headers, body: text.slice(split + 4) };
}

const header = (m: Message, name: string): string => m.headers.get(name)?.[0] ?? '';
const tagOf = (value: string): string | undefined => /;\s*tag=([^;>\s]+)/i.exec(value)?.[1];
const uriOf = (value: string): string => /<([^>]+)>/.exec(value)?.[1] ?? value.split(';')[0]?.trim() ?? value;
const token = (): string => randomBytes(6).toString('hex');

function hostPort(uri: string): { host: string; port: number } {
  const m = /^sips?:(?:[^@]*@)?([^:;>]+)(?::(\d+))?/.exec(uri);
  return { host: m?.[1] ?? '127.0.0.1', port: Number(m?.[2] ?? 5060) };
}

interface Dialog {
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  /** Our From/To as written in requests we send. */
  readonly localUri: string;
  readonly remoteUri: string;
  remoteTarget: string;
  cseq: number;
  /** Where our RTP goes (from the far end's SDP). */
  remoteRtp: { host: string; port: number } | null;
}

export type PhoneState = 'idle' | 'ringing' | 'talking' | 'ended';

export class SipPhone {
  state: PhoneState = 'idle';
  /** Resolves when the far end hangs the call up (BYE or CANCEL). */
  readonly remoteHangup: Promise<void>;
  /** Every final status the phone got for its INVITE, or sent for the INVITE it received. */
  readonly log: string[] = [];
  rtpReceived = 0;
  private resolveRemoteHangup: () => void = () => undefined;
  private dialog: Dialog | null = null;
  private incoming: { invite: Message; from: RemoteInfo; answered: boolean } | null = null;
  private readonly waiting = new Map<string, (m: Message) => void>();
  private readonly retransmits = new Set<NodeJS.Timeout>();
  private rtpTimer: NodeJS.Timeout | null = null;
  private rtpSeq = 0;
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private answerRule: { afterMs: number } | 'manual' | { reject: number } = 'manual';
  private ringing: ((call: { answer(): void; reject(status: number): void }) => void) | null = null;

  private constructor(
    readonly number: string,
    private readonly sip: Socket,
    private readonly rtp: Socket,
    readonly sipPort: number,
    readonly rtpPort: number,
  ) {
    this.remoteHangup = new Promise((resolve) => (this.resolveRemoteHangup = resolve));
    sip.on('message', (data, from) => this.onMessage(data.toString(), from));
    rtp.on('message', () => (this.rtpReceived += 1));
  }

  static async open(number: string, sipPort: number, rtpPort: number): Promise<SipPhone> {
    const bind = (socket: Socket, port: number) =>
      new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, '127.0.0.1', () => resolve());
      });
    const sip = createSocket('udp4');
    const rtp = createSocket('udp4');
    await bind(sip, sipPort);
    await bind(rtp, rtpPort);
    return new SipPhone(number, sip, rtp, sipPort, rtpPort);
  }

  /** How the phone treats the next INVITE it receives. */
  answerAfter(ms: number): this {
    this.answerRule = { afterMs: ms };
    return this;
  }

  rejectWith(status: number): this {
    this.answerRule = { reject: status };
    return this;
  }

  /** The next INVITE is left ringing until the test answers it. */
  waitForCall(): Promise<{ answer(): void; reject(status: number): void }> {
    this.answerRule = 'manual';
    return new Promise((resolve) => (this.ringing = resolve));
  }

  /** The phone's credentials for SIP digest: a 401 to its INVITE is answered once with them. */
  credentials: { username: string; password: string } | null = null;
  /** The sipfrag status lines of the NOTIFYs the phone received (a REFER's progress), in order. */
  readonly notifies: string[] = [];

  /** The current dialog's Call-ID and tags, as a Replaces names it from this phone's side. */
  dialogIds(): { callId: string; localTag: string; remoteTag: string } {
    const d = this.dialog;
    if (!d) throw new Error(`${this.number} has no dialog`);
    return { callId: d.callId, localTag: d.localTag, remoteTag: d.remoteTag };
  }

  /**
   * The transfer button: a REFER in the current dialog to `referTo` (a full URI, with ?Replaces=... for an attended
   * transfer); resolves with its final status. Its NOTIFYs are answered 200 and kept in `notifies`.
   */
  async refer(referTo: string): Promise<number> {
    const dialog = this.dialog;
    if (!dialog || this.state !== 'talking') return 0;
    dialog.cseq += 1;
    const branch = `z9hG4bK${token()}`;
    const text = this.request('REFER', dialog, branch, '', dialog.cseq).replace('Max-Forwards: 70', `Refer-To: <${referTo}>\r\nMax-Forwards: 70`);
    const final = await this.send(text, hostPort(dialog.remoteTarget), branch, (m) => statusOf(m) >= 200);
    return statusOf(final);
  }

  /** Calls `did` through drachtio-server; resolves with the final status (200: the call is up). */
  async call(target: { host: string; port: number }, did: string): Promise<number> {
    const callId = `${token()}@127.0.0.1`;
    const dialog: Dialog = {
      callId,
      localTag: token(),
      remoteTag: '',
      localUri: `<sip:${this.number}@127.0.0.1:${this.sipPort}>`,
      remoteUri: `<sip:${did}@${target.host}:${target.port}>`,
      remoteTarget: `sip:${did}@${target.host}:${target.port}`,
      cseq: 1,
      remoteRtp: null,
    };
    this.dialog = dialog;
    let branch = `z9hG4bK${token()}`;
    const invite = this.request('INVITE', dialog, branch, this.sdp());
    let final = await this.send(invite, target, branch, (m) => statusOf(m) >= 200);
    if (statusOf(final) === 401 && this.credentials) {
      // Challenged: ACK the 401, then the same INVITE again with the digest answer (RFC 2617, qop auth or none).
      this.sendTo(this.request('ACK', dialog, branch, '', 1, header(final, 'to')), target);
      dialog.cseq += 1;
      branch = `z9hG4bK${token()}`;
      const authorization = digestAnswer(header(final, 'www-authenticate'), this.credentials, 'INVITE', dialog.remoteTarget);
      const again = this.request('INVITE', dialog, branch, this.sdp(), dialog.cseq).replace('Max-Forwards: 70', `Authorization: ${authorization}\r\nMax-Forwards: 70`);
      final = await this.send(again, target, branch, (m) => statusOf(m) >= 200);
    }
    const status = statusOf(final);
    this.log.push(`INVITE ${status}`);
    const ackBranch = status === 200 ? `z9hG4bK${token()}` : branch;
    if (status === 200) {
      dialog.remoteTag = tagOf(header(final, 'to')) ?? '';
      dialog.remoteTarget = uriOf(header(final, 'contact')) || dialog.remoteTarget;
      dialog.remoteRtp = rtpOf(final.body);
    }
    this.sendTo(this.request('ACK', dialog, ackBranch, '', dialog.cseq, status === 200 ? undefined : header(final, 'to')), status === 200 ? hostPort(dialog.remoteTarget) : target);
    if (status === 200) this.up();
    return status;
  }

  /** Hangs up: BYE when talking. Resolves with the BYE's final status (481 when the far end had already hung up). */
  async hangup(): Promise<number> {
    const dialog = this.dialog;
    if (!dialog || this.state !== 'talking') return 0;
    this.ended();
    dialog.cseq += 1;
    const branch = `z9hG4bK${token()}`;
    const final = await this.send(this.request('BYE', dialog, branch, '', dialog.cseq), hostPort(dialog.remoteTarget), branch, (m) => statusOf(m) >= 200);
    return statusOf(final);
  }

  /** Stops sending RTP and says nothing (a phone that crashed, or lost its network). */
  silence(): void {
    this.stopRtp();
  }

  /** Puts the call on hold by re-INVITE (a=sendonly, or inactive) and, as many handsets do, stops sending RTP. */
  async hold(direction: 'sendonly' | 'inactive' = 'sendonly'): Promise<number> {
    this.stopRtp();
    return this.reInvite(direction);
  }

  /** Takes the call back (a=sendrecv) and sends RTP again. */
  async resume(): Promise<number> {
    const status = await this.reInvite('sendrecv');
    if (status === 200 && this.state === 'talking' && !this.rtpTimer) this.rtpTimer = setInterval(() => this.sendRtp(), 20);
    return status;
  }

  private async reInvite(direction: string): Promise<number> {
    const dialog = this.dialog;
    if (!dialog || this.state !== 'talking') return 0;
    dialog.cseq += 1;
    const cseq = dialog.cseq;
    const branch = `z9hG4bK${token()}`;
    this.sdpVersion += 1;
    const final = await this.send(this.request('INVITE', dialog, branch, this.sdp(direction), cseq), hostPort(dialog.remoteTarget), branch, (m) => statusOf(m) >= 200);
    this.sendTo(this.request('ACK', dialog, `z9hG4bK${token()}`, '', cseq), hostPort(dialog.remoteTarget));
    this.lastAnswer = final.body;
    return statusOf(final);
  }

  /** The SDP of the last answer to our re-INVITE. */
  lastAnswer = '';
  private sdpVersion = 1;

  close(): void {
    this.stopRtp();
    for (const timer of this.retransmits) clearTimeout(timer);
    this.sip.close();
    this.rtp.close();
  }

  /* ------------------------------------------------------------------------------------------ internals */

  private onMessage(text: string, from: RemoteInfo): void {
    const message = parse(text);
    if (!message) return;
    if (message.start.startsWith('SIP/2.0')) {
      const key = `${header(message, 'call-id')} ${branchOf(header(message, 'via'))}`;
      const waiter = this.waiting.get(key);
      waiter?.(message);
      return;
    }
    const method = message.start.split(' ')[0];
    switch (method) {
      case 'INVITE':
        return this.onInvite(message, from);
      case 'ACK':
        return this.onAck(message);
      case 'BYE':
        this.respond(message, from, 200);
        if (this.state === 'talking' && this.dialog && header(message, 'call-id') === this.dialog.callId) {
          this.ended();
          this.resolveRemoteHangup();
        }
        return;
      case 'CANCEL':
        this.respond(message, from, 200);
        if (this.incoming && !this.incoming.answered) {
          this.incoming.answered = true;
          this.respond(this.incoming.invite, this.incoming.from, 487);
          this.log.push('INVITE 487 (cancelled)');
          this.state = 'ended';
          this.resolveRemoteHangup();
        }
        return;
      case 'NOTIFY':
        this.notifies.push(message.body.split('\r\n')[0] ?? '');
        return this.respond(message, from, 200);
      case 'OPTIONS':
      case 'INFO':
        return this.respond(message, from, 200);
      default:
        return this.respond(message, from, 405);
    }
  }

  private onInvite(invite: Message, from: RemoteInfo): void {
    // A re-INVITE in our dialog: answer with our SDP (the direction it asked for is accepted as is).
    if (this.dialog && header(invite, 'call-id') === this.dialog.callId) {
      const rtp = rtpOf(invite.body);
      if (rtp) this.dialog.remoteRtp = rtp;
      this.respond(invite, from, 200, this.sdp(), this.dialog.localTag);
      return;
    }
    if (this.incoming && header(invite, 'call-id') === header(this.incoming.invite, 'call-id')) return; // retransmission
    if (this.state !== 'idle') return this.respond(invite, from, 486);
    const localTag = token();
    this.incoming = { invite, from, answered: false };
    this.dialog = {
      callId: header(invite, 'call-id'),
      localTag,
      remoteTag: tagOf(header(invite, 'from')) ?? '',
      localUri: header(invite, 'to').replace(/;\s*tag=[^;]*/i, ''),
      remoteUri: header(invite, 'from').replace(/;\s*tag=[^;]*/i, ''),
      remoteTarget: uriOf(header(invite, 'contact')),
      cseq: 0,
      remoteRtp: rtpOf(invite.body),
    };
    this.state = 'ringing';
    this.respond(invite, from, 100);
    this.respond(invite, from, 180, '', localTag);
    const rule = this.answerRule;
    const answer = (): void => {
      const incoming = this.incoming;
      if (!incoming || incoming.answered || this.state !== 'ringing') return;
      incoming.answered = true;
      this.log.push('INVITE 200');
      // Sent again until the ACK comes (RFC 3261 13.3.1.4).
      this.retransmitUntil(() => this.respond(invite, from, 200, this.sdp(), localTag), `ack ${header(invite, 'call-id')}`);
      this.up();
    };
    const reject = (status: number): void => {
      const incoming = this.incoming;
      if (!incoming || incoming.answered) return;
      incoming.answered = true;
      this.log.push(`INVITE ${status}`);
      this.respond(invite, from, status, '', localTag);
      this.state = 'ended';
    };
    if (rule === 'manual') this.ringing?.({ answer, reject });
    else if ('afterMs' in rule) setTimeout(answer, rule.afterMs);
    else reject(rule.reject);
  }

  private onAck(ack: Message): void {
    const waiter = this.waiting.get(`ack ${header(ack, 'call-id')}`);
    waiter?.(ack);
  }

  private up(): void {
    this.state = 'talking';
    this.rtpTimer = setInterval(() => this.sendRtp(), 20);
  }

  private ended(): void {
    this.state = 'ended';
    this.stopRtp();
  }

  private stopRtp(): void {
    if (this.rtpTimer) clearInterval(this.rtpTimer);
    this.rtpTimer = null;
  }

  private sendRtp(): void {
    const target = this.dialog?.remoteRtp;
    if (!target) return;
    const packet = Buffer.alloc(12 + 160, 0xff);
    packet[0] = 0x80;
    packet[1] = 0;
    this.rtpSeq = (this.rtpSeq + 1) & 0xffff;
    packet.writeUInt16BE(this.rtpSeq, 2);
    packet.writeUInt32BE((this.rtpSeq * 160) >>> 0, 4);
    packet.writeUInt32BE(this.ssrc, 8);
    this.rtp.send(packet, target.port, target.host);
  }

  private sdp(direction = 'sendrecv'): string {
    return [
      'v=0',
      `o=${this.number} 1 ${this.sdpVersion} IN IP4 127.0.0.1`,
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.rtpPort} RTP/AVP 0 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      `a=${direction}`,
      '',
    ].join('\r\n');
  }

  private request(method: string, d: Dialog, branch: string, body: string, cseq = d.cseq, toOverride?: string): string {
    const to = toOverride ?? `${d.remoteUri}${d.remoteTag ? `;tag=${d.remoteTag}` : ''}`;
    const lines = [
      `${method} ${d.remoteTarget} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.sipPort};branch=${branch};rport`,
      `From: ${d.localUri};tag=${d.localTag}`,
      `To: ${to}`,
      `Call-ID: ${d.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:${this.number}@127.0.0.1:${this.sipPort}>`,
      'Max-Forwards: 70',
      'User-Agent: integration-phone',
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    return lines.join('\r\n');
  }

  private respond(request: Message, to: RemoteInfo, status: number, body = '', tag?: string): void {
    const reasons: Record<number, string> = { 100: 'Trying', 180: 'Ringing', 200: 'OK', 405: 'Method Not Allowed', 481: 'Call Does Not Exist', 486: 'Busy Here', 487: 'Request Terminated' };
    const toHeader = header(request, 'to');
    const lines = [
      `SIP/2.0 ${status} ${reasons[status] ?? 'Rejected'}`,
      ...(request.headers.get('via') ?? []).map((v) => `Via: ${v}`),
      `From: ${header(request, 'from')}`,
      `To: ${tag && !tagOf(toHeader) ? `${toHeader};tag=${tag}` : toHeader}`,
      `Call-ID: ${header(request, 'call-id')}`,
      `CSeq: ${header(request, 'cseq')}`,
      ...(status === 200 || status === 180 ? [`Contact: <sip:${this.number}@127.0.0.1:${this.sipPort}>`] : []),
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    this.sendTo(lines.join('\r\n'), { host: to.address, port: to.port });
  }

  /** Sends a request, again every 500 ms until `done` says a response ends it; resolves with that response. */
  private send(text: string, to: { host: string; port: number }, branch: string, done: (m: Message) => boolean): Promise<Message> {
    const callId = /Call-ID: (.*)\r\n/.exec(text)?.[1] ?? '';
    const key = `${callId} ${branch}`;
    return new Promise((resolve) => {
      let provisional = false;
      let timer: NodeJS.Timeout | null = null;
      const again = (delayMs: number): void => {
        timer = setTimeout(() => {
          if (timer) this.retransmits.delete(timer);
          if (provisional) return;
          this.sendTo(text, to);
          again(Math.min(delayMs * 2, 4000));
        }, delayMs);
        this.retransmits.add(timer);
      };
      this.waiting.set(key, (m) => {
        if (statusOf(m) < 200) {
          provisional = true;
          return;
        }
        if (!done(m)) return;
        this.waiting.delete(key);
        if (timer) {
          clearTimeout(timer);
          this.retransmits.delete(timer);
        }
        resolve(m);
      });
      this.sendTo(text, to);
      again(500);
    });
  }

  private retransmitUntil(sendOnce: () => void, key: string): void {
    sendOnce();
    let delayMs = 500;
    let timer: NodeJS.Timeout;
    const again = (): void => {
      timer = setTimeout(() => {
        this.retransmits.delete(timer);
        if (!this.waiting.has(key)) return;
        sendOnce();
        delayMs = Math.min(delayMs * 2, 4000);
        again();
      }, delayMs);
      this.retransmits.add(timer);
    };
    this.waiting.set(key, () => {
      this.waiting.delete(key);
      clearTimeout(timer);
      this.retransmits.delete(timer);
    });
    again();
  }

  private sendTo(text: string, to: { host: string; port: number }): void {
    try {
      this.sip.send(text, to.port, to.host);
    } catch {
      // closed at the end of a test
    }
  }
}

function statusOf(m: Message): number {
  return Number(m.start.split(' ')[1] ?? 0);
}

function branchOf(via: string): string {
  return /branch=([^;\s]+)/.exec(via)?.[1] ?? '';
}

function rtpOf(sdp: string): { host: string; port: number } | null {
  const host = /c=IN IP4 ([0-9.]+)/.exec(sdp)?.[1];
  const port = /m=audio (\d+)/.exec(sdp)?.[1];
  return host && port ? { host, port: Number(port) } : null;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** The Authorization header answering a WWW-Authenticate challenge (digest MD5, qop=auth when offered). */
function digestAnswer(challenge: string, credentials: { username: string; password: string }, method: string, uri: string): string {
  const param = (name: string): string | undefined => new RegExp(`${name}="?([^",]+)"?`, 'i').exec(challenge)?.[1];
  const realm = param('realm') ?? '';
  const nonce = param('nonce') ?? '';
  const qop = param('qop')?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
  const ha1 = md5(`${credentials.username}:${realm}:${credentials.password}`);
  const ha2 = md5(`${method}:${uri}`);
  const cnonce = token();
  const nc = '00000001';
  const response = qop ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
  const opaque = param('opaque');
  return [
    `Digest username="${credentials.username}"`,
    `realm="${realm}"`,
    `nonce="${nonce}"`,
    `uri="${uri}"`,
    `response="${response}"`,
    'algorithm=MD5',
    ...(qop ? [`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`] : []),
    ...(opaque ? [`opaque="${opaque}"`] : []),
  ].join(', ');
}
