import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { cliEnv, PAGE_SOURCE, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';

const TOKEN = 'trace-token-5e1d';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  service: unknown;
  resource: Record<string, unknown>;
}

/** A stand-in for an OpenTelemetry collector: takes OTLP/HTTP JSON on /v1/traces and keeps what it got. */
async function startCollector(): Promise<{ url: string; spans: ReceivedSpan[]; bodies: string[]; headers: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      bodies.push(`${request.method} ${request.url} ${request.headers['content-type']} ${body}`);
      headers.push(request.headers);
      if (request.url === '/v1/traces') {
        const payload = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: Attr[] }; scopeSpans: Array<{ spans: Array<Record<string, any>> }> }> };
        for (const resourceSpans of payload.resourceSpans) {
          const resource = attributesOf(resourceSpans.resource.attributes);
          for (const scope of resourceSpans.scopeSpans) {
            for (const span of scope.spans) {
              spans.push({ traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId || undefined, name: span.name, kind: span.kind, attributes: attributesOf(span.attributes ?? []), events: (span.events ?? []).map((event: { name: string; attributes?: Attr[] }) => ({ name: event.name, attributes: attributesOf(event.attributes ?? []) })), service: resource['service.name'], resource });
            }
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, spans, bodies, headers, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

type Attr = { key: string; value: Record<string, unknown> };
function attributesOf(attributes: Attr[]): Record<string, unknown> {
  return Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]));
}

let api: ExampleApi | undefined;
let collector: Awaited<ReturnType<typeof startCollector>> | undefined;
afterEach(async () => {
  await api?.close();
  await collector?.close();
});

/** A pipeline of the 25 users behind the token (three pages), in a directory of its own. */
function syncOfTokenUsers(label: string): { dir: string; file: string } {
  const dir = tempDir();
  const file = writeConfig(dir, {
    name: unique(label),
    source: { name: 'my_source', stream: 'users', api_url: api!.url, page_size: 10, authentication: { type: 'api_key', params: { token: 'BIZON_ENV_TRACE_TOKEN' } } },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: unique(label) } },
  });
  return { dir, file };
}

