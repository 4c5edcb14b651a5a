import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

/** Routes the Temporal SDK's log (workers, activities) to stderr at `level`. */
export function installLogger(level: LogLevel): void {
  Runtime.install({ logger: new DefaultLogger(level), telemetryOptions: { logging: { filter: level === 'TRACE' || level === 'DEBUG' ? 'INFO' : 'WARN', forward: {} } } });
}
