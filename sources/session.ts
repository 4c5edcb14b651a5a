import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import type { Authenticator } from './auth.ts';
import { HttpError, NetworkError, RateLimitError } from '../errors.ts';

const BODY_EXCERPT_CHARS = 300;

/**
 * Where a session keeps the last error it raised, so a failed
 * `checkConnection()` can be classified. A registered symbol, because a custom
 * source file gets its own copy of this module.
 */
const LAST_ERROR = Symbol.for('bizon-temporal.session.lastError');

/** The last error `session` raised, if any. */
export function lastSessionError(session: AxiosInstance): Error | undefined {
  return (session as unknown as Record<symbol, Error | undefined>)[LAST_ERROR];
}

function excerpt(data: unknown): string {
  if (data == null) return '';
  let text: string;
  if (typeof data === 'string') text = data;
  else if (Buffer.isBuffer(data)) text = data.toString('utf8');
  else {
    try {
      text = JSON.stringify(data);
    } catch {
      text = String(data);
    }
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}…` : text;
}

function requestUrl(error: AxiosError): string {
  const config = error.config;
  if (!config) return '(unknown URL)';
  try {
    const url = new URL(axios.getUri(config));
    return `${url.origin}${url.pathname}${url.search}`;
  } catch {
    return config.url ?? '(unknown URL)';
  }
}

/**
 * Reads `Retry-After` (seconds or an HTTP date) into milliseconds from now.
 * @internal exported for tests
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function headersOf(response: AxiosResponse): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(response.headers ?? {})) {
    if (value != null) headers[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

/** Turns an axios failure into the error class that decides what Temporal does. */
export function toSourceHttpError(error: unknown): Error {
  if (!axios.isAxiosError(error)) return error instanceof Error ? error : new Error(String(error));
  const url = requestUrl(error);
  const method = (error.config?.method ?? 'get').toUpperCase();
  if (error.response) {
    const http = new HttpError({
      status: error.response.status,
      method,
      url,
      headers: headersOf(error.response),
      bodyExcerpt: excerpt(error.response.data),
    });
    if (http.status === 429) {
      return new RateLimitError(http.message, { retryAfterMs: parseRetryAfter(http.headers['retry-after']), cause: http });
    }
    return http;
  }
  return new NetworkError({ message: error.message || 'request failed', code: error.code, url, cause: error });
}

/** Options of {@link createSession}. */
export interface SessionOptions {
  /** Request timeout in milliseconds. */
  timeoutMs: number;
  /** Resolved lazily, once, on the first request. */
  authenticator?: () => Authenticator | undefined | Promise<Authenticator | undefined>;
}

/**
 * The HTTP client a source uses as `this.session`: axios with the
 * authenticator applied, a timeout, and every non-2xx status thrown as an
 * error keeping status, headers and a body excerpt. It never retries: that is
 * Temporal's job.
 */
export function createSession(options: SessionOptions): AxiosInstance {
  const session = axios.create({ timeout: options.timeoutMs, validateStatus: (status) => status >= 200 && status < 300 });
  let authenticator: Promise<Authenticator | undefined> | undefined;
  session.interceptors.request.use(async (request) => {
    authenticator ??= Promise.resolve(options.authenticator?.());
    const auth = await authenticator;
    return auth ? auth.apply(request) : request;
  });
  session.interceptors.response.use(
    (response) => response,
    (error: unknown) => {
      const mapped = toSourceHttpError(error);
      (session as unknown as Record<symbol, Error>)[LAST_ERROR] = mapped;
      return Promise.reject(mapped);
    },
  );
  return session;
}
