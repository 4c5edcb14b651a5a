import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ApiRequest, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { PAGE_SOURCE, readRows, spawnWorker, tempDir, testClient, unique } from '../helpers.ts';

const apis: ExampleApi[] = [];
const workers: ChildProcess[] = [];
afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  for (const api of apis) await api.close();
});

function pageRequests(api: ExampleApi): ApiRequest[] {
  return api.requests.filter((request) => request.path === '/users');
}

/** The most requests seen in any window of `windowMs`. */
function busiestWindow(requests: ApiRequest[], windowMs: number): number {
  let most = 0;
  for (let start = 0, end = 0; end < requests.length; end++) {
    while (requests[end]!.at - requests[start]!.at >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

async function runSyncOn(api: ExampleApi, taskQueue: string, source: Record<string, unknown>, engine: Record<string, unknown> = {}) {
  const dir = tempDir();
  const client = await testClient();
  try {
    const sync = await startSync(client, {
      config: {
        name: unique('limits'),
        source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 5, ...source },
        destination: { name: 'file', config: { directory: dir } },
        engine,
      },
      customSourceFiles: [PAGE_SOURCE],
      taskQueue,
    });
    const result = (await sync.handle.result()) as SyncResult;
    return { result, workflowId: sync.workflowId, ids: readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id)) };
  } finally {
    await client.connection.close();
  }
}

/** The identities of the workers that ran a sync's page activities (no other activity), read from its history. */
async function pageWorkers(workflowId: string): Promise<string[]> {
  const client = await testClient();
  try {
    const identities: string[] = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
      const pageActivities = new Set<string>();
      for (const event of history.events ?? []) {
        if (event.activityTaskScheduledEventAttributes?.activityType?.name?.startsWith('extractPage')) pageActivities.add(String(event.eventId));
        const started = event.activityTaskStartedEventAttributes;
        if (started?.identity && pageActivities.has(String(started.scheduledEventId))) identities.push(started.identity);
      }
    }
    return identities;
  } finally {
    await client.connection.close();
  }
}

const allIds = (count: number) => Array.from({ length: count }, (_, index) => index + 1);

