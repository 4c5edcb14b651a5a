/**
 * A small local HTTP API for the examples and the tests: deterministic
 * datasets served with each pagination style of the seed, optional token
 * auth, signed requests, an updated-since filter, a request log, and fault
 * injection. `npx bizon example-api` starts it on 127.0.0.1:8765.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One item of a dataset. */
export interface ApiItem {
  id: number;
  name: string;
  type: string;
  updated_at: string;
  [key: string]: unknown;
}

/** One request the API received. */
export interface ApiRequest {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  /** The JSON body of a POST. */
  body?: unknown;
  status: number;
}

/** A hold on some data requests, made by {@link ExampleApi.hold}. */
export interface ApiHold {
  /** Resolves with the first held request, once it has arrived. */
  reached: Promise<ApiRequest>;
  /** Answers the held requests, and lets later matching ones through. */
  release(): void;
}

/** What the fault injector decides for a request: answer normally, or with this status/body/headers, or hang. */
export type Fault = { status: number; body?: unknown; headers?: Record<string, string> } | { hangMs: number } | undefined;

export interface ExampleApiOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Number of items per stream (default: users 250, orders 120, products 40, events 90). */
  datasets?: Record<string, number>;
  /** When set, data endpoints require `Authorization: Bearer <token>`. */
  token?: string;
  /** When set, `/signed/...` requires `X-API-Key: <apiKey>` and an HMAC-SHA256 `X-Signature` made with `apiSecret`. */
  signing?: { apiKey: string; apiSecret: string };
  /**
   * When set, `POST /oauth/token` issues tokens that live `lifetimeSeconds`
   * (client-credentials grant, or refresh-token grant with `refreshToken`), and
   * data endpoints require a live one.
   */
  oauth?: { clientId: string; clientSecret: string; refreshToken?: string; lifetimeSeconds: number };
  /** Delay before each data answer, in milliseconds. */
  latencyMs?: number;
  /** Called before each data request; returns a fault to inject, or undefined. */
  fault?: (request: ApiRequest, log: readonly ApiRequest[]) => Fault;
}

export interface ExampleApi {
  url: string;
  /** Every request received, in order. */
  requests: ApiRequest[];
  /** The datasets, by stream; tests change items through {@link ExampleApi.touch}. */
  data: Record<string, ApiItem[]>;
  /** Marks items as changed now (their `updated_at` moves to the current time). */
  touch(stream: string, ids: number[]): void;
  /**
   * Keeps data requests that `matches` selects unanswered until `release()`:
   * a test decides when a page comes back instead of racing the machine's speed.
   */
  hold(matches: (request: ApiRequest) => boolean): ApiHold;
  close(): Promise<void>;
}

const DEFAULT_DATASETS: Record<string, number> = { users: 250, orders: 120, products: 40, events: 90 };
const EVENT_TYPES = ['click', 'view', 'purchase'];
const BASE_TIME = Date.UTC(2024, 0, 1);

function makeItems(stream: string, count: number): ApiItem[] {
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1;
    return {
      id,
      name: `${stream.replace(/s$/, '')}-${id}`,
      type: EVENT_TYPES[id % EVENT_TYPES.length]!,
      updated_at: new Date(BASE_TIME + id * 60_000).toISOString(),
      value: (id * 7919) % 1000,
    };
  });
}

/** The signature the `/signed` endpoints expect: HMAC-SHA256 of `METHOD path?query` with the secret, hex. */
export function signRequest(secret: string, method: string, pathWithQuery: string): string {
  return createHmac('sha256', secret).update(`${method.toUpperCase()} ${pathWithQuery}`).digest('hex');
}

async function readBody(request: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readText(request));
}

