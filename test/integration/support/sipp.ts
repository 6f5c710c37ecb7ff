/**
 * SIPp phones for the integration suite. Each phone is one SIPp process playing one call, with a scenario made
 * for the test (ring time, answer or reject, who hangs up when), RTP echoed back so media really flows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeToneFile } from './audio.js';

export type Ending =
  | { kind: 'stay' }
  | { kind: 'bye'; afterMs: number }
  /** The called phone puts the call on hold by re-INVITE (sendonly), takes it back (sendrecv), then stays. */
  | { kind: 'hold-and-resume'; afterMs: number; holdMs?: number }
  /** The called phone asks for a blind transfer (REFER to `target`), expects `status`, then stays. */
  | { kind: 'refer'; afterMs: number; target: string; status: number }
  /**
   * The called phone's transfer button, as handsets do it: hold (re-INVITE sendonly), REFER to `target`, 202,
   * then NOTIFYs of 100, 180 (unless `ringing` is false: a skill queue's transfer is done at once) and `final`;
   * with final 200 the service hangs the phone up (BYE), otherwise it stays.
   */
  | { kind: 'blind-transfer'; afterMs: number; target: string; final: number; ringing?: boolean }
  /** The phone is moved by the service (a re-INVITE with a new media server's SDP): it answers, then stays. */
  | { kind: 'moved' }
  /** The phone presses keys (RFC 2833, from the pcap files Debian's sip-tester ships), then stays. */
  | { kind: 'keys'; afterMs: number; keys: string };
export type Answer = { kind: 'answer'; afterMs: number; then: Ending } | { kind: 'reject'; afterMs: number; status: number } | { kind: 'ring-until-cancel' };

const SDP = `v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv`;

/** A re-INVITE from the called phone (From and To swapped), whose answer must carry `expect`. */
function reInvite(direction: string, expect: string, n: number): string {
  return `<send retrans="500"><![CDATA[
INVITE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$inv_to];tag=[pid]SIPpTag01[call_number]
To: [$inv_from]
Call-ID: [call_id]
CSeq: ${n} INVITE
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 ${n} IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=${direction}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="a=${expect}" search_in="body" check_it="true" assign_to="answer${n}"/>
    </action>
  </recv>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$inv_to];tag=[pid]SIPpTag01[call_number]
To: [$inv_from]
Call-ID: [call_id]
CSeq: ${n} ACK
X-Answer: [$answer${n}]
Max-Forwards: 70
Content-Length: 0

]]></send>`;
}

const DTMF_PCAP_DIR = '/usr/share/sip-tester';

function keyPcap(key: string): string {
  const name = key === '*' ? 'star' : key === '#' ? 'pound' : key;
  return `${DTMF_PCAP_DIR}/dtmf_2833_${name}.pcap`;
}

/**
 * The n-th key of a run as a pcap file of its own: the shipped files' RTP sequence numbers and timestamps are
 * unrelated from one key to the next (the "1" file's sequence is below the "2" file's), and FreeSWITCH drops a
 * telephone-event that arrives with an older sequence number as late. Rewritten here so that the keys follow on.
 */
function writeKeyPcap(dir: string, index: number, key: string): string {
  const data = Buffer.from(readFileSync(keyPcap(key)));
  let offset = 24; // pcap global header
  let packet = 0;
  while (offset + 16 <= data.length) {
    const length = data.readUInt32LE(offset + 8);
    const rtp = offset + 16 + 14 + 20 + 8; // record header, Ethernet, IPv4 (no options), UDP
    data.writeUInt16BE(1000 + index * 20 + packet, rtp + 2);
    data.writeUInt32BE(160_000 + index * 8000, rtp + 4);
    data.writeUInt16BE(0, rtp - 2); // UDP checksum: none (SIPp sends the payload on its own socket anyway)
    offset += 16 + length;
    packet++;
  }
  const file = join(dir, `key-${index}.pcap`);
  writeFileSync(file, data);
  return file;
}

/** A REFER from the called phone (From and To swapped) to `target`'s number. */
function refer(target: string, cseq: number): string {
  return `<send retrans="500"><![CDATA[
REFER [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$inv_to];tag=[pid]SIPpTag01[call_number]
To: [$inv_from]
Call-ID: [call_id]
CSeq: ${cseq} REFER
Contact: <sip:[local_ip]:[local_port]>
Refer-To: <sip:${target}@[remote_ip]>
Max-Forwards: 70
Content-Length: 0

]]></send>`;
}

/** Receives a NOTIFY of the REFER's subscription whose sipfrag is `status`, and answers it 200. */
function transferNotify(status: number, n: number): string {
  return `<recv request="NOTIFY" crlf="true">
    <action>
      <ereg regexp="SIP/2.0 ${status} " search_in="body" check_it="true" assign_to="frag${n}"/>
    </action>
  </recv>
  ${okToLast(`X-Frag: [$frag${n}]`)}`;
}

