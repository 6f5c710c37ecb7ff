/**
 * The load driver's leftover check on FreeSWITCH (bench/load/sipp-phones.ts), against a fake event socket that
 * answers as FreeSWITCH 1.10 does: channels are counted by the service's owner tag, rooms from `conference list`.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freeswitchLeftovers } from '../../bench/load/sipp-phones.js';

let server: Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

/** A fake event socket on 127.0.0.1: `answers` maps an api command to its response body. */
async function fakeEventSocket(answers: Record<string, string>): Promise<number> {
  server = createServer((socket) => {
    socket.write('Content-Type: auth/request\n\n');
    let buffer = '';
    socket.on('data', (data: Buffer) => {
      buffer += data.toString();
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const command = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 2);
        if (command.startsWith('api ')) {
          const body = answers[command.slice(4)] ?? '-ERR no such command\n';
          socket.write(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
        } else {
          socket.write('Content-Type: command/reply\nReply-Text: +OK accepted\n\n');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

describe("load driver's FreeSWITCH leftover check", () => {
  it('counts the channels tagged with the owner and the rooms, and lists the others', async () => {
    const port = await fakeEventSocket({
      'show channels as json': JSON.stringify({ row_count: 3, rows: [{ uuid: 'u1', name: 'sofia/a' }, { uuid: 'u2', name: 'sofia/b' }, { uuid: 'u3', name: 'sofia/c' }] }),
      'uuid_getvar u1 sip_h_X-Helpdesk-Owner': 'loadhost',
      'uuid_getvar u2 sip_h_X-Helpdesk-Owner': '_undef_',
      'uuid_getvar u3 sip_h_X-Helpdesk-Owner': 'someone-else',
      'conference list': '+OK Conference help-abc (2 members rate: 8000 flags: running|answered)\n2;sofia/x;...\n',
    });
    const leftovers = await freeswitchLeftovers({ host: '127.0.0.1', port, password: 'ClueCon' }, 'loadhost');
    expect(leftovers.find((l) => l.what.startsWith('FreeSWITCH channels of the service'))?.count).toBe(1);
    expect(leftovers.find((l) => l.what.startsWith('FreeSWITCH channels of anybody else'))?.detail).toMatch(/^2: /);
    expect(leftovers.find((l) => l.what === 'FreeSWITCH conference rooms')).toMatchObject({ count: 1, detail: 'help-abc' });
  });

  it('finds nothing on an idle FreeSWITCH', async () => {
    const port = await fakeEventSocket({ 'show channels as json': '{"row_count":0}', 'conference list': '+OK No active conferences.\n' });
    const leftovers = await freeswitchLeftovers({ host: '127.0.0.1', port, password: 'ClueCon' }, null);
    expect(leftovers.reduce((n, l) => n + l.count, 0)).toBe(0);
  });
});
