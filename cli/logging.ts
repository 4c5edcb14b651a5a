import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

/** How the worker's log lines look: as the SDK prints them, or one JSON object per line (for log pipelines). */
export type LogFormat = 'text' | 'json';

/** One log entry as a JSON line: time, level, message, and the SDK's context (workflow id, run id, activity, attempt, …). */
export function jsonLogLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const seen = new WeakSet<object>();
  return `${JSON.stringify({ time, level: entry.level, message: entry.message, ...entry.meta }, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return { name: value.name, message: value.message };
    if (value !== null && typeof value === 'object') {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  })}\n`;
}

/**
 * Routes the Temporal SDK's log (workers, activities) to stderr at `level`; with `runtimeMetricsAddress`,
 * the SDK also exports its own metrics for Prometheus there; `json` prints each line as a JSON object.
 */
export function installLogger(level: LogLevel, runtimeMetricsAddress?: string, format: LogFormat = 'text'): void {
  Runtime.install({
    logger: format === 'json' ? new DefaultLogger(level, (entry) => void process.stderr.write(jsonLogLine(entry))) : new DefaultLogger(level),
    telemetryOptions: {
      logging: { filter: level === 'TRACE' || level === 'DEBUG' ? 'INFO' : 'WARN', forward: {} },
      ...(runtimeMetricsAddress ? { metrics: { prometheus: { bindAddress: runtimeMetricsAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } : {}),
    },
  });
}

/** The SDK buffers log lines for ordering (about 100 ms): a command that exits next would lose its last ones. */
export function flushLogs(): void {
  Runtime.instance().flushLogs();
}
