import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** `9464` or `0.0.0.0:9464` (the host defaults to 127.0.0.1: exposing metrics beyond the machine is a choice). */
export function parseMetricsAddress(value: string): { host: string; port: number } {
  const match = /^(?:(.+):)?(\d+)$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-port ${value}: give a port (9464) or host:port (0.0.0.0:9464)`);
  return { host: match[1] ?? '127.0.0.1', port };
}

/**
 * Serves `/metrics` for Prometheus: bizon's registry, followed by the Temporal
 * SDK's own runtime metrics when `runtimeMetricsUrl` (the SDK's exporter, bound
 * to a local port of its own) is given.
 */
export async function startMetricsServer(options: { address: string; registry: Registry; runtimeMetricsUrl?: string }): Promise<MetricsServer> {
  const { host, port } = parseMetricsAddress(options.address);
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('bizon serves /metrics\n');
      return;
    }
    void (async () => {
      const ours = await options.registry.metrics();
      const sdk = options.runtimeMetricsUrl ? await fetch(options.runtimeMetricsUrl).then((answer) => answer.text()).catch(() => '') : '';
      response.writeHead(200, { 'content-type': options.registry.contentType }).end(`${ours}\n${sdk}`);
    })().catch((error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