describe('rate limits and flaky APIs', () => {
  it('requests_per_second: 5 holds across two workers serving two syncs of the source at once', async () => {
    const api = await startExampleApi({ datasets: { users: 98 } }); // 20 pages of 5, the last short
    apis.push(api);
    const taskQueue = unique('rps');
    workers.push(spawnWorker(taskQueue));
    workers.push(spawnWorker(taskQueue));
    const [first, second] = await Promise.all([
      runSyncOn(api, taskQueue, { api_config: { requests_per_second: 5 } }),
      runSyncOn(api, taskQueue, { api_config: { requests_per_second: 5 } }),
    ]);
    for (const { result, ids } of [first, second]) {
      expect(result.iterations).toBe(20);
      expect(ids).toEqual(allIds(98));
    }
    const requests = pageRequests(api);
    expect(requests).toHaveLength(40);
    const seconds = (requests.at(-1)!.at - requests[0]!.at) / 1000;
    console.log(`40 pages of two syncs at requests_per_second 5: ${seconds.toFixed(1)}s, busiest second ${busiestWindow(requests, 1000)} requests`);
    expect(busiestWindow(requests, 1000)).toBeLessThanOrEqual(5);
    expect(seconds).toBeGreaterThan(39 / 5 - 1);
    // Both workers served pages (the pacer, not one busy worker, kept the pace).
    const pages = [...(await pageWorkers(first.workflowId)), ...(await pageWorkers(second.workflowId))];
    expect(pages).toHaveLength(40);
    expect(new Set(pages).size).toBe(2);
  });

  it('429 with Retry-After: 1 on every 4th request of a 40-page sync: every record once, no request before the announced time', async () => {
    let count = 0;
    const api = await startExampleApi({
      datasets: { users: 198 },
      fault: (request) => (request.path === '/users' && ++count % 4 === 0 ? { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '1' } } : undefined),
    });
    apis.push(api);
    const taskQueue = unique('retry-after');
    workers.push(spawnWorker(taskQueue));
    const { result, ids } = await runSyncOn(api, taskQueue, {}, { retry: { initial_interval: '100ms' } });
    expect(result.iterations).toBe(40);
    expect(ids).toEqual(allIds(198));
    const requests = pageRequests(api);
    const limited = requests.filter((request) => request.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(10);
    for (const rejected of limited) {
      const retry = requests.find((request) => request.at > rejected.at && request.query.page === rejected.query.page);
      expect(retry!.at - rejected.at).toBeGreaterThanOrEqual(1000);
    }
    console.log(`40 pages, ${limited.length} answered 429: all retried after >= 1s`);
  });

  it('pages_per_activity: a 429 in the middle of a batch waits Retry-After and the batch goes on from that page', async () => {
    const refused = new Set<string>();
    const api = await startExampleApi({
      datasets: { users: 198 }, // 40 pages of 5, the last short
      fault: (request) => {
        const page = request.query.page;
        if (request.path !== '/users' || (page !== '13' && page !== '31') || refused.has(page)) return undefined;
        refused.add(page);
        return { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '1' } };
      },
    });
    apis.push(api);
    const taskQueue = unique('batch-429');
    workers.push(spawnWorker(taskQueue));
    const { result, ids } = await runSyncOn(api, taskQueue, {}, { pages_per_activity: 20, activity_time_budget: '10m', retry: { initial_interval: '100ms' } });
    expect(result).toMatchObject({ iterations: 40, pagesPerActivity: 20 });
    expect(ids).toEqual(allIds(198));
    const requests = pageRequests(api);
    const timesRequested = (page: number) => requests.filter((request) => Number(request.query.page) === page).length;
    // The refused pages were asked twice; no page before them again: each batch resumed from its checkpoint.
    expect(Array.from({ length: 40 }, (_, index) => timesRequested(index + 1))).toEqual(Array.from({ length: 40 }, (_, index) => (index + 1 === 13 || index + 1 === 31 ? 2 : 1)));
    for (const rejected of requests.filter((request) => request.status === 429)) {
      const retry = requests.find((request) => request.at > rejected.at && request.query.page === rejected.query.page);
      expect(retry!.at - rejected.at).toBeGreaterThanOrEqual(1000);
    }
  });

  it('pages_per_activity: requests_per_second paces every get() of a batch', async () => {
    const api = await startExampleApi({ datasets: { users: 98 } }); // 20 pages of 5, the last short
    apis.push(api);
    const taskQueue = unique('batch-rps');
    workers.push(spawnWorker(taskQueue));
    const { result, ids } = await runSyncOn(api, taskQueue, { api_config: { requests_per_second: 5 } }, { pages_per_activity: 10 });
    expect(result).toMatchObject({ iterations: 20, pagesPerActivity: 10 });
    expect(ids).toEqual(allIds(98));
    const requests = pageRequests(api);
    expect(busiestWindow(requests, 1000)).toBeLessThanOrEqual(5);
    expect((requests.at(-1)!.at - requests[0]!.at) / 1000).toBeGreaterThan(19 / 5 - 1);
  });

  it('chaos: 20% of requests answer 500 and some hang past the timeout: every record once', async () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const api = await startExampleApi({
      datasets: { users: 248 },
      fault: (request) => {
        if (request.path !== '/users') return undefined;
        const draw = random();
        if (draw < 0.2) return { status: 500, body: { error: 'chaos' } };
        if (draw < 0.27) return { hangMs: 2000 };
        return undefined;
      },
    });
    apis.push(api);
    const taskQueue = unique('chaos');
    workers.push(spawnWorker(taskQueue));
    const { result, ids } = await runSyncOn(api, taskQueue, { api_config: { request_timeout: 0.5, retry_limit: 20 } }, { retry: { initial_interval: '50ms', maximum_interval: '200ms' } });
    expect(result.iterations).toBe(50);
    expect(ids).toEqual(allIds(248));
    const requests = pageRequests(api);
    console.log(`chaos: ${requests.length} requests for 50 pages (${requests.filter((r) => r.status === 500).length} answered 500)`);
    expect(requests.filter((request) => request.status === 500).length).toBeGreaterThan(0);
  });
});
