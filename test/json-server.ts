/**
 * json-server (npm), a REST server that is not ours, started in the test's process on 127.0.0.1: its data, its
 * nested routes, its filters, static files beside it — and every request it received, one of which the test may hold.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface JsonServerModule {
  create(): { use(handler: unknown): void; listen(port: number, host: string, ready: () => void): Server };
  defaults(options: { logger: boolean; static?: string }): unknown;
  router(db: Record<string, unknown[]>): unknown;
}
const jsonServer = createRequire(import.meta.url)('json-server') as JsonServerModule;

/** A request json-server received: its path, its query, when. */
export interface JsonServerRequest {
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** The path and query as sent. */
  url: string;
  at: number;
}

export interface JsonServer {
  url: string;
  requests: JsonServerRequest[];
  /** Holds the next request whose path matches until `release()`; `reached` settles when it arrives. */
  hold(matches: (path: string) => boolean): { reached: Promise<void>; release: () => void };
  /** Changes its data as another client would: `PATCH posts/3`, `POST comments`. */
  send(method: 'PATCH' | 'POST', resource: string, body: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export async function startJsonServer(db: Record<string, unknown[]>, options: { staticDir?: string } = {}): Promise<JsonServer> {
  const requests: JsonServerRequest[] = [];
  let held: { matches: (path: string) => boolean; reached: () => void; released: Promise<void> } | undefined;
  const app = jsonServer.create();
  app.use((request: { url: string; headers: JsonServerRequest['headers'] }, _response: unknown, next: () => void) => {
    const url = new URL(request.url, 'http://json-server');
    requests.push({ path: url.pathname, query: url.searchParams, headers: request.headers, url: request.url, at: Date.now() });
    const hold = held;
    if (hold?.matches(url.pathname)) {
      held = undefined;
      hold.reached();
      void hold.released.then(next);
    } else {
      next();
    }
  });
  app.use(jsonServer.defaults({ logger: false, ...(options.staticDir ? { static: options.staticDir } : {}) }));
  app.use(jsonServer.router(db));
  let server!: Server;
  await new Promise<void>((resolve) => (server = app.listen(0, '127.0.0.1', resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    hold(matches) {
      let reached!: () => void;
      let release!: () => void;
      const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
      held = { matches, reached, released: new Promise<void>((resolve) => (release = resolve)) };
      return { reached: reachedPromise, release };
    },
    async send(method, resource, body) {
      const response = await fetch(`${url}/${resource}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!response.ok) throw new Error(`json-server answered ${method} /${resource} with ${response.status}`);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
