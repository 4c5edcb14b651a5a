import type { LogLevel } from '@temporalio/worker';
import { SyncMetrics } from '../activities/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../engine/metrics-server.ts';
import { freePort } from '../engine/temporal-server.ts';
import { installLogger, type LogFormat } from './logging.ts';

/**
 * Installs the SDK's logger and, with `--metrics-port`, the metrics: bizon's
 * and the Temporal SDK's (exported on a local port of its own, merged into the
 * one `/metrics`). Returns what a worker records into, and a stop.
 */
export async function installTelemetry(level: LogLevel, metricsPort: string | undefined, format: LogFormat = 'text'): Promise<{ metrics?: SyncMetrics; server?: MetricsServer }> {
  if (metricsPort === undefined) {
    installLogger(level, undefined, format);
    return {};
  }
  const runtimePort = await freePort();
  installLogger(level, `127.0.0.1:${runtimePort}`, format);
  const metrics = new SyncMetrics();
  const server = await startMetricsServer({ address: metricsPort, registry: metrics.registry, runtimeMetricsUrl: `http://127.0.0.1:${runtimePort}/metrics` });
  process.stderr.write(`Metrics for Prometheus on ${server.url}\n`);
  return { metrics, server };
}
