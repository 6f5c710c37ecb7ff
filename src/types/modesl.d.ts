/** Just what we use of modesl (plain FreeSWITCH event-socket client; it ships no typings). */
declare module 'modesl' {
  export interface EslEvent {
    getBody(): string;
    getHeader(name: string): string | undefined;
  }
  export class Connection {
    constructor(host: string, port: number, password: string, ready: () => void);
    api(command: string, callback: (response: EslEvent) => void): void;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'esl::end', listener: () => void): this;
    disconnect(): void;
  }
}
