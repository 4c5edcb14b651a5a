import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSync, resolvePipeline } from '../../config/resolve.ts';
import { parsePipelineConfig } from '../../config/pipeline.ts';
import { startExampleApi, type ApiRequest, type ExampleApi } from '../../examples/api/server.ts';
import { RestSource } from '../../sources/rest.ts';
import { testSource } from '../../testing.ts';
import { cliEnv, readExampleConfig, readRows, REST_SOURCE, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';

let api: ExampleApi;
let tokenApi: ExampleApi;
beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: 120, orders: 70, products: 40, events: 33 } });
  tokenApi = await startExampleApi({ datasets: { users: 30 }, token: 'rest-token-5d1e' });
});
afterAll(async () => {
  await api?.close();
  await tokenApi?.close();
});

/** The rest source's `source:` block for one endpoint of the test API. */
const rest = (endpoint: Record<string, unknown>, extra: Record<string, unknown> = {}, url = api.url) => ({
  name: 'rest',
  stream: 'things',
  base_url: url,
  endpoints: { things: endpoint },
  ...extra,
});
const dataOf = (result: Awaited<ReturnType<typeof testSource>>) => result.records.map((record) => record.data);

describe('the declarative rest source (source.name: rest)', () => {
  it('examples/declarative: three differently shaped endpoints sync end to end through the CLI, with no code', async () => {
    const dir = tempDir();
    const config = readExampleConfig('declarative');
    config.name = unique('declarative');
    config.source.base_url = api.url;
    config.engine = { temporal: { task_queue: unique('declarative') } };
    const result = await runBizon(['run', writeConfig(dir, config)], { cwd: dir, env: cliEnv() });
    expect(result.code).toBe(0);
    for (const stream of ['users', 'orders', 'products']) {
      const rows = readRows(path.join(dir, 'output', `rest_${stream}.jsonl`));
      expect(rows.map((row) => row.source_data)).toEqual(api.data[stream]);
      expect(rows.map((row) => row.source_record_id)).toEqual(api.data[stream]!.map((item) => String(item.id)));
    }
  });

  it.each([
    ['page_number', { path: '/users', record_selector: 'items', paginator: { type: 'page_number', page_size: 25 } }, 5],
    ['page_number with total_pages_path', { path: '/total-pages/users', record_selector: 'items', paginator: { type: 'page_number', size_param: 'per_page', page_size: 30, total_pages_path: 'total_pages' } }, 4],
    ['offset', { path: '/offset/users', record_selector: 'items', paginator: { type: 'offset', limit: 50 } }, 3],
    ['cursor in the body', { path: '/cursor/users', record_selector: 'items', paginator: { type: 'cursor', cursor_path: 'next_cursor', size_param: 'limit', page_size: 40 } }, 3],
    ['cursor in a header', { path: '/cursor/users', record_selector: 'items', paginator: { type: 'cursor', cursor_header: 'X-Next-Cursor', size_param: 'limit', page_size: 40 } }, 3],
    ['link_header', { path: '/link/users', params: { limit: 35 }, paginator: { type: 'link_header' } }, 4],
    ['next_url', { path: '/next-url/users', params: { limit: 60 }, record_selector: 'results', paginator: { type: 'next_url' } }, 2],
  ])('paginator %s: every record once, in order', async (_style, endpoint, pages) => {
    const result = await testSource({ source: RestSource, config: rest(endpoint) });
    expect(dataOf(result)).toEqual(api.data.users);
    expect(result.pages).toHaveLength(pages);
  });

  it('writes the same records as the source class of the same API', async () => {
    const declared = await testSource({ source: RestSource, config: rest({ path: '/rest/users', record_selector: 'data', paginator: { type: 'cursor', cursor_path: 'pagination.next_cursor', cursor_param: 'after', size_param: 'limit', page_size: 50 } }) });
    const coded = await testSource({ source: REST_SOURCE, config: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50 } });
    expect(declared.records.map(({ id, data }) => ({ id, data }))).toEqual(coded.records.map(({ id, data }) => ({ id, data })));
    expect(declared.pages.length).toBe(coded.pages.length);
  });

  it('authentication: the configured api_key is sent; without it the API refuses, and the message says so', async () => {
    const endpoint = { path: '/users', record_selector: 'items', paginator: { type: 'page_number', page_size: 100 } };
    const authenticated = rest(endpoint, { authentication: { type: 'api_key', params: { token: 'BIZON_ENV_REST_TOKEN' } } }, tokenApi.url);
    const result = await testSource({ source: RestSource, config: authenticated, env: { BIZON_ENV_REST_TOKEN: 'rest-token-5d1e' } });
    expect(result.records).toHaveLength(30);
    await expect(testSource({ source: RestSource, config: rest(endpoint, {}, tokenApi.url) })).rejects.toThrow(`HTTP 401 from GET ${tokenApi.url}/users?page=1&limit=100`);
  });

  it('incremental: the second run sends the watermark of the first in the configured parameter', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('declarative-incr'),
      source: rest({ path: '/rest/users', record_selector: 'data', paginator: { type: 'cursor', cursor_path: 'pagination.next_cursor', cursor_param: 'after' }, incremental: { param: 'updated_since', cursor_field: 'updated_at' } }, { sync_mode: 'incremental', cursor_field: 'updated_at' }),
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('declarative-incr') } },
    });
    const first = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(first.code).toBe(0);
    const lastRun = /watermark: last_run (\S+)/.exec(first.stderr)![1]!;
    api.touch('users', [17, 18]);
    const mark = api.requests.length;
    const second = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('pages: 1 · records: 2');
    // checkConnection() asks the endpoint once, unfiltered; then the one page of what changed.
    expect(api.requests.slice(mark).filter((request) => request.path === '/rest/users').map((request) => request.query.updated_since)).toEqual([undefined, lastRun]);
    expect(readRows(path.join(dir, 'rest_things.jsonl')).slice(120).map((row) => row.source_record_id)).toEqual(['17', '18']);
  });

  it("a templated filter: run 2 sends the watermark, formatted, inside the API's filter expression; the full read sends no filter", async () => {
    const dir = tempDir();
    const filter = "(updated>'{{ last_run | date: '%Y-%m-%d %H:%M:%S' }}')";
    const config = writeConfig(dir, {
      name: unique('declarative-template'),
      source: rest({ path: '/users', record_selector: 'items', paginator: { type: 'page_number', page_size: 50 }, params: { filter }, incremental: { cursor_field: 'updated_at' } }, { sync_mode: 'incremental', cursor_field: 'updated_at' }),
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('declarative-template') } },
    });
    let mark = api.requests.length;
    const first = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('records: 120');
    expect(api.requests.slice(mark).filter((request) => request.path === '/users').map((request) => request.query.filter)).toEqual([undefined, undefined, undefined, undefined]);
    const lastRun = /watermark: last_run (\S+)/.exec(first.stderr)![1]!;
    api.touch('users', [5, 99]);
    mark = api.requests.length;
    const second = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('pages: 1 · records: 2');
    const expected = `(updated>'${lastRun.slice(0, 19).replace('T', ' ')}')`;
    // checkConnection() asks once, unfiltered; then the one page of what changed.
    expect(api.requests.slice(mark).filter((request) => request.path === '/users').map((request) => request.query.filter)).toEqual([undefined, expected]);
    expect(readRows(path.join(dir, 'rest_things.jsonl')).slice(120).map((row) => row.source_record_id)).toEqual(['5', '99']);
  });

  it('a POST search, GraphQL-shaped: the body templated, the cursor set inside it, has_more_path ends the stream; run 2 sends the watermark in the body', async () => {
    const dir = tempDir();
    const endpoint = {
      path: '/search/users',
      method: 'POST',
      body: { query: 'query Users($after: ID) { search }', variables: { limit: 40, updated_since: '{{ last_run }}' } },
      record_selector: 'data.search.nodes',
      paginator: { type: 'cursor', cursor_path: 'data.search.page_info.end_cursor', has_more_path: 'data.search.page_info.has_next_page', cursor_param: 'variables.after', inject: 'body' },
      incremental: { cursor_field: 'updated_at' },
    };
    const config = writeConfig(dir, {
      name: unique('declarative-search'),
      source: rest(endpoint, { sync_mode: 'incremental', cursor_field: 'updated_at' }),
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('declarative-search') } },
    });
    const searches = (from: number) => api.requests.slice(from).filter((request) => request.path === '/search/users').map((request) => [request.method, request.body]);
    let mark = api.requests.length;
    const first = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('pages: 3 · records: 120');
    const query = endpoint.body.query;
    // checkConnection() posts the body as written; then three pages, the cursor in variables.after; no watermark on a full read.
    expect(searches(mark)).toEqual([
      ['POST', { query, variables: { limit: 40 } }],
      ['POST', { query, variables: { limit: 40 } }],
      ['POST', { query, variables: { limit: 40, after: '40' } }],
      ['POST', { query, variables: { limit: 40, after: '80' } }],
    ]);
    expect(readRows(path.join(dir, 'rest_things.jsonl')).map((row) => row.source_data)).toEqual(api.data.users);
    const lastRun = /watermark: last_run (\S+)/.exec(first.stderr)![1]!;
    api.touch('users', [3, 77]);
    mark = api.requests.length;
    const second = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('pages: 1 · records: 2');
    expect(searches(mark).at(-1)).toEqual(['POST', { query, variables: { limit: 40, updated_since: lastRun } }]);
    expect(readRows(path.join(dir, 'rest_things.jsonl')).slice(120).map((row) => row.source_record_id)).toEqual(['3', '77']);
  });

  it('record_filter keeps the records its condition holds for, paging by what the API returned; response_actions: ignore makes a 404 an empty last page', async () => {
    const filtered = await testSource({ source: RestSource, config: rest({ path: '/users', record_selector: 'items', paginator: { type: 'page_number', page_size: 25 }, record_filter: "{{ record.type != 'click' }}" }) });
    expect(dataOf(filtered)).toEqual(api.data.users!.filter((user) => user.type !== 'click'));
    expect(filtered.pages).toHaveLength(5);
    const missing = await testSource({ source: RestSource, config: rest({ path: '/no-such-stream', record_selector: 'items', response_actions: [{ status: 404, action: 'ignore' }] }) });
    expect(missing.records).toEqual([]);
    expect(missing.pages).toHaveLength(1);
  });

  it('response_actions: a body saying "slow down" waits what it says, a 400 is retried, a 403 fails at once naming the action', async () => {
    const firstPages = (log: readonly ApiRequest[]) => log.filter((request) => request.path === '/events' && request.query.page === '1');
    const flaky = await startExampleApi({
      datasets: { events: 30 },
      fault: (request, log) => {
        if (request.path !== '/events' || request.query.page !== '1') return undefined;
        const before = firstPages(log).length - 1;
        if (request.query.limit === '11') return { status: 403, body: { error: 'not yours' } };
        return before === 0 ? { status: 200, body: { error: 'slow down', retry_in: 1 } } : before === 1 ? { status: 400, body: { error: 'try again' } } : undefined;
      },
    });
    try {
      const dir = tempDir();
      const actions = [
        { when: "{{ response.error == 'slow down' }}", action: 'rate_limited', wait_path: 'retry_in' },
        { status: 400, action: 'retry' },
        { status: 403, action: 'fail' },
      ];
      const configOf = (pageSize: number) =>
        writeConfig(dir, {
          name: unique('response-actions'),
          source: rest({ path: '/events', record_selector: 'items', paginator: { type: 'page_number', page_size: pageSize }, response_actions: actions }, {}, flaky.url),
          destination: { name: 'file', config: { directory: dir } },
          engine: { temporal: { task_queue: unique('response-actions') }, retry: { initial_interval: '100ms' } },
        }, `config-${pageSize}.yml`);
      const ok = await runBizon(['run', configOf(10)], { cwd: dir, env: cliEnv() });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stderr).toContain('records: 30');
      const attempts = firstPages(flaky.requests);
      expect(attempts.map((request) => request.status)).toEqual([200, 400, 200]);
      // The wait the body asked for, at least, before the next attempt.
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1000);
      expect(readRows(path.join(dir, 'rest_things.jsonl')).map((row) => row.source_data)).toEqual(flaky.data.events);

      const mark = flaky.requests.length;
      const refused = await runBizon(['run', configOf(11)], { cwd: dir, env: cliEnv() });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("response_actions of stream 'things' (HTTP 403) says fail");
      expect(firstPages(flaky.requests.slice(mark))).toHaveLength(1);
    } finally {
      await flaky.close();
    }
  });

  it('templates are checked before a run: an unknown name fails `bizon check` with the names that exist, a broken one with what is wrong', async () => {
    const dir = tempDir();
    const checkOf = async (endpoint: Record<string, unknown>) => {
      const file = writeConfig(dir, { name: unique('template-check'), source: rest({ path: '/users', record_selector: 'items', ...endpoint }), destination: { name: 'logger' } });
      return runBizon(['check', file], { cwd: dir, env: cliEnv() });
    };
    const unknown = await checkOf({ params: { since: '{{ last_sync }}' } });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("endpoints.things.params.since");
    expect(unknown.stderr).toContain("uses 'last_sync', which does not exist here; the names that do: last_run, run_started_at, cursor, page, offset, config");
    const broken = await checkOf({ headers: { 'X-Since': '{{ last_run | nope }}' } });
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toContain('undefined filter: nope');
    const windowInPath = await checkOf({ path: '/users/{{ last_run }}' });
    expect(windowInPath.code).not.toBe(0);
    expect(windowInPath.stderr).toContain("uses 'last_run', which does not exist here; the names that do: cursor, page, offset, config");
    const noWatermark = await checkOf({ incremental: { cursor_field: 'updated_at' } });
    expect(noWatermark.code).not.toBe(0);
    expect(noWatermark.stderr).toContain('an incremental stream sends its watermark');
    const badFilter = await checkOf({ record_filter: '{{ item.kind == 1 }}' });
    expect(badFilter.code).not.toBe(0);
    expect(badFilter.stderr).toContain("uses 'item', which does not exist here; the names that do: record, config");
    const notOneExpression = await checkOf({ response_actions: [{ when: "response.error == 'x'", action: 'retry' }] });
    expect(notOneExpression.code).not.toBe(0);
    expect(notOneExpression.stderr).toContain('must be one expression in {{ }}');
    const bodyOnGet = await checkOf({ body: { q: 'x' } });
    expect(bodyOnGet.code).not.toBe(0);
    expect(bodyOnGet.stderr).toContain('a GET has no body: set method: POST');
    const badBodyTemplate = await checkOf({ method: 'POST', body: { filter: { since: '{{ since }}' } } });
    expect(badBodyTemplate.code).not.toBe(0);
    expect(badBodyTemplate.stderr).toContain('endpoints.things.body.filter.since');
    const fine = await checkOf({ params: { since: "{{ last_run | epoch }}", size: '{{ config.stream }}' } });
    expect(fine.stderr).not.toContain('template');
  });

  it('requests_per_second of an endpoint paces its requests: never more than 4 in a second, 8 pages in about 2 s', async () => {
    const pipeline = parsePipelineConfig({ name: 'paced', source: rest({ path: '/users', requests_per_second: 4 }), destination: { name: 'logger' } });
    expect(planSync(resolvePipeline(pipeline, [])).rateLimit).toEqual({ requestsPerSecond: 4 });
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('declarative-paced'),
      // 70 orders, 10 a page: 7 pages, then the empty 8th.
      source: rest({ path: '/orders', record_selector: 'items', paginator: { type: 'page_number', page_param: 'page', size_param: 'limit', page_size: 10 }, requests_per_second: 4 }, { stream: 'things' }),
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('declarative-paced') } },
    });
    const mark = api.requests.length;
    const result = await runBizon(['run', config], { cwd: dir, env: cliEnv() });
    expect(result.code).toBe(0);
    expect(readRows(path.join(dir, 'rest_things.jsonl'))).toHaveLength(70);
    // The page requests of the sync (checkConnection's probe comes before it is paced).
    const pages = api.requests.slice(mark).filter((request) => request.path === '/orders').slice(1);
    expect(pages.map((request) => request.query.page)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
    let busiest = 0;
    for (let start = 0, end = 0; end < pages.length; end++) {
      while (pages[end]!.at - pages[start]!.at >= 1000) start++;
      busiest = Math.max(busiest, end - start + 1);
    }
    expect(busiest).toBeLessThanOrEqual(4);
    expect(pages.at(-1)!.at - pages[0]!.at).toBeGreaterThanOrEqual((7 / 4) * 1000 - 250);
  });

  it("paginator type none: one request, one page, and the stream ends", async () => {
    // 20 of 70 orders a page: the API would serve a second page (?page=2); none never asks for it. It is also the default.
    for (const paginator of [{ paginator: { type: 'none' } }, {}]) {
      const mark = api.requests.length;
      const result = await testSource({ source: RestSource, config: rest({ path: '/orders', params: { page: 1, limit: 20 }, record_selector: 'items', ...paginator }) });
      expect(result.pages).toHaveLength(1);
      expect(result.records).toHaveLength(20);
      expect(api.requests.slice(mark).filter((request) => request.path === '/orders').map((request) => request.query)).toEqual([{ page: '1', limit: '20' }]);
    }
  });

  it('a selector that finds nothing, a missing key and a shape it cannot express fail clearly, pointing to a source class', async () => {
    await expect(testSource({ source: RestSource, config: rest({ path: '/users', record_selector: 'data.items' }) })).rejects.toThrow(
      "record_selector 'data.items' of stream 'things' found nothing in the response of GET",
    );
    await expect(testSource({ source: RestSource, config: rest({ path: '/users', record_selector: 'items', primary_key: 'uuid' }) })).rejects.toThrow(
      "Record 0 from GET", 
    );
    await expect(testSource({ source: RestSource, config: rest({ path: '/users', paginator: { type: 'graphql' } }) })).rejects.toThrow(/source\.endpoints\.things\.paginator\.type: .*page_number/);
    const selector = await testSource({ source: RestSource, config: rest({ path: '/users', record_selector: 'items.0' }) }).catch((error: Error) => error.message);
    expect(selector).toContain('a source class of your own (docs/sources.md)');
    const pipeline = parsePipelineConfig({ name: 'typo', source: rest({ path: '/users' }, { stream: 'thing' }), destination: { name: 'logger' } });
    expect(() => resolvePipeline(pipeline, [])).toThrow("source.stream: 'thing' is not one of endpoints (things)");
  });
});