async function readText(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

const STYLES = new Set(['page', 'cursor', 'offset', 'total-pages', 'rest', 'signed', 'link', 'next-url', 'search']);

/** Starts the example API on 127.0.0.1. */
export async function startExampleApi(options: ExampleApiOptions = {}): Promise<ExampleApi> {
  const data: Record<string, ApiItem[]> = {};
  for (const [stream, count] of Object.entries({ ...DEFAULT_DATASETS, ...options.datasets })) data[stream] = makeItems(stream, count);
  const requests: ApiRequest[] = [];
  const holds = new Set<{ matches: (request: ApiRequest) => boolean; arrive: (request: ApiRequest) => void; released: Promise<void>; release: () => void }>();
  /** Issued OAuth access tokens and when each expires. */
  const issued = new Map<string, number>();

  const issueToken = (form: URLSearchParams, reply: (status: number, body: unknown) => void) => {
    const oauth = options.oauth;
    if (!oauth) return reply(404, { error: 'no OAuth here' });
    if (form.get('client_id') !== oauth.clientId || form.get('client_secret') !== oauth.clientSecret) {
      return reply(400, { error: 'invalid_client', error_description: 'client authentication failed' });
    }
    const grant = form.get('grant_type');
    if (grant === 'refresh_token' ? form.get('refresh_token') !== oauth.refreshToken : grant !== 'client_credentials') {
      return reply(400, { error: 'invalid_grant', error_description: `grant ${grant} refused` });
    }
    const token = `access-${issued.size + 1}-${Math.random().toString(36).slice(2)}`;
    issued.set(token, Date.now() + oauth.lifetimeSeconds * 1000);
    return reply(200, { access_token: token, token_type: 'Bearer', expires_in: oauth.lifetimeSeconds });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams.entries());
    const entry: ApiRequest = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      headers: { authorization: req.headers.authorization, 'x-api-key': req.headers['x-api-key'] as string | undefined },
      status: 200,
    };
    requests.push(entry);
    const reply = (status: number, body: unknown, headers?: Record<string, string>) => {
      entry.status = status;
      send(res, status, body, headers);
    };

    if (url.pathname === '/health' || url.pathname.endsWith('/health')) return reply(200, { status: 'ok' });
    if (url.pathname === '/oauth/token' && req.method === 'POST') return issueToken(await readBody(req), reply);
    if (req.method === 'POST') {
      try {
        entry.body = JSON.parse((await readText(req)) || 'null');
      } catch (error) {
        return reply(400, { error: `the body is not JSON: ${String(error)}` });
      }
    }

    for (const hold of holds) {
      if (!hold.matches(entry)) continue;
      hold.arrive(entry);
      await hold.released;
    }
    if (options.latencyMs) await sleep(options.latencyMs);
    const fault = options.fault?.(entry, requests);
    if (fault && 'hangMs' in fault) {
      await sleep(fault.hangMs);
      if (res.destroyed) return;
    } else if (fault) {
      return reply(fault.status, fault.body ?? { error: `injected ${fault.status}` }, fault.headers);
    }

    const parts = url.pathname.split('/').filter(Boolean);
    const style = parts.length > 1 && STYLES.has(parts[0]!) ? parts.shift()! : 'page';
    const stream = parts[0] ?? '';
    const items = data[stream];
    if (!items) return reply(404, { error: `unknown stream '${stream}'`, streams: Object.keys(data) });

    if (style === 'signed') {
      const signing = options.signing;
      const expected = signing ? signRequest(signing.apiSecret, entry.method, `${url.pathname}${url.search}`) : undefined;
      if (!signing || req.headers['x-api-key'] !== signing.apiKey || req.headers['x-signature'] !== expected) {
        return reply(401, { error: 'invalid API key or signature' });
      }
    } else if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      return reply(401, { error: 'invalid or missing token' });
    } else if (options.oauth) {
      const expiresAt = issued.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (expiresAt === undefined) return reply(401, { error: 'invalid or missing token' });
      if (Date.now() >= expiresAt) return reply(401, { error: 'token expired' });
    }

    if (parts[1] === 'count') return reply(200, { total: items.length });

    // updated_since is exclusive, updated_until inclusive: consecutive ranges (a, b], (b, c] never share an item.
    // Or the filter expression of APIs that take one parameter: filter=(updated>'YYYY-MM-DD HH:MM:SS'), in UTC.
    const expression = query.filter === undefined ? undefined : /^\(updated>'(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)'\)$/.exec(query.filter);
    if (query.filter !== undefined && !expression) return reply(400, { error: `filter must be (updated>'YYYY-MM-DD HH:MM:SS'), got ${query.filter}` });
    const since = query.updated_since ? Date.parse(query.updated_since) : expression ? Date.parse(`${expression[1]!.replace(' ', 'T')}Z`) : undefined;
    const until = query.updated_until ? Date.parse(query.updated_until) : undefined;
    const visible = items.filter((item) => (since === undefined || Date.parse(item.updated_at) > since) && (until === undefined || Date.parse(item.updated_at) <= until));
    const limit = Math.max(1, Number(query.limit ?? query.per_page ?? 100));
    switch (style) {
      case 'page':
      case 'signed': {
        const page = Math.max(1, Number(query.page ?? 1));
        return reply(200, { items: visible.slice((page - 1) * limit, page * limit) });
      }
      case 'total-pages': {
        const page = Math.max(1, Number(query.page ?? 1));
        return reply(200, { items: visible.slice((page - 1) * limit, page * limit), total_pages: Math.max(1, Math.ceil(visible.length / limit)) });
      }
      case 'offset': {
        const offset = Math.max(0, Number(query.offset ?? 0));
        return reply(200, { items: visible.slice(offset, offset + limit) });
      }
      case 'link':
      case 'next-url': {
        // The next page is a whole URL: in a Link header (rel="next"), or in the body's `next`.
        const page = Math.max(1, Number(query.page ?? 1));
        const items = visible.slice((page - 1) * limit, page * limit);
        const nextUrl = page * limit < visible.length ? `http://${req.headers.host}${url.pathname}?${new URLSearchParams({ ...query, page: String(page + 1) })}` : null;
        if (style === 'next-url') return reply(200, { results: items, next: nextUrl });
        return reply(200, items, nextUrl ? { link: `<${nextUrl}>; rel="next"` } : {});
      }
      case 'search': {
        // A search API: POST a JSON body { limit, after, updated_since } (or GraphQL's { query, variables: {…} }); the
        // answer is shaped like GraphQL's connections (the last page still has an end_cursor: has_next_page says
        // there is no more).
        if (entry.method !== 'POST') return reply(405, { error: 'search takes a POST with a JSON body' });
        type Search = { limit?: number; after?: string; updated_since?: string; variables?: Search };
        const body = ((entry.body as Search | null)?.variables ?? entry.body ?? {}) as Search;
        const changedSince = body.updated_since ? Date.parse(body.updated_since) : undefined;
        const rest = visible.filter((item) => item.id > Number(body.after ?? 0) && (changedSince === undefined || Date.parse(item.updated_at) > changedSince));
        const page = rest.slice(0, Math.max(1, Number(body.limit ?? 100)));
        const endCursor = page.length > 0 ? String(page[page.length - 1]!.id) : (body.after ?? null);
        return reply(200, { data: { search: { nodes: page, page_info: { end_cursor: endCursor, has_next_page: rest.length > page.length } } } });
      }
      case 'cursor':
      case 'rest': {
        const after = Number(query.cursor ?? query.after ?? 0);
        const rest = visible.filter((item) => item.id > after);
        const page = rest.slice(0, limit);
        const next = rest.length > limit ? String(page[page.length - 1]!.id) : null;
        // The cursor style also says the next cursor in a header, for clients that read it there.
        return style === 'cursor' ? reply(200, { items: page, next_cursor: next }, next ? { 'x-next-cursor': next } : {}) : reply(200, { data: page, pagination: { next_cursor: next } });
      }
    }
    return reply(404, { error: 'not found' });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    data,
    touch(stream, ids) {
      const now = new Date().toISOString();
      for (const item of data[stream] ?? []) if (ids.includes(item.id)) item.updated_at = now;
    },
    hold(matches) {
      let arrive!: (request: ApiRequest) => void;
      let release!: () => void;
      const reached = new Promise<ApiRequest>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      const hold = { matches, arrive, released, release: () => (holds.delete(hold), release()) };
      holds.add(hold);
      return { reached, release: hold.release };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const hold of holds) hold.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
