/**
 * Reading the declarative `rest` source's responses: paths into a body, Link headers, and `response_actions`.
 */
import { NonRetryableError, RateLimitError } from '../errors.ts';
import type { SourceIteration } from './models.ts';
import type { ResponseAction, RestSourceConfig } from './rest-config.ts';
import type { StreamRef } from './rest-parents.ts';
import { conditionHolds } from './rest-templates.ts';
import { parseRetryAfter } from './session.ts';

/** The value at a dot path (`data.items`) of a JSON body; '' is the body itself. */
export function at(body: unknown, dotPath: string): unknown {
  if (dotPath === '') return body;
  return dotPath.split('.').reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), body);
}

export function describeBody(body: unknown): string {
  if (Array.isArray(body)) return 'an array';
  if (body !== null && typeof body === 'object') return `an object with keys ${Object.keys(body).slice(0, 8).join(', ') || '(none)'}`;
  return typeof body;
}

/** A body excerpt as JSON, when it is JSON. */
export function parseJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** The rel="next" URL of a Link header. */
export function nextLink(header: unknown): string | undefined {
  for (const part of String(header ?? '').split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (match) return match[1];
  }
  return undefined;
}

/** The first of the stream's `response_actions` that matches a response. */
export function matchResponseAction(stream: StreamRef, status: number, body: unknown, config: RestSourceConfig): ResponseAction | undefined {
  return stream.endpoint.response_actions?.find((action) => {
    const statuses = action.status === undefined ? undefined : [action.status].flat();
    if (statuses && !statuses.includes(status)) return false;
    return action.when === undefined || conditionHolds(action.when, { response: body ?? null, status, config });
  });
}

/** Does what a response action says: an empty last page, or the error that retries, fails or waits as told. */
export function applyResponseAction(stream: StreamRef, action: ResponseAction, response: { status: number; body: unknown; headers: Record<string, unknown>; message: string }): SourceIteration {
  const what = `response_actions of stream '${stream.name}' (HTTP ${response.status})`;
  switch (action.action) {
    case 'ignore':
      return { records: [], nextPagination: {} };
    case 'fail':
      throw new NonRetryableError(`${what} says fail: ${response.message}`);
    case 'retry':
      throw new Error(`${what} says retry: ${response.message}`);
    case 'rate_limited': {
      const header = action.wait_header ? response.headers[action.wait_header.toLowerCase()] : undefined;
      const seconds = action.wait_path ? Number(at(response.body, action.wait_path)) : undefined;
      const retryAfterMs = header !== undefined ? parseRetryAfter(String(header)) : seconds !== undefined && Number.isFinite(seconds) ? seconds * 1000 : undefined;
      throw new RateLimitError(`${what} says rate limited${retryAfterMs !== undefined ? `, wait ${Math.ceil(retryAfterMs / 1000)} s` : ''}: ${response.message}`, { ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
  }
}
