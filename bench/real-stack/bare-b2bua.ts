/**
 * The barest drachtio-srf + drachtio-fsmrf B2BUA, the yardstick for the service's cost on FreeSWITCH: every call to
 * any number is anchored on FreeSWITCH, the one agent target is dialled with FreeSWITCH's offer, and the two
 * channels are bridged, exactly as fsmrf's own examples do it (its per-channel sockets, Endpoint#bridge,
 * Endpoint#destroy). Either side's BYE ends both.
 */
import Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';

interface Dialog {
  readonly remote: { sdp: string };
  on(event: 'destroy', listener: () => void): void;
  destroy(): Promise<unknown>;
}
interface SrfApp {
  connect(opts: { host: string; port: number; secret: string }): void;
  on(event: 'connect', listener: (err: Error | null) => void): void;
  invite(handler: (req: unknown, res: { send(status: number): void }) => void): void;
  createUAC(uri: string, opts: { localSdp: string }): Promise<Dialog>;
  disconnect(): void;
}
interface Ms {
  connectCaller(req: unknown, res: unknown): Promise<{ endpoint: Ep; dialog: Dialog }>;
  createEndpoint(): Promise<Ep>;
  disconnect(): void;
}
interface Ep {
  readonly local: { sdp: string };
  modify(sdp: string): Promise<unknown>;
  bridge(other: Ep): Promise<unknown>;
  destroy(): Promise<unknown>;
}

export interface BareOptions {
  readonly drachtio: { host: string; port: number; secret: string };
  readonly freeswitch: { host: string; port: number; secret: string; listenAddress: string; listenPort: number };
  /** Where every call is sent (the agents' SIPp). */
  readonly target: string;
}

export async function startBareB2bua(options: BareOptions): Promise<{ stop(): void; failures: () => number }> {
  const srf = new Srf() as unknown as SrfApp;
  const mrf = new Mrf(srf);
  let failures = 0;
  await new Promise<void>((resolve, reject) => {
    srf.on('connect', (err) => (err ? reject(err) : resolve()));
    srf.connect(options.drachtio);
  });
  const ms = (await mrf.connect({
    address: options.freeswitch.host,
    port: options.freeswitch.port,
    secret: options.freeswitch.secret,
    listenAddress: options.freeswitch.listenAddress,
    listenPort: options.freeswitch.listenPort,
    profile: 'drachtio_mrf',
  })) as unknown as Ms;
  srf.invite((req, res) => {
    void (async () => {
      let caller: { endpoint: Ep; dialog: Dialog } | null = null;
      let callee: { endpoint: Ep; dialog: Dialog } | null = null;
      const end = (): void => {
        for (const side of [caller, callee]) {
          if (!side) continue;
          // Either may be gone already (the far end's BYE): drachtio-srf then rejects.
          side.dialog.destroy().catch(() => undefined);
          side.endpoint.destroy().catch(() => undefined);
        }
        caller = callee = null;
      };
      try {
        caller = await ms.connectCaller(req, res);
        caller.dialog.on('destroy', end);
        const endpoint = await ms.createEndpoint();
        const dialog = await srf.createUAC(options.target, { localSdp: endpoint.local.sdp });
        callee = { endpoint, dialog };
        dialog.on('destroy', end);
        await endpoint.modify(dialog.remote.sdp);
        await caller.endpoint.bridge(endpoint);
      } catch {
        failures += 1;
        end();
        try {
          res.send(503);
        } catch {
          // already answered
        }
      }
    })();
  });
  return {
    stop() {
      ms.disconnect();
      srf.disconnect();
    },
    failures: () => failures,
  };
}
