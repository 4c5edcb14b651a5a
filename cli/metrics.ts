import type { LogLevel } from '@temporalio/worker';
import type { SyncMetrics } from '../activities/metrics.ts';
import { startMetricsServer } from '../engine/metrics-server.ts';
import { freePort } from '../engine/temporal-server.ts';
import { startTracing } from '../engine/tracing.ts';
import type { LogFormat } from './logging.ts';

/** What {@link installTelemetry} set up. */
export interface Telemetry {
  /** Where a worker counts what it does, with `--metrics-port`. */
  metrics?: SyncMetrics;
  /** Stops serving metrics, sends the spans not yet exported and writes the log lines still buffered. */
  close(): Promise<void>;
}

/**
 * With `OTEL_EXPORTER_OTLP_ENDPOINT`, the traces. For a command that runs a worker (`worker`), also the SDK's
 * logger and, with `--metrics-port`, the metrics: bizon's and the Temporal SDK's (exported on a local port of its
 * own, merged into the one `/metrics`). A command that only starts syncs loads none of the worker's modules.
 */
export async function installTelemetry(level: LogLevel, metricsPort: string | undefined, format: LogFormat = 'text', options: { worker?: boolean } = {}): Promise<Telemetry> {
  const tracing = await startTracing();
  if (options.worker === false) return { close: async () => void (await tracing?.shutdown()) };
  const { installLogger, flushLogs } = await import('./logging.ts');
  if (metricsPort === undefined) {
    installLogger(level, undefined, format);
    return {
      async close() {
        await tracing?.shutdown();
        flushLogs();
      },
    };
  }
  const runtimePort = await freePort();
  installLogger(level, `127.0.0.1:${runtimePort}`, format);
  const metrics = new (await import('../activities/metrics.ts')).SyncMetrics();
  const server = await startMetricsServer({ address: metricsPort, registry: metrics.registry, runtimeMetricsUrl: `http://127.0.0.1:${runtimePort}/metrics` });
  process.stderr.write(`Metrics for Prometheus on ${server.url}\n`);
  return {
    metrics,
    async close() {
      await server.close();
      await tracing?.shutdown();
      flushLogs();
    },
  };
}
