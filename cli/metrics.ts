import { Runtime, type LogLevel } from '@temporalio/worker';
import { SyncMetrics } from '../activities/metrics.ts';
import { startMetricsServer } from '../engine/metrics-server.ts';
import { freePort } from '../engine/temporal-server.ts';
import { startTracing } from '../engine/tracing.ts';
import { installLogger, type LogFormat } from './logging.ts';

/** What {@link installTelemetry} set up. */
export interface Telemetry {
  /** Where a worker counts what it does, with `--metrics-port`. */
  metrics?: SyncMetrics;
  /** Stops serving metrics, sends the spans not yet exported and writes the log lines still buffered. */
  close(): Promise<void>;
}

/**
 * Installs the SDK's logger; with `--metrics-port`, the metrics: bizon's
 * and the Temporal SDK's (exported on a local port of its own, merged into the
 * one `/metrics`); with `OTEL_EXPORTER_OTLP_ENDPOINT`, the traces.
 */
export async function installTelemetry(level: LogLevel, metricsPort: string | undefined, format: LogFormat = 'text'): Promise<Telemetry> {
  const tracing = await startTracing();
  if (metricsPort === undefined) {
    installLogger(level, undefined, format);
    return {
      async close() {
        await tracing?.shutdown();
        flushLog();
      },
    };
  }
  const runtimePort = await freePort();
  installLogger(level, `127.0.0.1:${runtimePort}`, format);
  const metrics = new SyncMetrics();
  const server = await startMetricsServer({ address: metricsPort, registry: metrics.registry, runtimeMetricsUrl: `http://127.0.0.1:${runtimePort}/metrics` });
  process.stderr.write(`Metrics for Prometheus on ${server.url}\n`);
  return {
    metrics,
    async close() {
      await server.close();
      await tracing?.shutdown();
      flushLog();
    },
  };
}

/** The SDK buffers log lines for ordering (about 100 ms): a command that exits next would lose its last ones. */
function flushLog(): void {
  Runtime.instance().flushLogs();
}