describe('the rest source keeps credentials with their host', () => {
  /** An API whose first page points its next page at `nextUrl`, and that notes the headers each request brought. */
  async function pointingApi(nextUrl: string): Promise<{ url: string; seen: Array<Record<string, unknown>>; close(): Promise<void> }> {
    const seen: Array<Record<string, unknown>> = [];
    const server = createServer((request, response) => {
      seen.push({ url: request.url, authorization: request.headers.authorization, token: request.headers['x-token'] });
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ results: [{ id: 1 }, { id: 2 }], next: nextUrl }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('a next URL on another origin is refused at once, naming it and allowed_hosts, and gets nothing; listed in allowed_hosts it is followed', async () => {
    const elsewhere = await startExampleApi({ datasets: { users: 120 } });
    const pointing = await pointingApi(`${elsewhere.url}/next-url/users?page=2&limit=60`);
    try {
      const config = rest(
        { path: '/first', record_selector: 'results', paginator: { type: 'next_url' } },
        { headers: { 'X-Token': 'x-token-31f' }, authentication: { type: 'bearer', params: { token: 'bearer-7c2' } } },
        pointing.url,
      );
      const refused = await testSource({ source: RestSource, config }).catch((error: Error) => error);
      expect((refused as Error).message).toBe(
        `The next page of stream 'things' is on ${elsewhere.url}, not on base_url's origin (${pointing.url}): the source sends its credentials only there. If ${elsewhere.url} is the same API, list it in source.api_config.allowed_hosts`,
      );
      expect((refused as Error).name).toBe('NonRetryableError');
      expect(elsewhere.requests).toHaveLength(0);

      const allowed = await testSource({ source: RestSource, config: { ...config, api_config: { allowed_hosts: [elsewhere.url] } } });
      expect(allowed.records.map((record) => record.id)).toEqual(['1', '2', ...elsewhere.data.users!.slice(60).map((item) => String(item.id))]);
      expect(elsewhere.requests.every((request) => request.headers.authorization === 'Bearer bearer-7c2')).toBe(true);
      // A host:port entry works as well as an origin.
      const byHost = await testSource({ source: RestSource, config: { ...config, api_config: { allowed_hosts: [new URL(elsewhere.url).host] } } });
      expect(byHost.records).toHaveLength(2 + 60);
    } finally {
      await pointing.close();
      await elsewhere.close();
    }
  });

  it("the source's own params echoed in a next URL never enter the pagination; every request still sends them", async () => {
    const key = `key-${unique('k')}`;
    const since = api.requests.length;
    const result = await testSource({
      source: RestSource,
      config: rest({ path: '/next-url/users', params: { limit: 50 }, record_selector: 'results', paginator: { type: 'next_url' } }, { params: { api_key: 'BIZON_ENV_REST_KEY' } }),
      env: { BIZON_ENV_REST_KEY: key },
    });
    expect(dataOf(result)).toEqual(api.data.users);
    expect(result.paginations.filter(Boolean)).toHaveLength(2);
    expect(JSON.stringify(result.paginations)).not.toContain(key);
    expect(JSON.stringify(result.paginations)).not.toContain('api_key');
    const requests = api.requests.slice(since).filter((request) => request.path === '/next-url/users');
    expect(requests.map((request) => [request.query.page ?? '1', request.query.api_key, request.query.limit])).toEqual([
      ['1', key, '50'],
      ['2', key, '50'],
      ['3', key, '50'],
    ]);
  });
});
