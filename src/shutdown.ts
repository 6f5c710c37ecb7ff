/**
 * Stopping on SIGTERM (a restart for an upgrade): the service stops taking calls and frees every desktop at once,
 * lets the calls in progress finish for a while, hangs up the rest and is gone within a deadline:
 *
 *  1. New incoming calls are refused with 503 and Retry-After (SignallingPort.drain).
 *  2. The HTTP API closes: every waiting long poll is answered at once (event null, Connection: close), every
 *     WebSocket is closed with 1012 "service restart" (see api/app.ts), new connections are refused.
 *  3. Calls in progress may go on for `callsGraceMs`; the ones still up then are hung up (BYE to each phone).
 *  4. Done: the caller exits. Whatever is not finished at the deadline (`timeoutMs`, or `idleTimeoutMs` when no
 *     call was in progress at the signal) is left behind, and the caller exits all the same.
 *
 * With other instances on a shared store (`cluster`), the same stop is a drain: new calls go to the other
 * instances (drachtio-server is told to send this one none), the desks are sent to reconnect elsewhere (1012) but
 * the API stays open for requests about this instance's calls, the calls go on for up to `callsGraceMs` (the
 * drain limit, an hour by default) and the instance leaves as soon as it holds none. Sessions stay signed in.
 */
import type { Logger } from 'pino';
import type { SignallingPort } from './ports/telephony.js';

export interface ShutdownParts {
  /** The HTTP API; closing it answers the long polls and closes the WebSockets (releaseDesks: only that). */
  readonly http: { close(): Promise<unknown>; releaseDesks?(): void };
  /** Other instances share the store: drain to them instead of stopping alone. */
  readonly cluster?: { drain(): void; leave(): Promise<void> };
  readonly calls: { activeCallCount(): number; stop(): Promise<void> };
  readonly signalling: Pick<SignallingPort, 'drain'>;
}

export interface ShutdownOptions {
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly callsGraceMs: number;
  readonly retryAfterSeconds: number;
  readonly logger: Logger;
  /** How often the calls in progress are counted while they may finish (default 50 ms). */
  readonly checkEveryMs?: number;
}

export interface ShutdownReport {
  /** Calls in progress when the stop began. */
  readonly callsAtSignal: number;
  /** Calls still up when their grace time ended, hung up by the service. */
  readonly callsHungUp: number;
  /** False when the deadline came first, or a step failed (the caller exits anyway). */
  readonly completed: boolean;
  readonly ms: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function stopGracefully(parts: ShutdownParts, options: ShutdownOptions): Promise<ShutdownReport> {
  const started = performance.now();
  const log = options.logger;
  const callsAtSignal = parts.calls.activeCallCount();
  const cluster = parts.cluster;
  const deadlineMs = callsAtSignal > 0 ? options.timeoutMs : options.idleTimeoutMs;
  parts.signalling.drain(options.retryAfterSeconds, { othersTakeCalls: cluster !== undefined });
  cluster?.drain();
  log.info(
    { callsInProgress: callsAtSignal, deadlineMs, callsGraceMs: options.callsGraceMs, drainToOthers: cluster !== undefined },
    cluster ? 'draining: new calls go to the other instances, desktops told to reconnect there' : 'stopping: new calls refused, desktops told to reconnect',
  );

  let callsHungUp = 0;
  const work = (async () => {
    // Alone: the API closes now. Among others: only the desks leave; requests about our calls still come in.
    let httpClosed: Promise<unknown> | null = null;
    if (cluster && parts.http.releaseDesks) parts.http.releaseDesks();
    else httpClosed = parts.http.close();
    const graceEnds = started + options.callsGraceMs;
    while (parts.calls.activeCallCount() > 0 && performance.now() < graceEnds) await sleep(options.checkEveryMs ?? 50);
    callsHungUp = parts.calls.activeCallCount();
    if (callsHungUp > 0) log.warn({ calls: callsHungUp }, 'calls still in progress at the end of their grace time: hanging them up');
    await parts.calls.stop();
    await cluster?.leave();
    await (httpClosed ?? parts.http.close());
  })();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), Math.max(0, deadlineMs - (performance.now() - started)));
  });
  const finished = work.then(
    () => 'done' as const,
    (error: unknown) => {
      log.error({ err: error instanceof Error ? error.message : String(error) }, 'error while stopping');
      return 'failed' as const;
    },
  );
  const outcome = await Promise.race([finished, deadline]);
  clearTimeout(timer);
  const report = { callsAtSignal, callsHungUp, completed: outcome === 'done', ms: Math.round(performance.now() - started) };
  if (report.completed) log.info(report, 'stopped');
  else log.warn(report, 'stop deadline reached before everything was closed: exiting anyway');
  return report;
}
