/**
 * The SignallingPort on drachtio-srf: incoming INVITEs, dials, the phones' own re-INVITEs, hang-ups.
 *
 * Every phone has exactly one dialog with us, and its media is anchored on a FreeSWITCH channel of its own (an
 * fsmrf endpoint); the channel is tagged with the leg (X-Helpdesk-* headers become sip_h_X-Helpdesk-* variables),
 * so the reconciler can tell our channels from anybody else's. Hanging a leg up ends both: BYE to the phone, and
 * the channel through the media adapter (uuid_kill on the control connection; a SIP BYE to FreeSWITCH if that
 * connection cannot take it).
 */
import { randomUUID } from 'node:crypto';
import type Mrf from 'drachtio-fsmrf';
import type { Logger } from 'pino';
import type { LegId } from '../../core/types.js';
import type { DialRequest, SignallingEvents, SignallingPort } from '../../ports/telephony.js';
import { failureReasonForStatus, reasonPhrase, referTarget, sipfragFor } from '../sip-status.js';
import type { Leg, LegTable } from './legs.js';
import type { LegMediaControl } from './media.js';
import { legOfDialog } from './replaces.js';
import { answerDirection, classifyReInvite, isSecureOffer, withDirection } from './sdp.js';
import type { EndpointMaker, SipDialog, SipMessage, SipRequest, SipResponse, SrfLike } from './sip-types.js';
import { withTimeout } from './timeouts.js';

/** Channel variables (from our INVITE's headers) that mark a FreeSWITCH channel as one of this service's legs. */
export const TAG_HEADERS = { owner: 'X-Helpdesk-Owner', leg: 'X-Helpdesk-Leg', call: 'X-Helpdesk-Call' } as const;
/** Asks freeswitch/conf's dialplan for another media timeout (ms) on the channel. */
export const MEDIA_TIMEOUT_HEADER = 'X-Helpdesk-Media-Timeout';
export const tagVariable = (header: string): string => `sip_h_${header}`;
/**
 * Request-URI of a request named only by its dialog id: Srf#request throws ("undefined is not a valid
 * request_uri") without a URI, and drachtio-server replaces a URI containing "placeholder" with the dialog's
 * remote target (sip-dialog-controller.cpp, doSendRequestInsideDialog), as drachtio-srf's own Dialog does.
 */
const IN_DIALOG_URI = 'sip:placeholder';

export interface DrachtioSignallingOptions {
  readonly srf: SrfLike;
  readonly legs: LegTable;
  readonly media: LegMediaControl;
  readonly makeEndpoint: EndpointMaker;
  /** The SIP URI that reaches a phone number (an agent's contact, or a customer through the gateway). */
  contactFor(number: string, workNo?: string): string | undefined;
  /**
   * Checks a handset's credentials on its own INVITE (SIP digest): the phone, or undefined once it answered the
   * INVITE itself (401 challenge, 403). Without it, a call to a number that is not a DID is refused.
   */
  authenticate?(req: SipRequest, res: SipResponse): Promise<string | undefined>;
  /** The contacts a phone registered (the registrar's bindings); they come before a static contact. */
  bindingsFor?(number: string): readonly { readonly contact: string; readonly via?: string }[];
  /** Written on every channel we make, so the reconciler never touches another service's channels. */
  readonly owner: string;
  /** FreeSWITCH's media timeout for our channels, in ms (undefined: what its configuration says). */
  readonly mediaTimeoutMs?: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /**
   * Asked before a lost channel ends its phone's call: true when the media-server pool takes the leg over (its
   * server died and the leg moves to another; or it checks first whether the server is alive).
   */
  lossDeferred?(legId: LegId, cause: string): boolean;
}

export class DrachtioSignalling implements SignallingPort {
  private events: SignallingEvents | null = null;
  private readonly log: Logger;
  /** Set by drain(): new INVITEs get 503 with this Retry-After (seconds). */
  private retryAfterSeconds: number | null = null;

  constructor(private readonly options: DrachtioSignallingOptions) {
    this.log = options.logger.child({ component: 'signalling' });
  }

