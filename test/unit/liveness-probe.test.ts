/** The survivor's question before it ends a silent instance's calls: gone, or only starved? (Loopback servers.) */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeInstance } from '../../src/cluster/liveness-probe.js';

const servers: (Server | TcpServer)[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

async function listen<T extends Server | TcpServer>(server: T): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const healthOf = (instance: string) => createHttpServer((_req, res) => res.end(JSON.stringify({ status: 'ok', instance })));
const times = { connectMs: 500, answerMs: 300 };

describe('probeInstance', () => {
  it('alive when its own /health answers', async () => {
    expect(await probeInstance(await listen(healthOf('one')), 'one', times)).toBe('alive');
  });

  it('gone when another instance answers at its old address', async () => {
    expect(await probeInstance(await listen(healthOf('two')), 'one', times)).toBe('gone');
  });

  it('gone when nothing listens there any more (the process was killed)', async () => {
    const url = await listen(healthOf('one'));
    const server = servers.pop() as Server;
    await new Promise((resolve) => server.close(resolve));
    expect(await probeInstance(url, 'one', times)).toBe('gone');
  });

  it('alive when the connection is taken but not answered in time (a starved process)', async () => {
    const accepted: Socket[] = [];
    const silent = createTcpServer((socket) => void accepted.push(socket));
    const url = await listen(silent);
    expect(await probeInstance(url, 'one', times)).toBe('alive');
    for (const socket of accepted) socket.destroy();
  });

  it('gone when the address cannot be reached at all', async () => {
    // 127.255.255.254:1 on loopback: refused at once.
    expect(await probeInstance('http://127.255.255.254:1', 'one', times)).toBe('gone');
  });
});
