import { ApplicationFailure } from '@temporalio/common';
import { isRetryableStatus, NON_RETRYABLE_ERROR_TYPES } from '../errors.ts';

/** Failure type of a page whose retries outlasted `engine.retry.max_elapsed`. */
export const RETRY_BUDGET_SPENT = 'RetryBudgetSpent';

const NON_RETRYABLE_NAMES: ReadonlySet<string> = new Set(NON_RETRYABLE_ERROR_TYPES);

function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('***');
  return result;
}

/**
 * The one place where errors become Temporal failures; the failure's `type`
 * is what the retry policy matches. Classes are recognised by `name`, since a
 * custom source file carries its own copy of the SDK's error classes.
 */
export function toApplicationFailure(error: unknown, secrets: readonly string[] = []): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  const message = redact(err.message, secrets);
  const fields = err as Error & { retryAfterMs?: unknown; status?: unknown };
  if (err.name === 'RateLimitError') {
    const retryAfterMs = typeof fields.retryAfterMs === 'number' ? fields.retryAfterMs : undefined;
    return ApplicationFailure.create({
      message,
      type: 'RateLimitError',
      nextRetryDelay: retryAfterMs !== undefined ? Math.max(retryAfterMs, 1) : undefined,
    });
  }
  if (err.name === 'HttpError' && typeof fields.status === 'number') {
    const retryable = isRetryableStatus(fields.status);
    return ApplicationFailure.create({
      message,
      type: retryable ? 'HttpServerError' : 'HttpClientError',
      nonRetryable: !retryable,
      details: [{ status: fields.status }],
    });
  }
  return ApplicationFailure.create({ message, type: err.name || 'Error', nonRetryable: NON_RETRYABLE_NAMES.has(err.name) });
}
