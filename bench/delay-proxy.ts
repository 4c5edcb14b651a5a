import { createServer, connect, type Socket } from 'node:net';

/** A TCP proxy on 127.0.0.1 that delays every chunk by `delayMs` in each direction: a far-away server, nearby. */
export interface DelayProxy {
  address: string;
  close(): Promise<void>;
}

/** Forwards what `from` sends to `to`, each chunk `delayMs` later, in order. */
function forwardLate(from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delayMs));
  from.on('end', () => setTimeout(() => to.end(), delayMs));
  from.on('error', () => to.destroy());
}

/** Starts a proxy to `target` (host:port) adding `delayMs` each way. */
export async function startDelayProxy(target: string, delayMs: number): Promise<DelayProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.once('close', () => sockets.delete(socket));
    }
    forwardLate(client, upstream, delayMs);
    forwardLate(upstream, client, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('the delay proxy has no address');
  return {
    address: `127.0.0.1:${address.port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
