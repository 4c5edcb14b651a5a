import axios, { AxiosError, type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Authenticator } from './authenticator.ts';
import { HttpError, NetworkError, NonRetryableError, RateLimitError } from '../errors.ts';

const BODY_EXCERPT_CHARS = 300;

/**
 * Where a session keeps the last error it raised, so a failed
 * `checkConnection()` can be classified. A registered symbol, because a custom
 * source file gets its own copy of this module.
 */
const LAST_ERROR = Symbol.for('bizon-temporal.session.lastError');

/** How a session hides secrets in what its spans say (set by the worker, which knows the resolved secrets). */
const REDACT = Symbol.for('bizon-temporal.session.redact');
const SPAN = Symbol('bizon-temporal.session.span');

/** Makes `session`'s request spans pass their URL path through `redact` (a secret may sit in a path). */
export function redactSessionSpans(session: AxiosInstance, redact: (text: string) => string): void {
  (session as unknown as Record<symbol, unknown>)[REDACT] = redact;
}

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
  if (/^maxContentLength size of \d+ exceeded$|^Request body larger than maxBodyLength limit$/.test(error.message)) {
    // The same page is as large on every attempt: no retry can help.
    const limitMb = (error.config?.maxContentLength ?? 0) / MB;
    return new NonRetryableError(
      `${method} ${url} ${/^Request/.test(error.message) ? 'sends a body' : 'answered'} larger than api_config.max_response_mb (${limitMb} MB): raise it, or ask for smaller pages`,
      { cause: error },
    );
  }
  return new NetworkError({ message: error.message || 'request failed', code: error.code, url, cause: error });
}

const MB = 1024 * 1024;

/** Whether `url` is on the `home` origin or one of `allowedHosts` (an origin `https://h:1`, or a `host[:port]`). */
export function isAllowedOrigin(url: URL, home: string, allowedHosts: readonly string[] = []): boolean {
  if (url.origin === home) return true;
  return allowedHosts.some((entry) => (entry.includes('://') ? URL.canParse(entry) && new URL(entry).origin === url.origin : entry === url.host || entry === url.hostname));
}

/** Options of {@link createSession}. */
export interface SessionOptions {
  /** Request timeout in milliseconds. */
  timeoutMs: number;
  /** Largest response and request body, in bytes (default 100 MB). */
  maxBytes?: number;
  /** Origins or hosts besides the first request's that the authenticator's credentials may be sent to. */
  allowedHosts?: readonly string[];
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
  const maxBytes = options.maxBytes ?? 100 * MB;
  const session = axios.create({ timeout: options.timeoutMs, maxContentLength: maxBytes, maxBodyLength: maxBytes, validateStatus: (status) => status >= 200 && status < 300 });
  let authenticator: Promise<Authenticator | undefined> | undefined;
  // Request interceptors run last-registered first: this one runs after the authenticator, as the request leaves.
  session.interceptors.request.use((request) => startRequestSpan(session, request));
  let home: string | undefined;
  session.interceptors.request.use(async (request) => {
    authenticator ??= Promise.resolve(options.authenticator?.());
    const auth = await authenticator;
    if (!auth) return request;
    // Credentials stay with the API: the origin of the session's first request, and those the config allows.
    const url = new URL(axios.getUri(request));
    home ??= url.origin;
    if (!isAllowedOrigin(url, home, options.allowedHosts)) {
      throw new NonRetryableError(
        `this.session was asked for ${url.origin}, not the origin of its first request (${home}): it sends the source's credentials only there. ` +
          `If ${url.origin} is the same API, list it in source.api_config.allowed_hosts`,
      );
    }
    return auth.apply(request);
  });
  session.interceptors.response.use(
    (response) => {
      endRequestSpan(response.config, response.status);
      return response;
    },
    (error: unknown) => {
      if (axios.isAxiosError(error) && error.config) endRequestSpan(error.config, error.response?.status, error.code);
      const mapped = toSourceHttpError(error);
      (session as unknown as Record<symbol, Error>)[LAST_ERROR] = mapped;
      return Promise.reject(mapped);
    },
  );
  return session;
}

/**
 * A client span per request, a child of the page being read when tracing is
 * on (a no-op otherwise): method, host, port and path; never the query string
 * or a header.
 */
function startRequestSpan(session: AxiosInstance, request: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
  const method = (request.method ?? 'get').toUpperCase();
  const span = trace.getTracer('bizon-temporal').startSpan(method, { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method } }, context.active());
  (request as unknown as Record<symbol, Span>)[SPAN] = span;
  // Without tracing the span records nothing: no URL is taken apart for it.
  if (!span.isRecording()) return request;
  try {
    const url = new URL(axios.getUri(request));
    const redact = (session as unknown as Record<symbol, ((text: string) => string) | undefined>)[REDACT] ?? ((text: string) => text);
    span.setAttributes({
      'server.address': url.hostname,
      'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      'url.scheme': url.protocol.replace(/:$/, ''),
      'url.path': redact(url.pathname),
    });
  } catch {
    // A URL axios will refuse anyway: the span keeps the method.
  }
  return request;
}

function endRequestSpan(request: InternalAxiosRequestConfig, status: number | undefined, code?: string): void {
  const span = (request as unknown as Record<symbol, Span | undefined>)[SPAN];
  if (!span) return;
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  if (status === undefined || status >= 400) {
    const type = status !== undefined ? String(status) : (code ?? 'request_failed');
    span.setAttribute('error.type', type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  }
  span.end();
}
