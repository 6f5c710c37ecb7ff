/**
 * A second FreeSWITCH process for the suite (issue 21), started by the test itself: the binary of
 * INTEGRATION_FREESWITCH_BIN, with a configuration copied from freeswitch/conf into a temporary directory and moved
 * to its own ports (SIP profile, event socket) and its own RTP range. Its run directory is under /tmp/fs*, where
 * the real-server script looks for leftovers.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeswitchApi } from './freeswitch.js';

export interface SecondFreeswitch {
  readonly host: string;
  readonly eslPort: number;
  readonly secret: string;
  readonly sipPort: number;
  /** kill -9 (as a crash); resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again (after kill); resolves once its SIP profile runs. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function secondFreeswitchBin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bin = env.INTEGRATION_FREESWITCH_BIN;
  return bin && existsSync(bin) ? bin : undefined;
}

export async function startSecondFreeswitch(bin: string, ports = { sip: 5082, esl: 8023, rtpStart: 30000, rtpEnd: 30999 }): Promise<SecondFreeswitch> {
  const base = '/tmp/fs-i21-second';
  rmSync(base, { recursive: true, force: true });
  const conf = join(base, 'conf');
  cpSync(join(process.cwd(), 'freeswitch/conf'), conf, { recursive: true });
  const edit = (file: string, from: string, to: string): void => {
    const path = join(conf, file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(from)) throw new Error(`${file}: "${from}" not found`);
    writeFileSync(path, text.replace(from, to));
  };
  edit('sip_profiles/drachtio_mrf.xml', '<param name="sip-port" value="5080"/>', `<param name="sip-port" value="${ports.sip}"/>`);
  edit('autoload_configs/event_socket.conf.xml', '<param name="listen-port" value="8021"/>', `<param name="listen-port" value="${ports.esl}"/>`);
  for (const dir of ['log', 'db', 'run']) mkdirSync(join(base, dir), { recursive: true });
  const pidFile = join(base, 'run', 'freeswitch.pid');
  const secret = 'ClueCon';

  const start = async (): Promise<void> => {
    rmSync(pidFile, { force: true });
    // -nc: FreeSWITCH forks into the background; the parent exits at once.
    execFileSync(bin, ['-nonat', '-nc', '-conf', conf, '-log', join(base, 'log'), '-db', join(base, 'db'), '-run', join(base, 'run')], {
      env: { ...process.env, FS_RTP_START: String(ports.rtpStart), FS_RTP_END: String(ports.rtpEnd) },
      stdio: 'ignore',
    });
    const api = freeswitchApi({ host: '127.0.0.1', port: ports.esl, secret });
    const deadline = Date.now() + 30_000;
    try {
      for (;;) {
        const status = await api.api('sofia status').catch(() => '');
        if (/drachtio_mrf.*RUNNING/.test(status)) return;
        if (Date.now() > deadline) throw new Error(`second FreeSWITCH did not start (see ${base}/log)`);
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      await api.close();
    }
  };

  const pid = (): number | null => {
    try {
      const n = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  };

  /** Gone: no such process, or a zombie nobody reaps (a container's init may not). */
  const gone = (p: number): boolean => {
    try {
      return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      return true;
    }
  };

  const kill = async (): Promise<void> => {
    const p = pid();
    if (p === null) return;
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      return;
    }
    for (let i = 0; i < 100 && !gone(p); i++) await new Promise((r) => setTimeout(r, 20));
  };

  await start();
  return { host: '127.0.0.1', eslPort: ports.esl, secret, sipPort: ports.sip, kill, start, stop: kill };
}
