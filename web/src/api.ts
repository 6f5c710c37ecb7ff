/**
 * The service's public API as the pages use it: the vendor envelope over fetch, the Guid kept per browser tab,
 * and the WebSocket event stream that reconnects by itself and tells when the session has gone stale.
 */
import type { AgentEventEnvelope } from './desk-model.js';

export type { AgentEventEnvelope };

export const BASE = '/agentgateway/resource';

export interface Envelope<T = unknown> {
  readonly message: string;
  readonly retcode: string;
  readonly result: T | null;
}


/** Retcodes meaning "this Guid is no longer good": the desk must sign in again. */
export const STALE_RETCODES: readonly string[] = ['000-003', '100-006'];

/** Not a retcode of the service: the request did not reach it. */
export const UNREACHABLE = 'unreachable';

export interface Session {
  readonly workNo: string;
  readonly phone: string;
  readonly guid: string;
  /** A supervisor's session (the wall): its stream and checks are the supervisor's paths. */
  readonly supervisor?: boolean;
}

/** WebSocket close codes that end the session (sign-out, takeover, expiry): sign in again, do not reconnect. */
const SESSION_ENDED: Readonly<Record<number, string>> = { 4001: 'signed out', 4002: 'taken over by another sign-in', 4003: 'session expired' };

export async function request<T>(method: string, path: string, options: { guid?: string; body?: unknown } = {}): Promise<Envelope<T> & { readonly guid?: string }> {
  const headers: Record<string, string> = {};
  if (options.guid !== undefined) headers.Guid = options.guid;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json;charset=UTF-8';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  } catch {
    return { message: 'the service cannot be reached', retcode: UNREACHABLE, result: null };
  }
  try {
    const envelope = (await response.json()) as Envelope<T>;
    const guid = response.headers.get('Set-GUID');
    return guid ? { ...envelope, guid } : envelope;
  } catch {
    return { message: `the service answered HTTP ${response.status} without an envelope`, retcode: UNREACHABLE, result: null };
  }
}

/** A supervisor's sign-in (PUT /onlinesupervisor/{id}). */
export async function signInSupervisor(id: string, password: string, force: boolean): Promise<{ session: Session } | { refusal: Envelope }> {
  const reply = await request('PUT', `${BASE}/onlinesupervisor/${encodeURIComponent(id)}${force ? '/forcelogin' : ''}`, { body: { password } });
  if (reply.retcode !== '0' || reply.guid === undefined) return { refusal: reply };
  return { session: { workNo: id, phone: '', guid: reply.guid, supervisor: true } };
}

export async function signIn(workNo: string, password: string, phone: string, force: boolean): Promise<{ session: Session } | { refusal: Envelope }> {
  const path = `${BASE}/onlineagent/${encodeURIComponent(workNo)}${force ? '/forcelogin' : ''}`;
  const reply = await request<{ workNo: string; phonenum: string }>('PUT', path, { body: phone === '' ? { password } : { password, phonenum: phone } });
  if (reply.retcode !== '0' || reply.guid === undefined) return { refusal: reply };
  return { session: { workNo, phone: reply.result?.phonenum ?? phone, guid: reply.guid } };
}

/** Where a tab keeps its session: per page and per `?agent=`, so several desks can share one tab (the play page). */
export function storageKey(page: string): string {
  return `${page}:${new URLSearchParams(location.search).get('agent') ?? ''}`;
}

export function loadStored<T>(key: string): T | null {
  try {
    const text = sessionStorage.getItem(key);
    return text === null ? null : (JSON.parse(text) as T);
  } catch {
    return null;
  }
}

export function store(key: string, value: unknown): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage may be unavailable (private mode): the page still works, it only forgets on reload.
  }
}

export type StreamStatus = 'connecting' | 'open' | 'reconnecting';

export interface StreamHandlers {
  event(event: AgentEventEnvelope): void;
  status(status: StreamStatus): void;
  /** The Guid is no longer good (signed out elsewhere, taken over, or the service restarted). */
  stale(reply: Envelope): void;
}

/**
 * The agent's WebSocket event stream. While it is closed the service keeps the agent's events in its queue and
 * hands them over, in order, when the stream opens again: that is how the page catches up after a drop. When the
 * stream cannot be opened, a REST request tells whether the service is down (retry) or the Guid is stale.
 */
export class EventStream {
  private socket: WebSocket | null = null;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;

  constructor(
    private readonly session: Session,
    private readonly handlers: StreamHandlers,
  ) {
    this.open();
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.socket?.close();
  }

  private open(): void {
    if (this.closed) return;
    this.handlers.status(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const path = this.session.supervisor ? `agentgroup/${this.session.workNo}/stream` : `agentevent/${this.session.workNo}/stream`;
    // The Guid in the query: a browser cannot send a header in the WebSocket handshake (the only place it is taken).
    const url = `${scheme}://${location.host}${BASE}/${path}?guid=${encodeURIComponent(this.session.guid)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.handlers.status('open');
    };
    socket.onmessage = (message: MessageEvent<unknown>) => {
      if (typeof message.data !== 'string') return;
      try {
        const envelope = JSON.parse(message.data) as { event: AgentEventEnvelope | null };
        if (envelope.event) this.handlers.event(envelope.event);
      } catch {
        // Not an envelope: nothing the desk can show.
      }
    };
    socket.onclose = (close: CloseEvent) => {
      if (this.socket !== socket || this.closed) return;
      this.socket = null;
      const ended = SESSION_ENDED[close.code];
      if (ended !== undefined) {
        this.closed = true;
        this.handlers.stale({ message: close.reason || ended, retcode: String(close.code), result: null });
        return;
      }
      this.handlers.status('reconnecting');
      void this.checkThenRetry();
    };
  }

  private async checkThenRetry(): Promise<void> {
    const check = this.session.supervisor ? `agentgroup/${this.session.workNo}/queues` : `onlineagent/${this.session.workNo}/agentstatus`;
    const reply = await request('GET', `${BASE}/${check}`, { guid: this.session.guid });
    if (this.closed) return;
    if (STALE_RETCODES.includes(reply.retcode)) {
      this.closed = true;
      this.handlers.stale(reply);
      return;
    }
    this.attempt++;
    const delay = Math.min(250 * 2 ** Math.min(this.attempt - 1, 3), 2000);
    this.retry = setTimeout(() => this.open(), delay);
  }
}

export function describeRefusal(reply: Envelope): string {
  return reply.retcode === UNREACHABLE ? reply.message : `${reply.message} (retcode ${reply.retcode})`;
}
