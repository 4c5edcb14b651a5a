/**
 * The errors of bizon-temporal, for the whole package: what a source throws,
 * what the framework throws, and the rule of which HTTP statuses are worth
 * another attempt. Each class sets `name`, which the activity layer turns into
 * the Temporal failure `type` and the retry policy matches, so the class
 * decides whether Temporal retries.
 */
import { closest, distance } from 'fastest-levenshtein';

/**
 * Whether an HTTP status may succeed on another attempt: 408 (request
 * timeout), 429 (rate limited, retried after `Retry-After`) and 5xx. Every
 * other 4xx is a mistake that retrying cannot fix.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * For a message about a mistyped name: the candidate close enough to be what was meant
 * (a third of its letters off at most), or undefined.
 */
export function closeMatch(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const suggestion = closest(word, [...candidates]);
  return distance(word, suggestion) <= Math.max(2, Math.floor(word.length / 3)) ? suggestion : undefined;
}

/** Base class of bizon-temporal's own errors. */
export class BizonError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The API said "slow down". Temporal retries the page after `retryAfterMs`
 * when given, else with the configured exponential backoff.
 */
export class RateLimitError extends BizonError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * A mistake retrying cannot fix (bad credentials, bad parameters, a missing
 * resource). The sync fails at once with this message.
 */
export class NonRetryableError extends BizonError {}

/** The pipeline configuration is invalid. Never retried. */
export class ConfigError extends BizonError {}

/** A source returned something that is not a valid `SourceIteration`. Never retried. */
export class MalformedIterationError extends BizonError {}

/** A destination could not write or publish. Retried like any transient error. */
export class DestinationWriteError extends BizonError {}

/**
 * A non-2xx answer from `this.session`. 429 is turned into
 * {@link RateLimitError}; 408 and 5xx are transient; other 4xx are permanent.
 */
export class HttpError extends BizonError {
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The first few hundred characters of the response body. */
  readonly bodyExcerpt: string;
  constructor(init: { status: number; method: string; url: string; headers: Record<string, string>; bodyExcerpt: string }) {
    const body = init.bodyExcerpt ? `: ${init.bodyExcerpt}` : '';
    super(`HTTP ${init.status} from ${init.method} ${init.url}${body}`);
    this.status = init.status;
    this.method = init.method;
    this.url = init.url;
    this.headers = init.headers;
    this.bodyExcerpt = init.bodyExcerpt;
  }

  /** Whether another attempt may succeed ({@link isRetryableStatus}). */
  get retryable(): boolean {
    return isRetryableStatus(this.status);
  }
}

/** The request never got an HTTP answer (connection refused or reset, DNS, timeout). Transient. */
export class NetworkError extends BizonError {
  readonly code: string | undefined;
  readonly url: string;
  constructor(init: { message: string; code?: string; url: string; cause?: unknown }) {
    super(`${init.message} (${init.code ?? 'network error'}) calling ${init.url}`, { cause: init.cause });
    this.code = init.code;
    this.url = init.url;
  }
}

/** Names of the error classes that must never be retried; the retry policy lists them. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'NonRetryableError',
  'ConfigError',
  'MalformedIterationError',
  'HttpClientError',
] as const;