describe('OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('bizon run exports one trace: the start, the workflow, each activity, each page and each HTTP request, linked parent to child; no token, no query string', async () => {
    api = await startExampleApi({ datasets: { users: 25 }, token: TOKEN });
    collector = await startCollector();
    const { dir, file } = syncOfTokenUsers('traced');
    const result = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv({ BIZON_ENV_TRACE_TOKEN: TOKEN, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'sync-fleet' }) });
    expect(result.stderr).toContain('25 records');
    expect(result.code).toBe(0);

    // bizon run starts the stream's run (bizonPipeline) with an update that answers once its sync has started.
    const [start] = collector.spans.filter((span) => span.name === 'UpdateWithStartWorkflow:streamsStarted');
    expect(start?.parentSpanId).toBeUndefined();
    // The sync's trace; the only other is the command's last read of the stream's state, after the sync.
    const spans = collector.spans.filter((span) => span.traceId === start!.traceId);
    expect(collector.spans.filter((span) => span.traceId !== start!.traceId).map((span) => span.name)).toEqual(expect.arrayContaining(['StartWorkflowUpdate:readStreamState']));
    expect(collector.spans.filter((span) => span.traceId !== start!.traceId && !/ReadStreamState$|:readStreamState$/.test(span.name))).toEqual([]);
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const parentOf = (span: ReceivedSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);
    const named = (name: string) => spans.filter((span) => span.name === name);

    expect(new Set(collector.spans.map((span) => span.service))).toEqual(new Set(['sync-fleet']));
    const [pipelineRun] = named('RunWorkflow:bizonPipeline');
    expect(parentOf(pipelineRun!)).toBe(start);
    expect(parentOf(named('RunActivity:compilePipeline')[0]!)?.name).toBe('StartActivity:compilePipeline');
    const [run] = named('RunWorkflow:syncWorkflow');
    expect(parentOf(run!)?.name).toBe('StartChildWorkflow:syncWorkflow');
    expect(parentOf(parentOf(run!)!)).toBe(pipelineRun);

    // Three pages (10, 10, 5), each read under an activity of the workflow, each with its one request.
    const pages = named('bizon.page').sort((a, b) => Number(a.attributes['bizon.iteration']) - Number(b.attributes['bizon.iteration']));
    expect(pages.map((page) => [Number(page.attributes['bizon.iteration']), Number(page.attributes['bizon.records'])])).toEqual([
      [1, 10],
      [2, 10],
      [3, 5],
    ]);
    for (const page of pages) {
      const activity = parentOf(page)!;
      expect(activity.name).toMatch(/^RunActivity:extractPages?$/);
      let ancestor: ReceivedSpan | undefined = activity;
      while (ancestor && ancestor !== run) ancestor = parentOf(ancestor);
      expect(ancestor).toBe(run);
      expect(page.attributes['bizon.stream']).toBe('users');
    }
    const requests = spans.filter((span) => span.name === 'GET' && span.attributes['url.path'] === '/users');
    expect(requests).toHaveLength(3);
    for (const request of requests) {
      expect(pages).toContain(parentOf(request));
      expect(request.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': Number(new URL(api.url).port), 'http.response.status_code': 200 });
      expect(request.kind).toBe(3); // CLIENT
    }
    expect(named('bizon.stage')).toHaveLength(3);
    // The stream's state, signalled by an activity, continues the trace.
    expect(parentOf(parentOf(named('HandleSignal:recordStreamState')[0]!)!)?.name).toBe('RunActivity:recordStreamState');

    const received = collector.bodies.join('\n');
    expect(received).not.toContain(TOKEN);
    expect(received).not.toMatch(/page=|page_size=/);
  });

  it("a failed page's span says the error's class, its request's span the HTTP status; neither says the message", async () => {
    // Page 2 answers 503 once, with a body that must not reach the collector; the retry reads it.
    api = await startExampleApi({
      datasets: { users: 25 },
      token: TOKEN,
      fault: (request, log) => (request.path === '/users' && request.query.page === '2' && log.filter((entry) => entry.query.page === '2').length === 1 ? { status: 503, body: 'overloaded-secret-detail' } : undefined),
    });
    collector = await startCollector();
    const { dir, file } = syncOfTokenUsers('traced-failure');
    const result = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv({ BIZON_ENV_TRACE_TOKEN: TOKEN, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }) });
    expect(result.stderr).toContain('25 records');
    expect(result.code).toBe(0);
    const failedRequests = collector.spans.filter((span) => span.name === 'GET' && span.attributes['http.response.status_code'] === 503);
    expect(failedRequests.map((span) => span.attributes['error.type'])).toEqual(['503']);
    const failedPages = collector.spans.filter((span) => span.name === 'bizon.page' && span.attributes['error.type'] !== undefined);
    expect(failedPages.map((span) => [span.attributes['bizon.iteration'], span.attributes['error.type']])).toEqual([[2, 'HttpError']]);
    // Temporal's activity span records the failure too: its type, never its message (URL, query string, body).
    const failedActivity = collector.spans.find((span) => span.name === 'RunActivity:extractPage' && span.events.length > 0);
    expect(failedActivity?.events.map((event) => [event.name, event.attributes])).toEqual([['exception', { 'exception.type': 'ApplicationFailure' }]]);
    const received = collector.bodies.join('\n');
    expect(received).not.toContain('overloaded-secret-detail');
    expect(received).not.toMatch(/page=|limit=/);
  });

  it("the exporter's variables: a traces endpoint, headers and resource attributes apply; OTEL_SDK_DISABLED=true sends nothing", async () => {
    api = await startExampleApi({ datasets: { users: 25 }, token: TOKEN });
    collector = await startCollector();
    const { dir, file } = syncOfTokenUsers('traced-env');
    const env = { BIZON_ENV_TRACE_TOKEN: TOKEN, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/v1/traces`, OTEL_EXPORTER_OTLP_HEADERS: 'x-vendor-key=vk-81d2', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=staging,team=data' };
    const result = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv(env) });
    expect(result.code).toBe(0);
    expect(collector.spans.length).toBeGreaterThan(0);
    expect(collector.headers.every((headers) => headers['x-vendor-key'] === 'vk-81d2')).toBe(true);
    for (const span of collector.spans) expect(span.resource).toMatchObject({ 'service.name': 'bizon-temporal', 'deployment.environment': 'staging', team: 'data' });

    const received = collector.bodies.length;
    const disabled = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv({ ...env, OTEL_SDK_DISABLED: 'true' }) });
    expect(disabled.code).toBe(0);
    expect(disabled.stderr).toContain('25 records');
    expect(collector.bodies.length).toBe(received);
  });

  it('a collector that is down neither fails nor holds up the sync', async () => {
    api = await startExampleApi({ datasets: { users: 25 }, token: TOKEN });
    const { dir, file } = syncOfTokenUsers('untraced');
    // A port nothing listens on: connections are refused.
    const down = await startCollector();
    await down.close();
    // The same sync without traces, side by side: what a down collector may add is the 5 s bound on the last export.
    const untraced = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv({ BIZON_ENV_TRACE_TOKEN: TOKEN }) });
    expect(untraced.code).toBe(0);
    const result = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv({ BIZON_ENV_TRACE_TOKEN: TOKEN, OTEL_EXPORTER_OTLP_ENDPOINT: down.url }) });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('25 records');
    expect(result.stderr).toContain(`Warning: traces could not be sent to ${down.url}: connect ECONNREFUSED`);
    expect(result.durationMs - untraced.durationMs).toBeLessThan(5000 + 4000);
  });
});