  start(events: SignallingEvents): void {
    this.events = events;
    this.options.srf.invite((req, res) => void this.incoming(req, res));
  }

  dial(request: DialRequest): void {
    void this.dialLeg(request);
  }

  /**
   * `sipStatus` (a queue's final treatment): the customer was answered long ago, so it travels as the BYE's
   * Reason header (RFC 3326), which gateways map to the cause their network shows the caller.
   */
  async hangup(legId: LegId, sipStatus?: number): Promise<void> {
    const leg = this.options.legs.get(legId);
    if (!leg || leg.state === 'gone') return;
    if (sipStatus !== undefined) leg.byeReason = `SIP;cause=${sipStatus};text="${reasonPhrase(sipStatus)}"`;
    leg.hangupRequested = true;
    if (leg.transfer && !leg.transfer.accepted) {
      // Decided while its REFER waits for its answer: the 202 and the NOTIFYs first, then the BYE (phoneRefer).
      leg.transfer.hangUpWhenAnswered = true;
      return;
    }
    if (leg.state === 'ringing' && leg.invites && !leg.dialog) {
      // CANCEL (every fork); createUAC then rejects with 487 and dialLeg() cleans up.
      for (const invite of leg.invites) invite.cancel({}, () => undefined);
      return;
    }
    if (leg.state === 'up') await this.release(leg);
    // 'setting-up': dialLeg()/incoming() see hangupRequested at their next step and release the leg.
  }

  /** FreeSWITCH ended the leg's channel without us (restart, media timeout, kill): the phone must be told. */
  channelLost(legId: LegId, cause: string): void {
    const leg = this.options.legs.get(legId);
    if (!leg || leg.state !== 'up') return;
    // Several media servers: a channel lost with its server is moved to another one, not ended (media-server-pool.ts).
    if (this.options.lossDeferred?.(legId, cause)) return;
    this.log.warn({ legId, callId: leg.callId, cause }, 'FreeSWITCH ended the channel: hanging up the phone');
    leg.state = 'gone';
    void this.release(leg);
    this.events?.hungUp(leg.id, true);
  }

  /**
   * drachtio-server restarted, or stayed away too long: every dialog it held is gone, and with them every leg (a
   * phone's BYE to us now gets 481 from the server, so no call can be left waiting for it). Each leg is ended
   * here: its FreeSWITCH channel is killed on our control connection, a BYE is tried (it reaches the phone only if
   * the same server process is back), and the orchestrator is told, so the core frees the agents. Returns the
   * legs ended.
   */
  dialogsLost(reason: string): LegId[] {
    const lost = this.options.legs.all().filter((leg) => leg.state !== 'gone');
    if (lost.length > 0) this.log.error({ legs: lost.length, reason }, 'drachtio-server lost our dialogs: ending every call that used them');
    for (const leg of lost) {
      const wasUp = leg.state === 'up';
      leg.hangupRequested = true;
      void this.release(leg);
      if (wasUp) this.events?.hungUp(leg.id, true);
      else this.events?.failed(leg.id, 'error');
    }
    return lost.map((leg) => leg.id);
  }

  locate(legId: LegId): { dialogId?: string; channelUuid?: string } {
    const leg = this.options.legs.get(legId);
    const dialogId = leg?.dialog?.id;
    const channelUuid = this.options.media.channelOf(legId);
    return { ...(dialogId ? { dialogId } : {}), ...(channelUuid ? { channelUuid } : {}) };
  }

  /**
   * A dead instance's legs: a BYE named by dialog id (drachtio-server finds the dialog whichever connection made
   * it: pinned by the integration suite's instance-crash test), and the channel killed on our control connection.
   */
  async releaseForeign(legs: readonly { legId: LegId; dialogId?: string; channelUuid?: string }[]): Promise<void> {
    await Promise.allSettled(
      legs.flatMap(({ legId, dialogId, channelUuid }) => [
        dialogId
          ? withTimeout(
              new Promise<void>((resolve, reject) => {
                // The callback form: its listener is on before drachtio-srf reads on. A phone that answers at once
                // gets its 200 to us in the same read as drachtio-server's "sent" notice, and drachtio-srf emits
                // 'response' right after the callback, before a promise's then() could attach the listener.
                this.options.srf.request({ uri: IN_DIALOG_URI, method: 'BYE', stackDialogId: dialogId }, (error, bye) => {
                  if (error || !bye) reject(error ?? new Error('no request'));
                  else bye.on('response', () => resolve());
                });
              }),
              this.options.timeoutMs,
              'BYE for a dead instance',
            ).catch((error: unknown) => this.log.warn({ legId, err: String(error) }, 'BYE for a dead instance failed'))
          : Promise.resolve(),
        channelUuid ? this.options.media.killChannel(channelUuid) : Promise.resolve(),
      ]),
    );
  }

