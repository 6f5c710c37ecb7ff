/**
 * The barest drachtio-srf + drachtio-fsmrf app, the yardstick for the service's cost on FreeSWITCH. Every call is
 * anchored on FreeSWITCH, exactly as fsmrf's own examples do it (its per-channel sockets, Endpoint#bridge,
 * Endpoint#join, Endpoint#destroy), and then, by the number called:
 *
 * - any number but `roomDid`: a bridged call. The target is dialled with FreeSWITCH's offer and the two channels
 *   are bridged.
 * - `roomDid`: a three-party room. The target is dialled twice at once (two legs, as an agent and a helper), and
 *   the caller and both legs join one conference (the service's profile `help`, freeswitch/conf).
 *
 * Any party's BYE ends the others. No state, no API, no events: what is left is the cost of the media itself.
 */
import Mrf from 'drachtio-fsmrf';
import Srf from 'drachtio-srf';

interface Dialog {
  readonly remote: { sdp: string };
  on(event: 'destroy', listener: () => void): void;
  destroy(): Promise<unknown>;
}
interface Request {
  readonly uri: string;
  get(header: string): string | undefined;
}
interface SrfApp {
  connect(opts: { host: string; port: number; secret: string }): void;
  on(event: 'connect', listener: (err: Error | null) => void): void;
  invite(handler: (req: Request, res: { send(status: number): void }) => void): void;
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
  join(conference: string, opts?: { profile?: string }): Promise<unknown>;
  destroy(): Promise<unknown>;
}

export interface BareOptions {
  readonly drachtio: { host: string; port: number; secret: string };
  readonly freeswitch: { host: string; port: number; secret: string; listenAddress: string; listenPort: number };
  /** Where every leg is sent (the agents' SIPp); `{caller}` is replaced by the caller's number (From user). */
  readonly target: string;
  /** Calls to this number become three-party rooms (default: none does). */
  readonly roomDid?: string;
  /** The conference profile of the rooms (default `help`, as the service's). */
  readonly roomProfile?: string;
}

export interface BareApp {
  stop(): void;
  /** Calls that could not be set up (the caller then got 503 or, if already answered, a BYE). */
  failures(): number;
}

const userOf = (uri: string | undefined): string => /sips?:([^@;>]+)@/.exec(uri ?? '')?.[1] ?? 'anonymous';

export async function startBareB2bua(options: BareOptions): Promise<BareApp> {
  const srf = new Srf() as unknown as SrfApp;
  const mrf = new Mrf(srf);
  let failures = 0;
  let rooms = 0;
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
      const sides: { endpoint: Ep; dialog: Dialog }[] = [];
      let ended = false;
      const end = (): void => {
        ended = true;
        for (const side of sides.splice(0)) {
          // Either may be gone already (the far end's BYE): drachtio-srf then rejects.
          side.dialog.destroy().catch(() => undefined);
          side.endpoint.destroy().catch(() => undefined);
        }
      };
      const target = options.target.replaceAll('{caller}', userOf(req.get('From')));
      const dial = async (): Promise<{ endpoint: Ep; dialog: Dialog }> => {
        const endpoint = await ms.createEndpoint();
        let dialog: Dialog;
        try {
          dialog = await srf.createUAC(target, { localSdp: endpoint.local.sdp });
        } catch (error) {
          endpoint.destroy().catch(() => undefined);
          throw error;
        }
        const side = { endpoint, dialog };
        if (ended) {
          // The caller left while this leg rang.
          dialog.destroy().catch(() => undefined);
          endpoint.destroy().catch(() => undefined);
          throw new Error('caller gone');
        }
        sides.push(side);
        dialog.on('destroy', end);
        await endpoint.modify(dialog.remote.sdp);
        return side;
      };
      try {
        const caller = await ms.connectCaller(req, res);
        sides.push(caller);
        caller.dialog.on('destroy', end);
        if (options.roomDid !== undefined && userOf(req.uri) === options.roomDid) {
          const [a, b] = await Promise.all([dial(), dial()]);
          const room = `bare-${process.pid}-${++rooms}`;
          const opts = { profile: options.roomProfile ?? 'help' };
          await Promise.all([caller.endpoint.join(room, opts), a.endpoint.join(room, opts), b.endpoint.join(room, opts)]);
        } else {
          const callee = await dial();
          await caller.endpoint.bridge(callee.endpoint);
        }
      } catch {
        if (!ended) failures += 1;
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