/** 200 OK to the last request received in the dialog (its own To tag already there), with `extra` headers. */
function okToLast(extra = ''): string {
  return `<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
${extra ? `${extra}\n` : ''}Content-Length: 0

]]></send>`;
}

function ending(end: Ending, role: 'uac' | 'uas'): string {
  if (end.kind === 'blind-transfer') {
    return `<pause milliseconds="${end.afterMs}"/>
  ${reInvite('sendonly', 'recvonly', 2)}
  <pause milliseconds="300"/>
  ${refer(end.target, 3)}
  <recv response="202" crlf="true"/>
  ${transferNotify(100, 1)}
  ${end.ringing === false ? '' : transferNotify(180, 2)}
  ${transferNotify(end.final, 3)}
  ${ending({ kind: 'stay' }, role)}`;
  }
  if (end.kind === 'refer') {
    return `<pause milliseconds="${end.afterMs}"/>
  ${refer(end.target, 2)}
  <recv response="${end.status}" crlf="true"/>
  ${ending({ kind: 'stay' }, role)}`;
  }
  if (end.kind === 'keys') {
    const presses = [...end.keys].map((k, i) => `<nop><action><exec play_pcap_audio="[key_pcap:${i}:${k}]"/></action></nop>\n  <pause milliseconds="400"/>`).join('\n  ');
    return `<pause milliseconds="${end.afterMs}"/>
  ${presses}
  ${ending({ kind: 'stay' }, role)}`;
  }
  if (end.kind === 'hold-and-resume') {
    return `<pause milliseconds="${end.afterMs}"/>
  ${reInvite('sendonly', 'recvonly', 2)}
  <pause milliseconds="${end.holdMs ?? 500}"/>
  ${reInvite('sendrecv', 'sendrecv', 3)}
  ${ending({ kind: 'stay' }, role)}`;
  }
  if (end.kind === 'moved') {
    return `<recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

${SDP}
]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  ${okToLast()}`;
  }
  if (end.kind === 'stay') {
    return `<recv request="BYE"/>
  ${okToLast()}`;
  }
  // The side that hangs up is the From of its BYE: a called phone swaps the INVITE's From and To.
  const fromTo =
    role === 'uac'
      ? 'From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\nTo: [$peer_to]'
      : 'From: [$inv_to];tag=[pid]SIPpTag01[call_number]\nTo: [$inv_from]';
  return `<pause milliseconds="${end.afterMs}"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
${fromTo}
Call-ID: [call_id]
CSeq: [cseq] BYE
Contact: <sip:[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>`;
}

/** A response without body to the last request received, carrying the called phone's To tag. */
function reply(status: string): string {
  return `<send><![CDATA[
SIP/2.0 ${status}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>`;
}

/** Receives the INVITE, keeping the headers a later message needs (SIPp refuses variables it never uses). */
function receiveInvite(keep: { dialog?: boolean; transaction?: boolean }): string {
  const actions = [
    ...(keep.dialog
      ? ['<ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="inv_from"/>', '<ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="inv_to"/>']
      : []),
    ...(keep.transaction
      ? ['<ereg regexp=".*" search_in="hdr" header="Via:" check_it="true" assign_to="via"/>', '<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" check_it="true" assign_to="cseq"/>']
      : []),
  ];
  if (actions.length === 0) return '<recv request="INVITE" crlf="true" rrs="true"/>';
  return `<recv request="INVITE" crlf="true" rrs="true">
    <action>
      ${actions.join('\n      ')}
    </action>
  </recv>`;
}

const STREAM = '<nop><action><exec rtp_stream="[tone_file],-1,0"/></action></nop>';

export function uasScenario(answer: Answer, tone = false): string {
  const invite = receiveInvite({
    dialog: answer.kind === 'answer' && answer.then.kind !== 'stay' && answer.then.kind !== 'keys' && answer.then.kind !== 'moved',
    transaction: answer.kind === 'ring-until-cancel',
  });
  const ringing = `${invite}
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>`;
  let body: string;
  if (answer.kind === 'answer') {
    body = `<pause milliseconds="${answer.afterMs}"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

${SDP}
]]></send>
  <recv request="ACK" rtd="true" crlf="true"/>
  ${tone ? STREAM : ''}
  ${ending(answer.then, 'uas')}`;
  } else if (answer.kind === 'reject') {
    body = `<pause milliseconds="${answer.afterMs}"/>
  ${reply(`${answer.status} Rejected`)}
  <recv request="ACK"/>`;
  } else {
    body = `<recv request="CANCEL"/>
  ${reply('200 OK')}
  <send><![CDATA[
SIP/2.0 487 Request Terminated
Via: [$via]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [$cseq] INVITE
Content-Length: 0

]]></send>
  <recv request="ACK"/>`;
    // The 487 carries the INVITE's Via and CSeq, kept by receiveInvite (the CANCEL's are in last_*).
  }
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas">
  ${ringing}
  ${body}
</scenario>`;
}

export function uacScenario(end: Ending, tone = false): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

${SDP}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  ${
    end.kind === 'bye'
      ? `<recv response="200" rtd="true" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="peer_to"/>
    </action>
  </recv>`
      : '<recv response="200" rtd="true" rrs="true"/>'
  }
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  ${tone ? STREAM : ''}
  ${ending(end, 'uac')}
</scenario>`;
}

