/** The service's agent API as a desktop uses it: sign-in, requests, and each agent's WebSocket event stream. */
import WebSocket from 'ws';

export const BASE = '/agentgateway/resource';

/** Milliseconds since the epoch, with a fraction (the same clock as SIPp's [timestamp]). */
export const now = (): number => performance.timeOrigin + performance.now();

export interface Envelope {
  readonly message: string;
  readonly retcode: string;
  readonly result?: unknown;
}

export interface AgentEvent {
  readonly eventType: string;
  readonly workNo: string;
  readonly content: unknown;
  /** When the driver received it. */
  readonly t: number;
  /** When the service made it (its `eventGenTime`, Date.now() of the instance that decided it). */
  readonly eventGenTime?: number;
  /** When the driver received it, on the same clock as `eventGenTime` (Date.now(), whole ms). */
  readonly receivedAt: number;
}

export function callIdOf(event: AgentEvent): string | undefined {
  const c = event.content;
  if (typeof c === 'string') return c;
  if (c && typeof c === 'object' && 'callid' in c && typeof c.callid === 'string') return c.callid;
  return undefined;
}

export function field(event: AgentEvent, name: string): string | undefined {
  const c = event.content;
  if (c && typeof c === 'object' && name in c) {
    const v = (c as Record<string, unknown>)[name];
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

export class Api {
  private readonly guids = new Map<string, string>();
  private readonly sockets = new Map<string, WebSocket>();
  /** Every event of every agent, in arrival order per agent. */
  readonly events = new Map<string, AgentEvent[]>();
  private readonly waiters = new Set<() => void>();
  /** Requests that failed at the HTTP level (connection refused, 5xx), by path. */
  readonly transportErrors: string[] = [];
  /** Agents' requests the service refused (retcode other than 0): "retcode message" -> count. */
  readonly refusals: Record<string, number> = {};

  constructor(
    readonly url: string,
    private readonly onEvent: (event: AgentEvent) => void = () => undefined,
  ) {}

  async request(method: string, path: string, options: { body?: unknown; guid?: string } = {}): Promise<{ status: number; body: Envelope; headers: Headers }> {
    const headers: Record<string, string> = {};
    if (options.guid) headers.Guid = options.guid;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${this.url}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
    const text = await response.text();
    let body: Envelope;
    try {
      body = JSON.parse(text) as Envelope;
    } catch {
      body = { message: text.slice(0, 200), retcode: `http-${response.status}` };
    }
    if (response.status >= 500) this.transportErrors.push(`${method} ${path}: ${response.status}`);
    return { status: response.status, body, headers: response.headers };
  }

  /** Signs the agent in (taking over a stale session) and opens its event stream. */
  async signIn(workNo: string, password: string, phone: string): Promise<void> {
    const response = await this.request('PUT', `${BASE}/onlineagent/${workNo}/forcelogin`, { body: { password, phonenum: phone } });
    const guid = response.headers.get('set-guid');
    if (response.body.retcode !== '0' || !guid) throw new Error(`sign-in of ${workNo} failed: ${response.body.retcode} ${response.body.message}`);
    this.guids.set(workNo, guid);
    this.events.set(workNo, []);
    const socket = new WebSocket(`${this.url.replace(/^http/, 'ws')}${BASE}/agentevent/${workNo}/stream?guid=${encodeURIComponent(guid)}`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.on('message', (data: WebSocket.RawData) => {
      const receivedAt = Date.now();
      const parsed = JSON.parse(data.toString()) as { event?: { eventType: string; workNo: string; content: unknown; eventGenTime?: number } | null };
      if (!parsed.event) return;
      const { eventType, workNo: eventWorkNo, content, eventGenTime } = parsed.event;
      const event: AgentEvent = { eventType, workNo: eventWorkNo, content, t: now(), receivedAt, ...(typeof eventGenTime === 'number' ? { eventGenTime } : {}) };
      this.events.get(workNo)?.push(event);
      this.onEvent(event);
      for (const wake of [...this.waiters]) wake();
    });
    this.sockets.set(workNo, socket);
  }

  /** An agent's request with its session token. */
  act(workNo: string, method: string, path: string, body?: unknown): Promise<Envelope> {
    return this.request(method, `${BASE}${path}`, { guid: this.guids.get(workNo) ?? '', ...(body !== undefined ? { body } : {}) }).then((r) => {
      if (r.body.retcode !== '0') {
        const key = `${r.body.retcode} ${r.body.message}`;
        this.refusals[key] = (this.refusals[key] ?? 0) + 1;
      }
      return r.body;
    });
  }

  cursor(workNo: string): number {
    return this.events.get(workNo)?.length ?? 0;
  }

  /** The first event of the agent at or after `from` that matches, waiting up to `timeoutMs`; null if none came. */
  async waitFor(workNo: string, from: number, match: (event: AgentEvent) => boolean, timeoutMs: number): Promise<AgentEvent | null> {
    const find = () => this.events.get(workNo)?.slice(from).find(match) ?? null;
    const found = find();
    if (found) return found;
    return new Promise((resolve) => {
      const wake = () => {
        const hit = find();
        if (hit) finish(hit);
      };
      const finish = (result: AgentEvent | null) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(result);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      this.waiters.add(wake);
    });
  }

  /** Signs every agent out; returns those refused because they are still on a call (100-007). */
  async signOutAll(): Promise<{ busy: string[]; failed: string[] }> {
    const busy: string[] = [];
    const failed: string[] = [];
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
    await Promise.all(
      [...this.guids.keys()].map(async (workNo) => {
        const body = await this.act(workNo, 'DELETE', `/onlineagent/${workNo}/logout`);
        if (body.retcode === '100-007') busy.push(workNo);
        else if (body.retcode !== '0') failed.push(`${workNo}: ${body.retcode}`);
      }),
    );
    this.guids.clear();
    return { busy, failed };
  }

  close(): void {
    for (const socket of this.sockets.values()) socket.terminate();
    this.sockets.clear();
  }
}
