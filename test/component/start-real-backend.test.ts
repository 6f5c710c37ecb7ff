/**
 * `npm start` on the real backend, as an operator runs it, under Node's own ESM loader (not vitest's, which forgives
 * imports that Node refuses, such as a named import from a CommonJS package without static exports). With no
 * drachtio-server or FreeSWITCH to reach it must still start, answer /health with 503 "degraded", and stop on SIGTERM.
 * A secret left at its public default is named in a warning at start; a secret of the operator's own never shows.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';

describe('the service on the real backend', () => {
  it('starts without its servers, says so in /health, warns of a public default secret, and stops on SIGTERM', async () => {
    const [http, drachtio, freeswitch, listen] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        TELEPHONY_BACKEND: 'drachtio',
        HTTP_PORT: String(http),
        DRACHTIO_PORT: String(drachtio),
        FREESWITCH_PORT: String(freeswitch),
        FREESWITCH_LISTEN_PORT: String(listen),
        // An operator's own secret for drachtio; FreeSWITCH's left at its public default.
        DRACHTIO_SECRET: 'operator-own-7d1f',
        FREESWITCH_SECRET: '',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let health: { status: number; body: unknown } | null = null;
      const deadline = Date.now() + 15_000;
      while (!health && Date.now() < deadline) {
        try {
          const response = await fetch(`http://127.0.0.1:${http}/health`);
          health = { status: response.status, body: await response.json() };
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      expect(health, output).not.toBeNull();
      expect(health?.status).toBe(503);
      expect(health?.body).toMatchObject({ status: 'degraded', backend: 'drachtio', servers: { drachtio: false, freeswitch: false } });
      // The public default still in use is named at start; the operator's own secret is never printed.
      const warning = output.split('\n').find((line) => line.includes('public default secrets in use'));
      expect(warning, output).toBeDefined();
      expect(JSON.parse(warning as string)).toMatchObject({ level: 40, settings: ['freeswitch.secret (FREESWITCH_SECRET)'] });
      expect(output).not.toContain('operator-own-7d1f');
      // Plain (demo) passwords are named by account, never shown.
      const plain = output.split('\n').find((line) => line.includes('plain passwords in the configuration'));
      expect(JSON.parse(plain as string)).toMatchObject({ level: 40, accounts: ['agent 101', 'agent 102', 'agent 103', 'supervisor 901'] });
      expect(output).not.toContain('demo-901');
      // The simulator's pages and routes do not exist here (404 in the envelope).
      for (const path of ['/play', '/phones', '/sim/phones']) {
        const response = await fetch(`http://127.0.0.1:${http}${path}`);
        expect([path, response.status, ((await response.json()) as { retcode: string }).retcode]).toEqual([path, 404, '000-004']);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
