/**
 * Asking FreeSWITCH directly, for checks: an inbound event-socket connection of the test's own (modesl, not the
 * service's), made again after FreeSWITCH restarts (modesl does not reconnect by itself), and what its channels are.
 */
import modesl, { type Connection } from 'modesl';
import { withTimeout } from '../../../src/telephony/drachtio/timeouts.js';
import { tagVariable, TAG_HEADERS } from '../../../src/telephony/drachtio/signalling.js';

export interface FreeSwitchApi {
  /** Runs an API command; its answer's body. */
  api(command: string): Promise<string>;
  close(): Promise<void>;
}

export function freeswitchApi(fs: { host: string; port: number; secret: string }): FreeSwitchApi {
  let esl: Promise<Connection> | null = null;
  const connect = (): Promise<Connection> =>
    new Promise<Connection>((resolve, reject) => {
      const c = new modesl.Connection(fs.host, fs.port, fs.secret, () => resolve(c));
      c.on('error', (error) => {
        esl = null;
        reject(error);
      });
      c.on('esl::end', () => (esl = null));
    });
  return {
    async api(command) {
      esl ??= connect();
      const connection = await esl;
      return withTimeout(new Promise<string>((resolve) => connection.api(command, (res) => resolve(res.getBody()))), 3000, command);
    },
    async close() {
      if (esl) (await esl.catch(() => null))?.disconnect();
      esl = null;
    },
  };
}

/** Every channel FreeSWITCH has now (its uuids), from `show channels as json`. */
export async function channelUuids(fsApi: (command: string) => Promise<string>): Promise<string[]> {
  const text = (await fsApi('show channels as json')).trim();
  if (!text.startsWith('{')) throw new Error(`show channels: ${text}`);
  const parsed = JSON.parse(text) as { row_count: number; rows?: { uuid: string }[] };
  return (parsed.rows ?? []).map((row) => row.uuid);
}

/** A channel variable, or null when it is unset (or the channel is gone). */
export async function channelVar(fsApi: (command: string) => Promise<string>, uuid: string, name: string): Promise<string | null> {
  const value = (await fsApi(`uuid_getvar ${uuid} ${name}`)).trim();
  return value === '' || value === '_undef_' || value.startsWith('-ERR') ? null : value;
}

export interface ChannelFacts {
  readonly uuid: string;
  /** The service instance that made it (`telephony.owner`, from the X-Helpdesk-Owner tag). */
  readonly owner: string | null;
  /** Where FreeSWITCH sends this channel's RTP: the phone's own RTP port (each test phone has its own). */
  readonly remoteMediaPort: number | null;
  readonly bridgedTo: string | null;
  readonly app: string | null;
}

/** What FreeSWITCH says about each of its channels now. */
export async function channelFacts(fsApi: (command: string) => Promise<string>): Promise<ChannelFacts[]> {
  const uuids = await channelUuids(fsApi);
  return Promise.all(
    uuids.map(async (uuid) => {
      const [owner, port, bridgedTo, app] = await Promise.all([
        channelVar(fsApi, uuid, tagVariable(TAG_HEADERS.owner)),
        channelVar(fsApi, uuid, 'remote_media_port'),
        channelVar(fsApi, uuid, 'bridge_uuid'),
        channelVar(fsApi, uuid, 'current_application'),
      ]);
      return { uuid, owner, remoteMediaPort: port === null ? null : Number(port), bridgedTo, app };
    }),
  );
}
