// The compiled service as the Docker image runs it: `node dist/main.js` (after `npm run build`), on the simulated
// backend with the shipped configuration, must answer /health with 200 and exit with 0 on SIGTERM. Catches a file
// the service reads at run time that only exists next to the TypeScript sources.
/* global fetch, setTimeout, performance */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

const port = await new Promise((resolve) => {
  const server = createServer();
  server.listen(0, '127.0.0.1', () => {
    const { port: free } = server.address();
    server.close(() => resolve(free));
  });
});
const child = spawn(process.execPath, ['dist/main.js'], {
  env: { ...process.env, NODE_ENV: 'production', TELEPHONY_BACKEND: 'sim', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));
const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));

let health = null;
const deadline = Date.now() + 20_000;
while (health === null && Date.now() < deadline && child.exitCode === null) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    health = { status: response.status, body: await response.json() };
  } catch {
    await new Promise((r) => setTimeout(r, 200));
  }
}
if (health?.status !== 200 || health.body.status !== 'ok') {
  child.kill('SIGKILL');
  console.error(`node dist/main.js: no healthy /health (${JSON.stringify(health)})\n${output}`);
  process.exit(1);
}
const signalled = performance.now();
child.kill('SIGTERM');
const code = await exited;
if (code !== 0) {
  console.error(`node dist/main.js: exit code ${code} after SIGTERM\n${output}`);
  process.exit(1);
}
console.log(`node dist/main.js (node ${process.version}): /health ok, exited 0 ${Math.round(performance.now() - signalled)} ms after SIGTERM`);
