/**
 * Our own inbound event-socket connection to FreeSWITCH: every media command of the service goes through it, and
 * every channel event we follow comes from it.
 *
 * Why not the per-channel (outbound) sockets that drachtio-fsmrf gives each endpoint: FreeSWITCH's mod_event_socket
 * reads those sockets in the channel's listener thread and closes them the moment the channel is down
 * (listener_run: `switch_channel_down(channel) && !LFLAG_HANDLE_DISCO` -> break), so a command written while the
 * channel goes away is never answered; drachtio-modesl matches `api` replies to callbacks by order
 * (apiCallbackQueue) and never fails the waiting ones, so the command and everything queued behind it on that
 * socket (fsmrf's hang-up among them) waited for our deadline. Here every command is a `bgapi`: FreeSWITCH runs it
 * in a thread of its own (api_exec) and answers with a BACKGROUND_JOB event that names the job, so no command ever
 * waits behind another, and when the connection drops every command still waiting fails at once.
 */
import { randomUUID } from 'node:crypto';
import esl, { type EslEvent } from 'modesl';
import type { Logger } from 'pino';
import { delay } from './timeouts.js';

/**
 * The events we subscribe to: job answers, and the channel events the media adapter follows (CUSTOM
 * conference::maintenance carries room joins and leaves). FreeSWITCH reads every name after CUSTOM as a
 * subclass, so CUSTOM comes last. Nothing else: FreeSWITCH serialises each event for each subscriber.
 */
export const FOLLOWED_EVENTS = [
  'BACKGROUND_JOB',
  'CHANNEL_EXECUTE',
  'CHANNEL_HANGUP',
  'CHANNEL_BRIDGE',
  'CHANNEL_UNBRIDGE',
  'CHANNEL_PARK',
  'DTMF',
  'CUSTOM',
  'conference::maintenance',
];

/** FreeSWITCH-side filters: an event is sent when it matches one of them. */
export const EVENT_FILTERS = [
  'Event-Name /^(BACKGROUND_JOB|CHANNEL_HANGUP|CHANNEL_BRIDGE|CHANNEL_UNBRIDGE|CHANNEL_PARK|DTMF|CUSTOM)$/',
  'Application /^(endless_playback|park|conference)$/',
];

/** What the media adapter and the reconciler need of FreeSWITCH: run a command, hear channel events. */
export interface FreeSwitchCommands {
  /** Runs an API command without waiting behind any other; resolves with FreeSWITCH's reply text. */
  run(command: string, args: string): Promise<string>;
  /** Channel events (see FOLLOWED_EVENTS); returns an unsubscribe function. */
  onEvent(listener: (event: EslEvent) => void): () => void;
  readonly up: boolean;
}

export class FreeSwitchConnectionLost extends Error {
  constructor(command: string) {
    super(`${command}: the FreeSWITCH event socket closed before it answered`);
    this.name = 'FreeSwitchConnectionLost';
  }
}

interface PendingJob {
  readonly command: string;
  readonly reject: (error: Error) => void;
}

export interface FreeSwitchControlOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly logger: Logger;
  /** Longest wait between two connection attempts (default 5000 ms). */
  readonly retryMaxMs?: number;
}

export class FreeSwitchControl implements FreeSwitchCommands {
  private connection: InstanceType<typeof esl.Connection> | null = null;
  private connected = false;
  private stopping = false;
  private readonly pending = new Map<string, PendingJob>();
  private readonly listeners = new Set<(event: EslEvent) => void>();
  private readonly stateListeners = new Set<(up: boolean) => void>();
  private readonly log: Logger;

  constructor(private readonly options: FreeSwitchControlOptions) {
    this.log = options.logger.child({ component: 'freeswitch-control' });
  }

  get up(): boolean {
    return this.connected;
  }

  /** Connects, and keeps connecting again whenever the connection drops, until stop(). */
  start(): void {
    void this.keepConnected();
  }

  stop(): void {
    this.stopping = true;
    this.dropConnection();
  }

  onEvent(listener: (event: EslEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Told true when the connection is ready, false when it drops. */
  onState(listener: (up: boolean) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  run(command: string, args: string): Promise<string> {
    const connection = this.connection;
    if (!connection || !this.connected) return Promise.reject(new FreeSwitchConnectionLost(command));
    const jobId = randomUUID();
    return new Promise<string>((resolve, reject) => {
      this.pending.set(jobId, { command, reject });
      connection.bgapi(command, args, jobId, (event) => {
        if (!this.pending.delete(jobId)) return;
        resolve(event.getBody());
      });
    });
  }

  private async keepConnected(): Promise<void> {
    let wait = 200;
    while (!this.stopping) {
      const ended = await this.connectOnce();
      if (this.stopping) return;
      if (ended === 'was-up') wait = 200;
      await delay(wait);
      wait = Math.min(wait * 2, this.options.retryMaxMs ?? 5000);
    }
  }

  /** One connection's life: resolves when it can no longer be used. */
  private connectOnce(): Promise<'was-up' | 'failed'> {
    const { host, port, secret } = this.options;
    return new Promise((resolve) => {
      let wasUp = false;
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        this.dropConnection();
        resolve(wasUp ? 'was-up' : 'failed');
      };
      const connection = new esl.Connection(host, port, secret, () => {
        // Only what the media adapter reads: FreeSWITCH serialises every event it sends, and most CHANNEL_EXECUTE
        // events (the dialplan's set, answer, socket) are of no use to us. Filters match any one of them; they
        // are sent raw, as modesl's filter() would also add a filter command around every bgapi.
        for (const filter of EVENT_FILTERS) connection.sendRecv(`filter ${filter}`);
        connection.events('json', FOLLOWED_EVENTS.join(' '), () => {
          if (finished) return;
          wasUp = true;
          this.connected = true;
          this.log.info({ host, port }, 'FreeSWITCH control connection ready');
          for (const listener of this.stateListeners) listener(true);
        });
      });
      // modesl would also subscribe to CHANNEL_EXECUTE_COMPLETE for every channel, which we never read.
      connection.reqEvents = [];
      // modesl writes a command in several small writes: with Nagle's algorithm on, all but the first waited for
      // FreeSWITCH's delayed ACK (about 25 ms per command here).
      connection.socket?.setNoDelay(true);
      this.connection = connection;
      connection.on('esl::event::auth::fail', () => {
        this.log.error({ host, port }, 'FreeSWITCH refused the event-socket password');
        finish();
      });
      connection.on('error', (error) => {
        this.log.warn({ err: error.message }, 'FreeSWITCH control connection error');
        finish();
      });
      connection.on('esl::end', finish);
      connection.on('esl::event::**', (event: EslEvent) => {
        // Command replies come through here too (no Event-Name); job answers are matched in run().
        const name = event.getHeader('Event-Name');
        if (!name || name === 'BACKGROUND_JOB') return;
        for (const listener of this.listeners) listener(event);
      });
    });
  }

  private dropConnection(): void {
    const connection = this.connection;
    const wasUp = this.connected;
    this.connection = null;
    this.connected = false;
    if (connection) {
      connection.removeAllListeners();
      // A late socket error must not become an unhandled 'error' event.
      connection.on('error', () => undefined);
      try {
        connection.disconnect();
      } catch {
        // already closed
      }
    }
    // Nothing will answer the commands still waiting: they fail now, not at a deadline.
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const job of waiting) job.reject(new FreeSwitchConnectionLost(job.command));
    if (wasUp) {
      this.log.warn('FreeSWITCH control connection lost');
      for (const listener of this.stateListeners) listener(false);
    }
  }
}
