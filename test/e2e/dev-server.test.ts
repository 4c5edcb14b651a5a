import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, startDevServer } from '../../engine/temporal-server.ts';

/** Something that is not Temporal, listening on a port. */
async function occupy(port: number): Promise<Server> {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('starting the Temporal dev server', () => {
  it.each([
    ['frontend', 'port'],
    ['UI', 'uiPort'],
  ] as const)('a %s port another program holds fails at once, naming the port (not after the start timeout)', async (what, option) => {
    const port = await freePort();
    const other = await occupy(port);
    const started = Date.now();
    try {
      const error = await startDevServer({ [option]: port, startTimeoutMs: 120_000 }).then(
        async (server) => {
          await server.stop();
          return undefined;
        },
        (failure: Error) => failure,
      );
      expect(error?.message).toBe(`Port ${port} on 127.0.0.1 (the Temporal ${what} port) is in use by another program: choose another port, or stop that program.`);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      other.close();
    }
  });

  it('chooses ports below the ephemeral range, where no listen(0) or outgoing connection lands, and never one twice', async () => {
    const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(new Set(ports).size).toBe(50);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralStart);
    }
  });
});
