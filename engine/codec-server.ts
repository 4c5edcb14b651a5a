import { createServer, type IncomingMessage, type Server } from 'node:http';
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
  close(): Promise<void>;
}

/**
 * Serves `POST /encode` and `POST /decode` (Temporal's codec server
 * protocol) so the Web UI and `temporal` CLI can show decrypted history to a
 * person who runs it with the key. `corsOrigins` are the Web UI origins allowed
 * to call it from a browser.
 */
export async function startCodecServer(codec: PayloadCodec, options: { port?: number; host?: string; corsOrigins?: string[] } = {}): Promise<CodecServer> {
  const allowed = new Set(options.corsOrigins ?? []);
  const server: Server = createServer((request, response) => {
    const origin = request.headers.origin;
    if (origin && (allowed.has(origin) || allowed.has('*'))) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      response.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      response.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (request.method === 'OPTIONS') return void response.writeHead(204).end();
    const route = request.url?.split('?')[0]?.replace(/\/+$/, '');
    if (request.method !== 'POST' || (route !== '/encode' && route !== '/decode')) {
      return void response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'POST /encode or /decode' }));
    }
    readJson(request)
      .then(async ({ payloads = [] }) => {
        const input = payloads.map(fromJson);
        const output = route === '/encode' ? await codec.encode(input) : await codec.decode(input);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: output.map(toJson) }));
      })
      .catch((error: unknown) => {
        response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
      });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
