import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

/**
 * Routes the Temporal SDK's log (workers, activities) to stderr at `level`; with `runtimeMetricsAddress`,
 * the SDK also exports its own metrics for Prometheus there.
 */
export function installLogger(level: LogLevel, runtimeMetricsAddress?: string): void {
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: {
      logging: { filter: level === 'TRACE' || level === 'DEBUG' ? 'INFO' : 'WARN', forward: {} },
      ...(runtimeMetricsAddress ? { metrics: { prometheus: { bindAddress: runtimeMetricsAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } : {}),
    },
  });
}
