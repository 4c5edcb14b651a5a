import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthBuilder } from '../../sources/auth.ts';
import { HttpError, NetworkError, NonRetryableError, RateLimitError } from '../../errors.ts';
import { createSession, lastSessionError, parseRetryAfter, redactSessionSpans } from '../../sources/session.ts';
import { freePort } from '../../engine/temporal-server.ts';

let server: Server;
let url: string;
const seen: Array<Record<string, string | undefined>> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ authorization: req.headers.authorization, cookie: req.headers.cookie, path: req.url });
    const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? 200);
    if (req.url?.startsWith('/slow')) return void setTimeout(() => res.end('{}'), 2000);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 429) headers['retry-after'] = '7';
    res.writeHead(status, headers);
    res.end(JSON.stringify({ status, message: 'x'.repeat(status === 500 ? 1000 : 10) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('this.session', () => {
  it('throws HttpError with status, URL and a body excerpt on 4xx', async () => {
    const session = createSession({ timeoutMs: 1000 });
    const error = await failureOf(session.get(`${url}/items`, { params: { status: 404, page: 2 } }));
    expect(error).toBeInstanceOf(HttpError);
    expect(error.message).toBe(`HTTP 404 from GET ${url}/items?status=404&page=2: {"status":404,"message":"xxxxxxxxxx"}`);
    expect((error as HttpError).retryable).toBe(false);
    expect(lastSessionError(session)).toBe(error);
  });

  it('keeps only an excerpt of a long body, and marks 5xx retryable', async () => {
    const error = (await failureOf(createSession({ timeoutMs: 1000 }).get(`${url}/x?status=500`))) as HttpError;
    expect(error.bodyExcerpt.length).toBeLessThanOrEqual(301);
    expect(error.retryable).toBe(true);
  });

  it('turns 429 into RateLimitError with Retry-After', async () => {
    const error = await failureOf(createSession({ timeoutMs: 1000 }).get(`${url}/x?status=429`));
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBe(7000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('turns timeouts and refused connections into NetworkError', async () => {
    const timeout = await failureOf(createSession({ timeoutMs: 200 }).get(`${url}/slow`));
    expect(timeout).toBeInstanceOf(NetworkError);
    expect(timeout.message).toContain(`calling ${url}/slow`);
    const refused = await failureOf(createSession({ timeoutMs: 1000 }).get(`http://127.0.0.1:${await freePort()}/x`));
    expect(refused).toBeInstanceOf(NetworkError);
    expect((refused as NetworkError).code).toBe('ECONNREFUSED');
  });

  it.each([
    [{ type: 'api_key', params: { token: 't1' } }, { authorization: 'Bearer t1' }],
    [{ type: 'bearer', params: { token: 't2', auth_method: 'Token' } }, { authorization: 'Token t2' }],
    [{ type: 'basic', params: { username: 'u', password: 'p' } }, { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }],
    [{ type: 'cookies', params: { cookies: { session: 's1', lang: 'en' } } }, { cookie: 'session=s1; lang=en' }],
  ])('applies %j', async (auth, expected) => {
    const session = createSession({ timeoutMs: 1000, authenticator: () => AuthBuilder.fromConfig(auth) });
    await session.get(`${url}/auth`);
    expect(seen.at(-1)).toMatchObject(expected);
  });

  it('a response larger than its limit fails the page at once, naming the URL and api_config.max_response_mb', async () => {
    const session = createSession({ timeoutMs: 5000, maxBytes: 1024 * 1024 });
    // The 500 body is ~1 KB: well under. A 2 MB one is refused whatever the attempt.
    await expect(session.get(`${url}/?status=200`)).resolves.toMatchObject({ status: 200 });
    const big = createServer((_req, res) => res.end(JSON.stringify({ items: 'x'.repeat(2 * 1024 * 1024) })));
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
    const bigUrl = `http://127.0.0.1:${(big.address() as AddressInfo).port}/huge?page=1`;
    try {
      const error = await failureOf(session.get(bigUrl));
      expect(error).toBeInstanceOf(NonRetryableError);
      expect(error.message).toBe(`GET ${bigUrl} answered larger than api_config.max_response_mb (1 MB): raise it, or ask for smaller pages`);
    } finally {
      await new Promise<void>((resolve) => big.close(() => resolve()));
    }
  });

  it("sends the authenticator's credentials only to the origin of its first request, and the allowed hosts", async () => {
    const other = createServer((req, res) => res.end(JSON.stringify({ authorization: req.headers.authorization ?? null })));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const authenticator = () => AuthBuilder.fromConfig({ type: 'bearer', params: { token: 'tok-home' } });
      const session = createSession({ timeoutMs: 5000, authenticator });
      await session.get(`${url}/?status=200`);
      const error = await failureOf(session.get(`${otherUrl}/steal`));
      expect(error).toBeInstanceOf(NonRetryableError);
      expect(error.message).toBe(
        `this.session was asked for ${otherUrl}, not the origin of its first request (${url}): it sends the source's credentials only there. If ${otherUrl} is the same API, list it in source.api_config.allowed_hosts`,
      );
      const allowing = createSession({ timeoutMs: 5000, authenticator, allowedHosts: [new URL(otherUrl).host] });
      await allowing.get(`${url}/?status=200`);
      expect((await allowing.get(`${otherUrl}/fine`)).data).toEqual({ authorization: 'Bearer tok-home' });
      // Without credentials there is nothing to keep: any origin.
      expect((await createSession({ timeoutMs: 5000 }).get(`${otherUrl}/open`)).data).toEqual({ authorization: null });
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('applies an async custom authenticator', async () => {
    const session = createSession({
      timeoutMs: 1000,
      authenticator: () => ({
        async apply(request) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          request.headers.set('Authorization', 'Signed abc');
          return request;
        },
      }),
    });
    await session.get(`${url}/signed`);
    expect(seen.at(-1)?.authorization).toBe('Signed abc');
  });
});

describe('the spans of this.session (OpenTelemetry)', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(() => trace.disable());

  it('one client span per request: method, host, port, path with secrets hidden; status; never the query string', async () => {
    exporter.reset();
    const session = createSession({ timeoutMs: 1000 });
    redactSessionSpans(session, (text) => text.split('bot-s3cr3t').join('***'));
    await session.get(`${url}/bot-s3cr3t/items`, { params: { api_key: 'k-123', page: 2 } });
    await failureOf(session.get(`${url}/items?status=503&api_key=k-123`));
    await failureOf(session.get(`http://127.0.0.1:${await freePort()}/down`));
    const spans = exporter.getFinishedSpans();
    const port = Number(new URL(url).port);
    expect(spans.map((span) => [span.name, span.kind, span.attributes])).toEqual([
      ['GET', SpanKind.CLIENT, { 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': port, 'url.scheme': 'http', 'url.path': '/***/items', 'http.response.status_code': 200 }],
      ['GET', SpanKind.CLIENT, { 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': port, 'url.scheme': 'http', 'url.path': '/items', 'http.response.status_code': 503, 'error.type': '503' }],
      ['GET', SpanKind.CLIENT, expect.objectContaining({ 'url.path': '/down', 'error.type': 'ECONNREFUSED' })],
    ]);
    expect(spans.map((span) => span.status.code)).toEqual([SpanStatusCode.UNSET, SpanStatusCode.ERROR, SpanStatusCode.ERROR]);
    expect(JSON.stringify(spans.map((span) => span.attributes))).not.toMatch(/k-123|s3cr3t|page=/);
  });
});
