/**
 * The control connection against a small event-socket server on 127.0.0.1 that speaks FreeSWITCH's protocol as
 * mod_event_socket does (auth, event subscription, bgapi answered by BACKGROUND_JOB events), so the real modesl
 * client runs unchanged: jobs are matched by id whatever the order of their answers, and a closed connection fails
 * every command still waiting at once.
 */
import { createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FOLLOWED_EVENTS, FreeSwitchConnectionLost, FreeSwitchControl } from '../../src/telephony/drachtio/freeswitch-control.js';

interface Job {
  readonly id: string;
  readonly command: string;
  answer(body: string): void;
}

class FakeEventSocket {
  readonly server: Server;
  readonly jobs: Job[] = [];
  readonly subscriptions: string[] = [];
  private readonly sockets = new Set<Socket>();

  constructor(private readonly password = 'secret') {
    this.server = createServer((socket) => this.serve(socket));
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port)));
  }

  /** Sends a channel event, as FreeSWITCH does to a subscribed connection. */
  event(headers: Record<string, string>): void {
    for (const socket of this.sockets) this.sendEvent(socket, headers);
  }

  dropClients(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.dropClients();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.write('Content-Type: auth/request\n\n');
    let buffer = '';
    socket.on('data', (data) => {
      buffer += data.toString();
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.handle(socket, message.split('\n'));
      }
    });
  }

  private handle(socket: Socket, lines: string[]): void {
    const [first = '', ...headers] = lines;
    const reply = (text: string, extra = ''): boolean => socket.write(`Content-Type: command/reply\nReply-Text: ${text}\n${extra}\n`);
    if (first.startsWith('auth ')) {
      reply(first === `auth ${this.password}` ? '+OK accepted' : '-ERR invalid');
    } else if (first.startsWith('event ')) {
      this.subscriptions.push(first);
      reply('+OK event listener enabled json');
    } else if (first.startsWith('bgapi ')) {
      const id = headers.find((h) => h.startsWith('Job-UUID: '))?.slice('Job-UUID: '.length) ?? 'none';
      reply(`+OK Job-UUID: ${id}`, `Job-UUID: ${id}\n`);
      this.jobs.push({
        id,
        command: first.slice('bgapi '.length),
        answer: (body) => this.sendEvent(socket, { 'Event-Name': 'BACKGROUND_JOB', 'Job-UUID': id, _body: body }),
      });
    } else {
      reply('-ERR command not found');
    }
  }

  private sendEvent(socket: Socket, headers: Record<string, string>): void {
    const json = JSON.stringify(headers);
    socket.write(`Content-Length: ${Buffer.byteLength(json)}\nContent-Type: text/event-json\n\n${json}`);
  }
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('FreeSWITCH control connection', () => {
  let fake: FakeEventSocket;
  let control: FreeSwitchControl | undefined;

  afterEach(async () => {
    control?.stop();
    await fake?.close();
  });

  async function connected(): Promise<FreeSwitchControl> {
    fake = new FakeEventSocket();
    const port = await fake.listen();
    control = new FreeSwitchControl({ host: '127.0.0.1', port, secret: 'secret', logger: pino({ level: 'silent' }), retryMaxMs: 100 });
    control.start();
    await until(() => control?.up === true, 'the connection');
    return control;
  }

  it('subscribes to the channel events it follows, CUSTOM subclasses last', async () => {
    await connected();
    expect(fake.subscriptions.at(-1)).toBe(`event json ${FOLLOWED_EVENTS.join(' ')}`);
    expect(FOLLOWED_EVENTS.indexOf('CUSTOM')).toBe(FOLLOWED_EVENTS.length - 2);
  });

  it('runs every command as a background job and matches answers by job id, whatever their order', async () => {
    const c = await connected();
    const first = c.run('uuid_transfer', 'u1 m:|:park inline');
    const second = c.run('uuid_bridge', 'u2 u3');
    await until(() => fake.jobs.length === 2, 'two jobs');
    expect(fake.jobs.map((j) => j.command)).toEqual(['uuid_transfer u1 m:|:park inline', 'uuid_bridge u2 u3']);
    fake.jobs[1]?.answer('+OK u3');
    expect(await second).toBe('+OK u3');
    fake.jobs[0]?.answer('-ERR No such channel!');
    expect(await first).toBe('-ERR No such channel!');
  });

  it('passes channel events on, and not the job answers', async () => {
    const c = await connected();
    const seen: string[] = [];
    c.onEvent((e) => seen.push(`${e.getHeader('Event-Name')} ${e.getHeader('Unique-ID') ?? ''}`));
    const job = c.run('uuid_kill', 'u9');
    await until(() => fake.jobs.length === 1, 'the job');
    fake.jobs[0]?.answer('+OK');
    await job;
    fake.event({ 'Event-Name': 'CHANNEL_HANGUP', 'Unique-ID': 'u9' });
    await until(() => seen.length === 1, 'the event');
    expect(seen).toEqual(['CHANNEL_HANGUP u9']);
  });

  it('fails every waiting command at once when the connection drops, then connects again', async () => {
    const c = await connected();
    const states: boolean[] = [];
    c.onState((up) => states.push(up));
    const pending = c.run('uuid_bridge', 'a b');
    await until(() => fake.jobs.length === 1, 'the job');
    fake.dropClients();
    await expect(pending).rejects.toBeInstanceOf(FreeSwitchConnectionLost);
    await expect(c.run('uuid_kill', 'a')).rejects.toBeInstanceOf(FreeSwitchConnectionLost);
    await until(() => c.up, 'the new connection');
    expect(states).toEqual([false, true]);
  });
});
