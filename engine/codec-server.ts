import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** A payload in the codec server's JSON: metadata values and data in base64. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

function fromJson(payload: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')])),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value ?? []).toString('base64')])),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

async function readJson(request: IncomingMessage): Promise<{ payloads?: JsonPayload[] }> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return JSON.parse(body) as { payloads?: JsonPayload[] };
}

/** A running codec server. */
export interface CodecServer {
  url: string;
  /** The endpoint to give the Web UI ("Codec Server"): the URL with the token as its first path segment. */
  endpoint: string;
  close(): Promise<void>;
}

/** Options of {@link startCodecServer}. */
export interface CodecServerOptions {
  /** The credential every request must carry: `Authorization: Bearer <token>`, or `/<token>` before `/encode` and `/decode`. */
  token: string;
  port?: number;
  host?: string;
  /** Web UI origins allowed to call it from a browser; a request from any other origin is refused. */
  corsOrigins?: string[];
}

function sameSecret(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(response: ServerResponse, status: number, error: string): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
}

/**
 * Serves `POST /encode` and `POST /decode` (Temporal's codec server
 * protocol) so the Web UI and `temporal` CLI can show decrypted history to a
 * person who runs it with the key. It decrypts only for a request that
 * carries the token, names this server in its `Host` (a page reaching it
 * through DNS rebinding does not), and comes from an allowed origin if from
 * a browser.
 */
export async function startCodecServer(codec: PayloadCodec, options: CodecServerOptions): Promise<CodecServer> {
  const allowed = new Set(options.corsOrigins ?? []);
  const host = options.host ?? '127.0.0.1';
  let hostNames = new Set<string>();
  const server: Server = createServer((request, response) => {
    if (!hostNames.has(request.headers.host ?? '')) return refuse(response, 403, 'unknown Host: call this server by its own address');
    const origin = request.headers.origin;
    if (origin && !allowed.has(origin) && !allowed.has('*')) return refuse(response, 403, `origin ${origin} is not allowed (--cors-origin)`);
    if (origin) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      response.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      response.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (request.method === 'OPTIONS') return void response.writeHead(204).end();
    const segments = (request.url?.split('?')[0] ?? '').split('/').filter(Boolean);
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const pathToken = segments.length === 2 ? segments[0] : undefined;
    if (!sameSecret(bearer, options.token) && !sameSecret(pathToken, options.token)) {
      return refuse(response, 401, 'a token is required: Authorization: Bearer <token>, or the endpoint bizon codec-server printed');
    }
    const route = segments.at(-1);
    if (request.method !== 'POST' || (route !== 'encode' && route !== 'decode')) return refuse(response, 404, 'POST /encode or /decode');
    readJson(request)
      .then(async ({ payloads = [] }) => {
        const input = payloads.map(fromJson);
        const output = route === 'encode' ? await codec.encode(input) : await codec.decode(input);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: output.map(toJson) }));
      })
      .catch((error: unknown) => refuse(response, 400, String(error)));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  hostNames = new Set([`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]);
  const url = `http://${host}:${port}`;
  return {
    url,
    endpoint: `${url}/${options.token}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
