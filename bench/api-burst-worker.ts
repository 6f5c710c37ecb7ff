/**
 * The desktops and phones of benchApiUnderSignInBurst (service-load.ts), in a worker thread so that their 500
 * concurrent requests do not share the service's event loop: every agent signs in, its customer calls (/sim), its
 * phone answers (/sim), its desktop polls its first event, and it asks for help; each request timed as sent.
 */
import { parentPort, workerData } from 'node:worker_threads';

const { url, agents } = workerData as { url: string; agents: number };
const hr = () => performance.now();
const API = `${url}/agentgateway/resource`;

async function call(method: string, path: string, body?: unknown, guid?: string): Promise<{ ms: number; retcode: string; guid: string | null }> {
  const headers: Record<string, string> = {};
  if (guid) headers.Guid = guid;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const t = hr();
  const response = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const parsed = (await response.json()) as { retcode: string };
  return { ms: hr() - t, retcode: parsed.retcode, guid: response.headers.get('set-guid') };
}

const signInMs: number[] = [];
const pollMs: number[] = [];
const helpMs: number[] = [];
const refused: string[] = [];
let answerRetries = 0;
const start = hr();
await Promise.all(
  Array.from({ length: agents }, async (_, i) => {
    const workNo = String(100000 + 2 * i);
    const phone = String(500000 + 2 * i);
    const signIn = await call('PUT', `${API}/onlineagent/${workNo}`, { password: `pw${workNo}` });
    signInMs.push(signIn.ms);
    const guid = signIn.guid ?? '';
    await call('POST', `${url}/sim/calls`, { from: String(7000000 + i), to: String(40000 + i) });
    // The phone rings a moment after the call is placed: answer as soon as it does.
    while ((await call('POST', `${url}/sim/phones/${phone}/answer`)).retcode !== '0') {
      answerRetries++;
      await new Promise((r) => setTimeout(r, 1));
    }
    pollMs.push((await call('GET', `${API}/agentevent/${workNo}`, undefined, guid)).ms);
    const help = await call('POST', `${API}/voicecall/${workNo}/innerhelp`, { dstaddress: String(100000 + 2 * i + 1), devicetype: 2, mode: i % 2 === 0 ? 1 : 2 }, guid);
    helpMs.push(help.ms);
    if (help.retcode !== '0') refused.push(help.retcode);
  }),
);
parentPort?.postMessage({ signInMs, pollMs, helpMs, refused, answerRetries, seconds: (hr() - start) / 1000 });
