import type { Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { durationToMs, type Duration, type RetryConfig } from '../config/pipeline.ts';
import { isRetryableStatus, NON_RETRYABLE_ERROR_TYPES } from '../errors.ts';
import { redact } from '../sources/redaction.ts';

/** Failure type of a page whose retries outlasted `engine.retry.max_elapsed`. */
export const RETRY_BUDGET_SPENT = 'RetryBudgetSpent';

const NON_RETRYABLE_NAMES: ReadonlySet<string> = new Set(NON_RETRYABLE_ERROR_TYPES);

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

/**
 * The wait Temporal's retry policy puts before attempt `attempt + 1`:
 * `initial_interval × backoff_coefficient^(attempt-1)`, at most `maximum_interval`.
 */
export function backoffBeforeNextAttempt(retry: RetryConfig, attempt: number): number {
  return Math.min(durationToMs(retry.initial_interval) * retry.backoff_coefficient ** (attempt - 1), durationToMs(retry.maximum_interval));
}

/**
 * Applies `engine.retry.max_elapsed`: a retryable failure whose next attempt
 * would start after the budget is spent becomes final, keeping its message,
 * so the sync fails with the last real error (not a timeout).
 */
export function withinRetryBudget(failure: ApplicationFailure, retry: RetryConfig, info: Pick<Info, 'attempt' | 'scheduledTimestampMs'>): ApplicationFailure {
  if (failure.nonRetryable || retry.max_elapsed === undefined) return failure;
  const budgetMs = durationToMs(retry.max_elapsed);
  const nextDelayMs = failure.nextRetryDelay != null ? durationToMs(failure.nextRetryDelay as Duration) : backoffBeforeNextAttempt(retry, info.attempt);
  if (Date.now() + nextDelayMs - info.scheduledTimestampMs < budgetMs) return failure;
  return ApplicationFailure.create({
    message: failure.message,
    type: RETRY_BUDGET_SPENT,
    nonRetryable: true,
    details: [{ lastErrorType: failure.type, attempts: info.attempt, maxElapsed: retry.max_elapsed }],
  });
}
