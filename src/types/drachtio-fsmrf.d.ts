/** Just what we use of drachtio-fsmrf 4.1.x (it ships no typings), as read in its lib/ sources. */
declare module 'drachtio-fsmrf' {
  import type { EventEmitter } from 'node:events';

  namespace Mrf {
    interface EslEvent {
      getBody(): string;
      getHeader(name: string): string | undefined;
    }
    interface Endpoint extends EventEmitter {
      readonly uuid: string;
      readonly local: { sdp: string };
      readonly remote: { sdp: string };
      /**
       * Our SIP dialog with FreeSWITCH for this channel (a drachtio-srf Dialog): BYE on it ends the channel; modify()
       * re-INVITEs FreeSWITCH and resolves with its answer (SIP only, unlike Endpoint#modify, which then asks the
       * channel's own event socket for its variables and so can wait forever on a channel that is going away).
       */
      readonly dialog: {
        destroy(opts: object, callback: (err: unknown) => void): void;
        modify(sdp: string): Promise<string>;
      } | null;
      /** Resolves with the raw ESL response event (body "+OK ..." or "-ERR ..."). */
      api(command: string, args?: string | string[]): Promise<EslEvent>;
      /** Waits for CHANNEL_EXECUTE_COMPLETE: never use it for apps that loop. */
      execute(app: string, arg?: string): Promise<EslEvent>;
      executeAsync(app: string, arg?: string): string;
      bridge(other: Endpoint | string): Promise<void>;
      destroy(): Promise<void>;
    }
    interface MediaServer extends EventEmitter {
      readonly address: string;
      /** The inbound event-socket connection (drachtio-modesl): it reconnects by itself and emits esl::ready again. */
      readonly conn: EventEmitter & { reconnectOpts: { retryMaxDelay?: number | null } };
      /** From FreeSWITCH's HEARTBEAT events (every 20 s by default): 0 / NaN until the first one. */
      readonly maxSessions: number;
      readonly currentSessions: number;
      readonly cpuIdle?: number;
      createEndpoint(opts?: { remoteSdp?: string; codecs?: string | string[]; headers?: Record<string, string> }): Promise<Endpoint>;
      api(command: string): Promise<string>;
      disconnect(): void;
      connected(): boolean;
    }
    interface ConnectOptions {
      address: string;
      port?: number;
      secret?: string;
      listenAddress?: string;
      listenPort?: number;
      advertisedAddress?: string;
      profile?: string;
    }
  }
  class Mrf extends EventEmitter {
    constructor(srf: unknown, opts?: Record<string, unknown>);
    connect(opts: Mrf.ConnectOptions): Promise<Mrf.MediaServer>;
  }
  export = Mrf;
}
