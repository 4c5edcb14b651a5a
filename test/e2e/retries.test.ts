import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { describeFailure } from '../../cli/failure.ts';
import { startExampleApi, type ApiRequest, type ExampleApi, type Fault } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { PAGE_SOURCE, quietWorkerLogs, readRows, tempDir, startTestEngine, unique, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

let engine: TestEngine;
let client: Client;
let taskQueue: string;
const apis: ExampleApi[] = [];

beforeAll(async () => {
  engine = await startTestEngine([PAGE_SOURCE], 'retries');
  ({ client, taskQueue } = engine);
});
afterAll(async () => {
  await engine?.stop();
  for (const api of apis) await api.close();
});

/** An API whose `users` stream (95 records, 10 pages of up to 10) answers `fault` for some requests. */
async function faultyApi(fault: (request: ApiRequest, log: readonly ApiRequest[]) => Fault): Promise<ExampleApi> {
  const api = await startExampleApi({ datasets: { users: 95 }, fault });
  apis.push(api);
  return api;
}

function attemptsOf(requests: readonly ApiRequest[], page: number): ApiRequest[] {
  return requests.filter((request) => request.path === '/users' && Number(request.query.page) === page);
}

async function sync(api: ExampleApi, extra: { source?: Record<string, unknown>; engine?: Record<string, unknown> } = {}) {
  const dir = tempDir();
  const started = await startSync(client, {
    config: {
      name: unique('retries'),
      source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10, ...extra.source },
      destination: { name: 'file', config: { directory: dir } },
      engine: { retry: { initial_interval: '100ms', maximum_interval: '1s' }, ...extra.engine },
    },
    customSourceFiles: [PAGE_SOURCE],
    taskQueue,
  });
  return { started, dir, ids: () => readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id)) };
}

const allIds = Array.from({ length: 95 }, (_, index) => index + 1);

describe('what Temporal does with each failure', () => {
  it('429 with Retry-After: the page is retried no sooner than announced', async () => {
    const api = await faultyApi((request, log) =>
      request.query.page === '2' && attemptsOf(log, 2).length === 1
        ? { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '1' } }
        : undefined,
    );
    const { started, ids } = await sync(api);
    const result = (await started.handle.result()) as SyncResult;
    expect(result.records).toBe(95);
    expect(ids()).toEqual(allIds);
    const [limited, retried] = attemptsOf(api.requests, 2);
    expect(limited!.status).toBe(429);
    expect(retried!.status).toBe(200);
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(1000);
  });

  it('5xx and timeouts: retried with backoff until the page succeeds, each record once', async () => {
    const api = await faultyApi((request, log) => {
      const attempt = attemptsOf(log, Number(request.query.page)).length;
      if (request.query.page === '3' && attempt <= 2) return { status: 503 };
      if (request.query.page === '5' && attempt === 1) return { hangMs: 1500 };
      return undefined;
    });
    const { started, ids } = await sync(api, { source: { api_config: { request_timeout: 0.5 } } });
    const result = (await started.handle.result()) as SyncResult;
    expect(result.records).toBe(95);
    expect(ids()).toEqual(allIds);
    expect(attemptsOf(api.requests, 3).map((request) => request.status)).toEqual([503, 503, 200]);
    expect(attemptsOf(api.requests, 5)).toHaveLength(2);
  });

  it('api_config.retry_limit bounds the attempts of a page, then the sync fails with the last error', async () => {
    const api = await faultyApi((request) => (request.query.page === '2' ? { status: 500, body: { error: 'database on fire' } } : undefined));
    const { started } = await sync(api, { source: { api_config: { retry_limit: 3 } } });
    const error = await started.handle.result().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = describeFailure(error);
    expect(failure.message).toBe(`HTTP 500 from GET ${api.url}/users?page=2&limit=10: {"error":"database on fire"}`);
    expect(failure.details).toContain('in activity extractPage (gave up after api_config.retry_limit attempts)');
    expect(attemptsOf(api.requests, 2)).toHaveLength(3);
  });

  it('engine.retry.max_elapsed bounds the time a page may spend retrying, then the sync fails with the last error', async () => {
    const api = await faultyApi((request) => (request.query.page === '2' ? { status: 502, body: { error: 'bad gateway' } } : undefined));
    const started = Date.now();
    const { started: running } = await sync(api, { source: { api_config: { retry_limit: 1000 } }, engine: { retry: { initial_interval: '200ms', maximum_interval: '500ms', max_elapsed: '3s' } } });
    const error = await running.handle.result().catch((caught: unknown) => caught);
    const elapsed = Date.now() - started;
    const failure = describeFailure(error);
    expect(failure.message).toBe(`HTTP 502 from GET ${api.url}/users?page=2&limit=10: {"error":"bad gateway"}`);
    expect(failure.details).toContain('in activity extractPage (gave up: engine.retry.max_elapsed (the time budget of its attempts) was spent)');
    expect(elapsed).toBeLessThan(15_000);
    expect(attemptsOf(api.requests, 2).length).toBeGreaterThan(3);
  });

  it('a second start of the same (name, source, stream) attaches to the running sync', async () => {
    const api = await faultyApi(() => undefined);
    const page2 = api.hold((request) => request.path === '/users' && request.query.page === '2');
    const dir = tempDir();
    const request = {
      config: {
        name: unique('single'),
        source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
        destination: { name: 'file', config: { directory: dir } },
      },
      customSourceFiles: [PAGE_SOURCE],
      taskQueue,
    };
    try {
      const first = await startSync(client, request);
      await page2.reached;
      const second = await startSync(client, request);
      page2.release();
      expect(first.attached).toBe(false);
      expect(second.attached).toBe(true);
      expect(second.runId).toBe(first.runId);
      const result = (await second.handle.result()) as SyncResult;
      expect(result.records).toBe(95);
      expect(readRows(path.join(dir, 'my_source_users.jsonl'))).toHaveLength(95);
      expect(attemptsOf(api.requests, 2)).toHaveLength(1);
    } finally {
      page2.release();
    }
  });
});
