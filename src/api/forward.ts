/**
 * Passing a request on to the instance that owns the call (several instances): plain node:http over kept-alive
 * connections, one small pool per owner. The global fetch (undici) costs more per request (WHATWG streams, header
 * objects) and the hop is on the path of every command a desk sends to another instance's call.
 */
import { Agent, request as httpRequest } from 'node:http';

/** Connections to the other instances, kept open between requests. */
const keepAlive = new Agent({ keepAlive: true, keepAliveMsecs: 10_000, maxSockets: 64, maxFreeSockets: 16 });

export interface Forwarded {
  readonly status: number;
  readonly body: string;
}

/** `method` `url` (absolute, http:) with those headers and body; rejects on a transport error or after `timeoutMs`. */
export function forward(method: string, url: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = httpRequest(url, { method, headers: all, agent: keepAlive, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
