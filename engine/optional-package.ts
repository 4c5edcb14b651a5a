/**
 * Drivers a user installs only for what they use (the duckdb, parquet and postgres destinations, S3), as dlt's
 * extras: loaded on first use, and when missing, a clear error naming the package to add.
 */
import { NonRetryableError } from '../errors.ts';

/** Whether `error` says that `name` itself is not installed (not a module it imports). */
function isMissing(error: unknown, name: string): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String(message).includes(`'${name}'`);
}

/**
 * Imports an optional dependency; when it is not installed, fails (not retried: another attempt on the same worker
 * finds it missing too) saying what needs it and the command that adds it.
 */
export async function importOptional<T>(name: string, purpose: string, alsoNeeded: readonly string[] = []): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    if (!isMissing(error, name)) throw error;
    throw new NonRetryableError(`${purpose} needs the package ${name}, which is not installed where this runs: npm install ${[name, ...alsoNeeded].join(' ')}`);
  }
}