  /** The service is stopping: new INVITEs get 503 with Retry-After; calls already taken go on. */
  drain(retryAfterSeconds: number, options: { othersTakeCalls: boolean } = { othersTakeCalls: false }): void {
    this.retryAfterSeconds = retryAfterSeconds;
    if (options.othersTakeCalls) {
      // drachtio-server spreads new INVITEs over the apps that take them: from now on over the other instances.
      // One already on its way may still come: it gets the 503 below (a gateway retries it, reaching another).
      try {
        this.options.srf.unregisterForMessages('invite');
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'could not tell drachtio-server to stop sending us calls');
      }
    }
    this.log.info({ retryAfterSeconds, othersTakeCalls: options.othersTakeCalls }, 'draining: new calls go elsewhere or are refused with 503');
  }

  /** A key pressed on an established leg's phone (read from its FreeSWITCH channel). */
  digit(legId: LegId, digit: string): void {
    if (this.options.legs.get(legId)?.state === 'up') this.events?.dtmf(legId, digit);
  }

  /** Ends every leg (the service stops). */
  async releaseAll(): Promise<void> {
    await Promise.all(this.options.legs.all().map((leg) => this.hangup(leg.id).catch(() => undefined)));
  }

  /* ------------------------------------------------------------------------------------------ incoming calls */

  private async incoming(req: SipRequest, res: SipResponse): Promise<void> {
    const events = this.events;
    if (this.retryAfterSeconds !== null) return res.send(503, { headers: { 'Retry-After': String(this.retryAfterSeconds) } });
    if (!events) return res.send(503);
    const leg: Leg = { id: `in-${randomUUID()}`, state: 'setting-up', hangupRequested: false };
    let cancelled = false;
    // Register at once: the caller may cancel while we are still deciding or setting up media.
    req.once('cancel', () => {
      cancelled = true;
      if (leg.state !== 'up') events.failed(leg.id, 'rejected');
    });
    const log = this.log.child({ legId: leg.id, from: req.callingNumber, to: req.calledNumber });
    try {
      let decision = await events.incoming({ legId: leg.id, from: req.callingNumber, to: req.calledNumber });
      if (!decision.accept && decision.status === 401) {
        // Not a DID: a handset calling out by itself, if it proves which phone it is.
        if (!this.options.authenticate) return res.send(404);
        const caller = await this.options.authenticate(req, res);
        if (caller === undefined) return;
        if (cancelled) return;
        decision = await events.incoming({ legId: leg.id, from: req.callingNumber, to: req.calledNumber, caller });
      }
      if (!decision.accept) {
        if (decision.retryAfterSeconds === undefined) return res.send(decision.status);
        return res.send(decision.status, { headers: { 'Retry-After': String(decision.retryAfterSeconds) } });
      }
      if (cancelled) return;
      if (isSecureOffer(req.body)) {
        events.failed(leg.id, 'error');
        return res.send(488);
      }
      this.options.legs.add(leg);
      leg.endpoint = await this.endpointFor(leg, req.body);
      if (cancelled) return this.release(leg);
      leg.phoneSdp = req.body;
      leg.dialog = await withTimeout(this.options.srf.createUAS(req, res, { localSdp: leg.endpoint.local.sdp }), this.options.timeoutMs, 'answer');
      if (leg.hangupRequested || cancelled) return this.release(leg);
      this.watchPhone(leg);
      this.established(leg);
      log.info({ sipCallId: leg.dialog.sip.callId }, 'incoming call anchored');
      events.incomingAnswered(leg.id);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'incoming call could not be set up');
      if (!res.finalResponseSent) res.send(cancelled ? 487 : 503);
      void this.release(leg);
      if (!cancelled) events.failed(leg.id, 'error');
    }
  }

  /* ------------------------------------------------------------------------------------------ outgoing calls */

  private async dialLeg(request: DialRequest): Promise<void> {
    const events = this.events;
    if (!events) return;
    const leg: Leg = { id: request.legId, callId: request.callId, state: 'setting-up', hangupRequested: false };
    this.options.legs.add(leg);
    const log = this.log.child({ legId: leg.id, callId: request.callId, number: request.number });
    const targets = this.targetsFor(request.number, request.workNo);
    if (targets.length === 0) {
      log.warn('no SIP address for this number (not registered, no static contact)');
      this.options.legs.remove(leg.id);
      return events.failed(leg.id, 'unreachable');
    }
    try {
      // FreeSWITCH makes the offer (3PCC); the profile forbids SRTP so that offer is plain RTP.
      const endpoint = await this.endpointFor(leg);
      leg.endpoint = endpoint;
      if (leg.hangupRequested) return this.release(leg);
      const dialog = await this.invitePhone(leg, targets, { localSdp: endpoint.local.sdp, callingNumber: request.callerNumber }, events);
      leg.dialog = dialog;
      // From now on a BYE from the phone is seen, also while its answer is still going to FreeSWITCH.
      this.watchPhone(leg);
      if (leg.hangupRequested) return this.release(leg);
      // The phone's answer goes to its FreeSWITCH channel (re-INVITE towards FreeSWITCH, not the phone).
      leg.phoneSdp = dialog.remote.sdp;
      await this.options.media.armMediaTimeout(leg.id);
      await this.tellMediaServer(endpoint, dialog.remote.sdp);
      if (leg.hangupRequested) return this.release(leg);
      if (leg.phoneLeft) {
        // It answered and hung up before its media was ready: for the core, it never came.
        log.info('the phone hung up as it answered');
        void this.release(leg);
        return events.failed(leg.id, 'rejected');
      }
      this.established(leg);
      log.info({ sipCallId: dialog.sip.callId }, 'answered');
      events.answered(leg.id);
    } catch (error) {
      const status = (error as { status?: number }).status;
      void this.release(leg);
      if (leg.hangupRequested) return; // our own CANCEL (487), or we gave up: the core already knows
      log.info({ status, err: (error as Error).message }, 'call attempt failed');
      events.failed(leg.id, status !== undefined ? failureReasonForStatus(status) : 'error');
    }
  }

  /** A registered phone's live contacts (forked to all), else its static contact, else nothing. */
  private targetsFor(number: string, workNo?: string): { uri: string; via?: string }[] {
    const bindings = this.options.bindingsFor?.(number) ?? [];
    if (bindings.length > 0) return bindings.map((b) => ({ uri: b.contact, ...(b.via ? { via: b.via } : {}) }));
    const uri = this.options.contactFor(number, workNo);
    return uri ? [{ uri }] : [];
  }

  /**
   * INVITEs the phone at each target at once (a handset registered from several places rings everywhere): the first
   * answer wins, the other INVITEs are cancelled, and an answer that comes anyway is hung up. Fails when every
   * target failed, with the most telling status (busy or decline over the rest; 487 only if all were cancelled).
   */
  private invitePhone(leg: Leg, targets: { uri: string; via?: string }[], opts: { localSdp: string; callingNumber: string }, events: SignallingEvents): Promise<SipDialog> {
    const invites: SipRequest[] = [];
    leg.invites = invites;
    let winner = false;
    let toldRinging = false;
    const attempts = targets.map((target) => {
      let mine: SipRequest | undefined;
      const dialog = this.options.srf.createUAC(target.uri, { ...opts, ...(target.via ? { proxy: target.via } : {}) }, {
        cbRequest: (err, req) => {
          if (err || !req) return;
          mine = req;
          invites.push(req);
          leg.state = 'ringing';
          if (leg.hangupRequested || winner) req.cancel({}, () => undefined);
        },
        cbProvisional: (res) => {
          if ((res.status === 180 || res.status === 183) && !leg.hangupRequested && !toldRinging) {
            toldRinging = true;
            events.ringing(leg.id);
          }
        },
      });
      return { dialog, request: () => mine };
    });
    if (attempts.length === 1) return (attempts[0] as (typeof attempts)[number]).dialog;
    return new Promise<SipDialog>((resolve, reject) => {
      const statuses: number[] = [];
      let lastError: unknown;
      for (const attempt of attempts) {
        attempt.dialog.then(
          (dialog) => {
            if (winner) return dialog.destroy({}, () => undefined);
            winner = true;
            for (const other of attempts) if (other !== attempt) other.request()?.cancel({}, () => undefined);
            resolve(dialog);
          },
          (error: unknown) => {
            lastError = error;
            statuses.push((error as { status?: number }).status ?? 500);
            if (!winner && statuses.length === attempts.length) reject(Object.assign(new Error('every contact failed'), { status: mostTelling(statuses), cause: lastError }));
          },
        );
      }
    });
  }

  /**
   * A FreeSWITCH channel for the leg, tagged as ours. One that arrives after our deadline belongs to nobody: it is
   * hung up as soon as it exists (the reconciler would find it too).
   */
  private async endpointFor(leg: Leg, remoteSdp?: string): Promise<Mrf.Endpoint> {
    const headers: Record<string, string> = { [TAG_HEADERS.owner]: this.options.owner, [TAG_HEADERS.leg]: leg.id };
    if (leg.callId) headers[TAG_HEADERS.call] = leg.callId;
    if (this.options.mediaTimeoutMs !== undefined) headers[MEDIA_TIMEOUT_HEADER] = String(this.options.mediaTimeoutMs);
    const making = this.options.makeEndpoint(remoteSdp === undefined ? { headers } : { remoteSdp, headers });
    let endpoint: Mrf.Endpoint;
    try {
      endpoint = await withTimeout(making, this.options.timeoutMs, 'createEndpoint');
    } catch (error) {
      making.then((late) => this.killStray(leg, late)).catch(() => undefined);
      throw error;
    }
    this.options.media.track(leg.id, endpoint.uuid);
    return endpoint;
  }

  private killStray(leg: Leg, endpoint: Mrf.Endpoint): void {
    this.log.warn({ legId: leg.id, uuid: endpoint.uuid }, 'FreeSWITCH channel came after its deadline: hanging it up');
    this.options.media.track(`${leg.id}-late`, endpoint.uuid);
    void this.options.media.hangup(`${leg.id}-late`);
  }

  /* ------------------------------------------------------------------------------------------ established legs */

  /** "destroy" on the phone's dialog means the phone sent BYE (our own destroy() emits nothing). */
  private watchPhone(leg: Leg): void {
    leg.dialog?.on('destroy', () => {
      if (leg.state === 'gone') return;
      if (leg.state !== 'up') {
        leg.phoneLeft = true; // dialLeg() sees it when the set-up step it waits for ends
        return;
      }
      leg.state = 'gone';
      void this.release(leg);
      this.events?.hungUp(leg.id, false);
    });
  }

  private established(leg: Leg): void {
    leg.state = 'up';
    const dialog = leg.dialog as NonNullable<Leg['dialog']>;
    const endpoint = leg.endpoint as Mrf.Endpoint;
    // fsmrf's own word that the channel ended (its per-channel socket); the control connection usually tells first.
    endpoint.on('destroy', () => {
      // A leg moved to another media server has a new endpoint: the old one's end is not the leg's.
      if (leg.endpoint === endpoint) this.channelLost(leg.id, 'per-channel socket closed');
    });
    dialog.on('modify', (req, res) => void this.phoneReInvite(leg, req, res));
    // Without a listener drachtio-srf answers 200 to any REFER, and a phone told its transfer worked hangs up,
    // taking the customer with it: every REFER is answered here, by the core's decision.
    dialog.on('refer', (req, res) => void this.phoneRefer(leg, req, res));
  }

  /**
   * The phone's transfer button: a blind transfer (RFC 3515, RFC 5589) of its call to the Refer-To's number, or an
   * attended one (a Replaces naming the phone's other line: its two calls joined), as the core decides it. Accepted: 202, then NOTIFYs of how the target's call goes (100, 180, then 200 or the
   * failure); refused: the REFER's final response, and the call goes on.
   */
  private async phoneRefer(leg: Leg, req: SipMessage, res: SipResponse): Promise<void> {
    const referTo = req.get('Refer-To');
    const target = referTarget(referTo);
    const log = this.log.child({ legId: leg.id, referTo });
    if ('refused' in target) {
      log.info({ why: target.refused }, 'REFER refused');
      return res.send(400);
    }
    if (!this.events || leg.state !== 'up') return res.send(481);
    if (leg.transfer && !leg.transfer.ended) return res.send(491);
    // The target may ring before the REFER is answered: its reports wait behind the answer.
    const transfer: NonNullable<Leg['transfer']> = { accepted: false, pending: [100], ended: false };
    leg.transfer = transfer;
    // An attended transfer: the Replaces names the phone's other line (its dialog with us), or none of ours (null).
    const replaces = target.replaces === undefined ? undefined : legOfDialog(this.options.legs, target.replaces);
    if (target.replaces !== undefined) log.info({ replaces: target.replaces, replacedLeg: replaces }, 'attended transfer asked');
    const decision = await this.events.transferRequested(leg.id, target.user, replaces);
    if (!decision.accept) {
      leg.transfer = undefined;
      log.info({ status: decision.status }, 'REFER refused');
      res.send(decision.status, { headers: { Reason: `SIP;cause=${decision.status};text="${decision.reason}"` } });
      // The call ended while the REFER was being decided: its hang-up waited for this answer.
      if (transfer.hangUpWhenAnswered && leg.state === 'up') await this.release(leg);
      return;
    }
    res.send(202);
    log.info('REFER accepted');
    transfer.accepted = true;
    for (const status of transfer.pending.splice(0)) this.notifyTransfer(leg, status);
    if (transfer.hangUpWhenAnswered && leg.state === 'up') await this.release(leg);
  }

  /** One NOTIFY of the REFER's implicit subscription; sent at once, so a hang-up issued after it goes after it. */
  private notifyTransfer(leg: Leg, status: number): void {
    const transfer = leg.transfer;
    if (!transfer || transfer.ended || !leg.dialog) return;
    if (!transfer.accepted) {
      transfer.pending.push(status);
      return;
    }
    const final = status >= 200;
    transfer.ended = final;
    const headers = {
      Event: 'refer',
      'Subscription-State': final ? 'terminated;reason=noresource' : 'active;expires=60',
      'Content-Type': 'message/sipfrag;version=2.0',
    };
    leg.dialog
      .request({ method: 'NOTIFY', headers, body: sipfragFor(status) })
      .then((response) => this.log.debug({ legId: leg.id, status, response: response.status }, 'transfer NOTIFY answered'))
      .catch((error: unknown) => this.log.info({ legId: leg.id, status, err: (error as Error).message }, 'transfer NOTIFY not delivered'));
  }

  reportTransfer(legId: LegId, sipStatus: number): void {
    const leg = this.options.legs.get(legId);
    if (leg) this.notifyTransfer(leg, sipStatus);
  }

  /**
   * A phone's own re-INVITE, answered by us: FreeSWITCH never sees a phone's hold as a hold (a held conference
   * member that later hangs up can make FreeSWITCH drop another member, and FreeSWITCH would start its own hold
   * music). What it is told: a real media change; and, for a hold, that the phone will only receive (recvonly),
   * which turns FreeSWITCH's media timeout off for that channel while the phone sends nothing
   * (the channel's media_timeout variables are set to a day first, and FreeSWITCH reads them again as the re-INVITE
   * reactivates RTP); a resume puts them back and turns it on again.
   */
  private async phoneReInvite(leg: Leg, req: SipMessage, res: SipResponse): Promise<void> {
    const endpoint = leg.endpoint;
    if (!endpoint || !leg.dialog) return res.send(481);
    try {
      const kind = classifyReInvite(leg.phoneSdp ?? req.body, req.body);
      leg.phoneSdp = req.body;
      if (kind === 'hold' || kind === 'resume') {
        // Without it the hold still works; only FreeSWITCH's media timeout may then end a long hold.
        await this.options.media.holdMediaTimeout(leg.id, kind === 'hold').catch((error: unknown) => this.log.warn({ legId: leg.id, err: (error as Error).message }, 'media timeout not changed for the hold'));
      }
      if (kind === 'media-change' || kind === 'resume') await this.tellMediaServer(endpoint, req.body);
      else if (kind === 'hold') await this.tellMediaServer(endpoint, withDirection(req.body, 'recvonly'));
      res.send(200, { body: answerDirection(endpoint.local.sdp, req.body), headers: { 'Content-Type': 'application/sdp' } });
      this.log.info({ legId: leg.id, kind }, 'phone re-INVITE answered');
      if (kind === 'hold' || kind === 'resume') this.events?.phoneHeld(leg.id, kind === 'hold');
    } catch (error) {
      // FreeSWITCH's 491 (its channel had a re-INVITE of its own under way) goes to the phone as 491: the phone
      // tries again a moment later (RFC 3261 14.1), where a 488 would make it give its hold up.
      const glare = (error as { status?: number }).status === 491;
      this.log.warn({ legId: leg.id, err: (error as Error).message }, glare ? 'phone re-INVITE crossed one of FreeSWITCH: 491, the phone tries again' : 'phone re-INVITE refused');
      res.send(glare ? 491 : 488);
    }
  }

  /** A re-INVITE to the phone's FreeSWITCH channel with the phone's media (SIP only: never its event socket). */
  private async tellMediaServer(endpoint: Mrf.Endpoint, phoneSdp: string): Promise<void> {
    const fsDialog = endpoint.dialog;
    if (!fsDialog) throw new Error('the channel has no SIP dialog');
    await withTimeout(fsDialog.modify(phoneSdp), this.options.timeoutMs, 're-INVITE to FreeSWITCH');
  }

  /** Ends whatever the leg still holds: BYE to the phone, and its FreeSWITCH channel. Never throws. */
  private async release(leg: Leg): Promise<void> {
    leg.state = 'gone';
    this.options.legs.remove(leg.id);
    const { dialog, endpoint } = leg;
    leg.dialog = undefined;
    leg.endpoint = undefined;
    const work: Promise<unknown>[] = [];
    const bye = leg.byeReason ? { headers: { Reason: leg.byeReason } } : {};
    if (dialog) work.push(withTimeout(new Promise<void>((resolve) => dialog.destroy(bye, () => resolve())), this.options.timeoutMs, 'BYE'));
    if (endpoint) work.push(this.endChannel(leg, endpoint));
    const results = await Promise.allSettled(work);
    for (const r of results) if (r.status === 'rejected') this.log.warn({ legId: leg.id, err: String(r.reason) }, 'release step failed');
  }

  /** uuid_kill first; if FreeSWITCH's control connection cannot take it, a SIP BYE on the channel's own dialog. */
  private async endChannel(leg: Leg, endpoint: Mrf.Endpoint): Promise<void> {
    if (await this.options.media.hangup(leg.id)) return;
    const fsDialog = endpoint.dialog;
    if (!fsDialog) return;
    this.log.warn({ legId: leg.id, uuid: endpoint.uuid }, 'ending the channel with a SIP BYE instead');
    await withTimeout(new Promise<void>((resolve) => fsDialog.destroy({}, () => resolve())), this.options.timeoutMs, 'BYE to FreeSWITCH');
  }
}

/** Of the failures of a forked INVITE, the one to act on (RFC 3261 16.7 in spirit): 6xx, then busy, then any. */
export function mostTelling(statuses: readonly number[]): number {
  const global = statuses.find((s) => s >= 600);
  if (global !== undefined) return global;
  if (statuses.includes(486)) return 486;
  return statuses.find((s) => s !== 487) ?? 487;
}
