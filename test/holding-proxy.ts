/**
 * An HTTP proxy in front of a server the test does not control (SeaweedFS's S3 API): it forwards every request as
 * it came (headers too, so a signed request stays valid) and can hold one the test picks, then drop it — the
 * request a killed worker never finished.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HoldingProxy {
  url: string;
  /** Holds the next request `matches` picks; `reached` settles when it arrives; `drop()` ends it unanswered. */
  hold(matches: (method: string, url: string) => boolean): { reached: Promise<void>; drop: () => void };
  close(): Promise<void>;
}

export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const upstream = new URL(target);
  let held: { matches: (method: string, url: string) => boolean; reached: () => void; dropped: Promise<void> } | undefined;
  const server = http.createServer((request, response) => {
    const hold = held;
    if (hold?.matches(request.method ?? '', request.url ?? '')) {
      held = undefined;
      hold.reached();
      void hold.dropped.then(() => request.socket.destroy());
      return;
    }
    const forwarded = http.request({ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    forwarded.on('error', () => request.socket.destroy());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold(matches) {
      let reached!: () => void;
      let drop!: () => void;
      const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
      held = { matches, reached, dropped: new Promise<void>((resolve) => (drop = resolve)) };
      return { reached: reachedPromise, drop };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