export interface SippPhone {
  readonly port: number;
  /**
   * Resolves once SIPp listens on its SIP port. An INVITE sent before that finds the port closed, and the call to
   * the phone fails at once (which, before this was waited for, showed as the phone's scenario ending in -99).
   */
  readonly ready: Promise<void>;
  /** Resolves with SIPp's exit code (0: the scenario ran as written). */
  readonly done: Promise<number>;
  readonly output: () => string;
  stop(): void;
}

let fileSeq = 0;

/** Starts one SIPp phone on 127.0.0.1. `call` makes it a caller (to `target`, dialling `service`). */
export function startSipp(options: {
  scenario: string;
  port: number;
  rtpPort: number;
  call?: { target: string; service: string; from: string };
  /** The phone sends this tone (Hz) instead of echoing what it receives. */
  toneHz?: number;
  timeoutSeconds?: number;
}): SippPhone {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const file = join(dir, `s${++fileSeq}.xml`);
  const scenario = options.toneHz !== undefined ? options.scenario.replaceAll('[tone_file]', writeToneFile(dir, options.toneHz)) : options.scenario;
  writeFileSync(file, scenario.replace(/\[key_pcap:(\d+):(.)\]/g, (_m, index: string, key: string) => writeKeyPcap(dir, Number(index), key)));
  // A phone that plays pcap files (its keys) does not echo: SIPp's echo and its pcap player share the media port.
  const media = options.toneHz !== undefined || scenario.includes('play_pcap_audio') ? [] : ['-rtp_echo'];
  const args = ['-sf', file, '-i', '127.0.0.1', '-p', String(options.port), '-mi', '127.0.0.1', '-mp', String(options.rtpPort), ...media, '-m', '1', '-timeout', `${options.timeoutSeconds ?? 40}s`, '-timeout_error', '-nostdin'];
  // Every SIP message of the phone, for reading after a failure.
  const trace = join(dir, 'messages.log');
  args.push('-trace_msg', '-message_file', trace);
  if (options.call) {
    const inf = join(dir, 'from.csv');
    writeFileSync(inf, `SEQUENTIAL\n${options.call.from};\n`);
    args.push('-inf', inf, '-s', options.call.service, options.call.target);
  }
  let log = '';
  const child: ChildProcess = spawn('sipp', args.filter((a) => a !== ''), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { port: options.port, ready: udpBound(options.port, done), done, output: () => `${log}\n(SIP messages: ${trace})`, stop: () => child.kill('SIGKILL') };
}

/** Resolves when something listens on 127.0.0.1:port over UDP (read from /proc/net/udp), within 15 s (SIPp took over 5 s to start once on a loaded 2-core machine). */
async function udpBound(port: number, exited: Promise<number>): Promise<void> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !gone) {
    if (readFileSync('/proc/net/udp', 'utf8').includes(` ${local} `)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`SIPp is not listening on 127.0.0.1:${port}`);
}

/**
 * A handset's REGISTER with digest: the first REGISTER is challenged (401), the second carries SIPp's answer
 * ([authentication]) and must get `expect` (200, or 403 for a wrong password). The Contact is this SIPp's own
 * address, so a phone started afterwards on the same port is the registered handset.
 */
export function registerScenario(user: string, password: string, expect: 200 | 403, expiresSeconds = 600): string {
  const request = (cseq: number, auth: string) => `<send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:${user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:${user}@[remote_ip]>
Call-ID: [call_id]
CSeq: ${cseq} REGISTER
Contact: <sip:${user}@[local_ip]:[local_port]>
Expires: ${expiresSeconds}
Max-Forwards: 70
${auth}
Content-Length: 0

]]></send>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  ${request(1, '')}
  <recv response="401" auth="true"/>
  ${request(2, `[authentication username=${user} password=${password}]`)}
  <recv response="${expect}"/>
</scenario>`;
}
