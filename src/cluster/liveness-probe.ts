/**
 * Is an instance whose heartbeat expired really gone, or only too slow to renew it (a starved host)? Ending a live
 * instance's calls would hang up customers who are talking, so a survivor asks first, at the address the instance
 * last advertised:
 * - the connection refused (the process and its listening socket are gone, as after kill -9), nothing answering
 *   within the connect time (its host is gone), or another instance answering there: gone;
 * - its own /health answering, or a connection the kernel accepted but that the starved process has not answered
 *   yet: alive, and asked again at the next heartbeat check.
 */
import { request } from 'node:http';

export type Liveness = 'alive' | 'gone';

export interface ProbeTimes {
  /** How long a TCP connection may take (a host that is gone answers nothing). */
  readonly connectMs: number;
  /** How long a connected process may take to answer /health before it is taken as alive but starved. */
  readonly answerMs: number;
}

export function probeInstance(httpUrl: string, instanceId: string, times: ProbeTimes = { connectMs: 1000, answerMs: 1500 }): Promise<Liveness> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const done = (verdict: Liveness): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(answerTimer);
      req.destroy();
      resolve(verdict);
    };
    let answerTimer: NodeJS.Timeout | undefined;
    const connectTimer = setTimeout(() => done(connected ? 'alive' : 'gone'), times.connectMs);
    let req: ReturnType<typeof request>;
    try {
      req = request(new URL('/health', httpUrl), { method: 'GET', agent: false });
    } catch {
      resolve('gone');
      return;
    }
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        connected = true;
        clearTimeout(connectTimer);
        answerTimer = setTimeout(() => done('alive'), times.answerMs);
      });
    });
    req.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 65_536) body += chunk;
      });
      response.on('end', () => {
        try {
          const answered = (JSON.parse(body) as { instance?: unknown }).instance;
          done(answered === instanceId ? 'alive' : 'gone');
        } catch {
          done('gone');
        }
      });
    });
    req.on('error', () => done(connected ? 'alive' : 'gone'));
    req.end();
  });
}
