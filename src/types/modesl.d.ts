/** Just what we use of modesl (plain FreeSWITCH event-socket client; it ships no typings), as read in its lib/. */
declare module 'modesl' {
  export interface EslEvent {
    getBody(): string;
    getHeader(name: string): string | undefined;
  }
  export class Connection {
    constructor(host: string, port: number, password: string, ready: () => void);
    /** Events modesl subscribes on its own once authenticated, and adds to every events() call. */
    reqEvents: string[];
    /** The TCP socket (null once closed). */
    readonly socket: import('node:net').Socket | null;
    /** Runs in FreeSWITCH's listener thread of this connection: one slow command holds up the next. */
    api(command: string, callback: (response: EslEvent) => void): void;
    /** Runs in a thread of its own on FreeSWITCH; the result comes as a BACKGROUND_JOB event for `jobId`. */
    bgapi(command: string, args: string, jobId: string, callback: (event: EslEvent) => void): void;
    /** Sends a raw command and calls back with FreeSWITCH's command/reply. */
    sendRecv(command: string, callback?: (reply: EslEvent) => void): void;
    /** Subscribes to events (format "json"); BACKGROUND_JOB is always added by modesl. */
    events(format: 'json' | 'plain', events: string, callback?: () => void): void;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'esl::end', listener: () => void): this;
    on(event: 'esl::event::auth::fail', listener: () => void): this;
    on(event: string, listener: (event: EslEvent) => void): this;
    removeAllListeners(): this;
    disconnect(): void;
  }
  /** modesl is CommonJS without static exports: under Node's ESM loader only the default import works. */
  const esl: { Connection: typeof Connection };
  export default esl;
}
