/**
 * Narrow views of drachtio-srf and drachtio-fsmrf: just what the adapters use, typed as the libraries' sources
 * really behave (drachtio-srf's own typings are wrong in places: cbRequest really gets (err, req)).
 */
import type Mrf from 'drachtio-fsmrf';

export interface SipMessage {
  readonly body: string;
  readonly callingNumber: string;
  readonly calledNumber: string;
  get(header: string): string | undefined;
}
export interface SipRequest extends SipMessage {
  once(event: 'cancel', listener: () => void): void;
  cancel(opts: object, callback: (err: unknown) => void): void;
}
export interface SipResponse {
  readonly status: number;
  readonly finalResponseSent: boolean;
  send(status: number, opts?: object): void;
}
export interface SipDialog {
  /** drachtio-server's id of the dialog (Call-ID and tag): another connection's request can name it. */
  readonly id: string;
  readonly remote: { sdp: string };
  readonly local: { sdp: string };
  readonly sip: { readonly callId: string; readonly localTag: string; readonly remoteTag: string };
  on(event: 'destroy', listener: () => void): void;
  on(event: 'modify', listener: (req: SipMessage, res: SipResponse) => void): void;
  on(event: 'refer', listener: (req: SipMessage, res: SipResponse) => void): void;
  destroy(opts: object, callback: (err: unknown) => void): void;
  request(opts: { method: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number }>;
}
export interface SrfLike {
  connect(opts: { host: string; port: number; secret: string }): unknown;
  disconnect(): void;
  on(event: 'connect', listener: (err: Error | null, hostport?: string) => void): void;
  on(event: 'error' | 'reconnecting' | 'close', listener: (arg?: unknown) => void): void;
  invite(handler: (req: SipRequest, res: SipResponse) => void): void;
  /** Tells drachtio-server to send this app no more new requests of that method (they go to the other apps). */
  unregisterForMessages(method: string): void;
  /**
   * A request inside a dialog named by its id (drachtio-srf's Srf#request with stackDialogId). `uri` is required:
   * Srf#request throws without one; 'sip:placeholder' makes drachtio-server send it to the dialog's remote target.
   */
  request(
    opts: { uri: string; method: string; stackDialogId: string; headers?: Record<string, string> },
    callback: (error: Error | null | undefined, request?: { on(event: 'response', listener: (res: { status: number }) => void): void }) => void,
  ): unknown;
  createUAS(req: SipRequest, res: SipResponse, opts: { localSdp: string }): Promise<SipDialog>;
  createUAC(
    uri: string,
    opts: { localSdp: string; callingNumber?: string; headers?: Record<string, string>; proxy?: string },
    progress: { cbRequest: (err: unknown, req?: SipRequest) => void; cbProvisional: (res: { status: number }) => void },
  ): Promise<SipDialog>;
}

/** Makes FreeSWITCH channels (fsmrf endpoints); null while FreeSWITCH is not connected. */
export type EndpointMaker = (options: { remoteSdp?: string; headers: Record<string, string> }) => Promise<Mrf.Endpoint>;
