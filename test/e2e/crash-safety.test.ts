import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProgress, startSync } from '../../client.ts';
import { startExampleApi, type ApiHold, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { PAGE_SOURCE, readRows, spawnWorker, tempDir, testClient, unique, waitForPage } from '../helpers.ts';
import { duckdbDialect } from '../sql-targets.ts';

const RECORDS = 1200;
const BATCH = 25;
const PAGE_SIZE = 10;
let api: ExampleApi;

beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: RECORDS }, latencyMs: 15 });
});
afterAll(async () => api?.close());

describe.each([
  { batched: false, engine: {} },
  // Batches of 25 pages, each ended by its size, never by its time budget: pages 1–25, 26–50, …, 101–120.
  { batched: true, engine: { pages_per_activity: BATCH, activity_time_budget: '10m' } },
])('a worker SIGKILLed in the middle of a 120-page sync (pages_per_activity: $engine.pages_per_activity)', ({ batched, engine: batching }) => {
  // Page 7 in the first run; 111 after two continue-as-new (every 40 pages), in the short last batch.
  it.each([7, 111])('killed at page %i: a new worker finishes it, every record exactly once', async (killAt) => {
    const dir = tempDir();
    const taskQueue = unique('crash');
    const client = await testClient();
    const workers: ChildProcess[] = [];
    let held: ApiHold | undefined;
    const since = api.requests.length;
    try {
      workers.push(spawnWorker(taskQueue));
      held = api.hold((request) => Number(request.query.page) === killAt);
      const sync = await startSync(client, {
        config: {
          name: unique('crash-safety'),
          source: { name: 'my_source', stream: 'users', api_url: `${api.url}`, page_size: PAGE_SIZE },
          destination: { name: 'file', config: { directory: dir } },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' }, continue_as_new_every: 40, ...batching },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await held.reached;
      // In a batch, the page before is staged while this one is read: kill once its checkpoint reached the server.
      if (batched) {
        await waitForPage(client, sync.workflowId, killAt - 1);
        // What `bizon run` and `bizon status` show: the workflow knows the batches before this one; the heartbeat, the rest.
        const batchStart = Math.floor((killAt - 1) / BATCH) * BATCH + 1;
        expect(await getProgress(client, sync.workflowId)).toMatchObject({ iteration: killAt - 1, records: (killAt - 1) * PAGE_SIZE, batch: { firstIteration: batchStart, lastIteration: killAt - 1 } });
      }
      workers[0]!.kill('SIGKILL');
      const killedAt = Date.now();
      held.release();
      workers.push(spawnWorker(taskQueue));
      const result = (await sync.handle.result()) as SyncResult;

      expect(result.records).toBe(RECORDS);
      expect(result.pagesPerActivity).toBe(batched ? BATCH : 1);
      const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
      expect(ids).toHaveLength(RECORDS);
      expect(new Set(ids).size).toBe(RECORDS);
      expect(Math.min(...ids)).toBe(1);
      expect(Math.max(...ids)).toBe(RECORDS);
      // The kill came mid-sync: the pages before it were read once, the page in flight again, the rest after it.
      const requestsOf = (page: number) => api.requests.slice(since).filter((request) => request.path === '/users' && Number(request.query.page) === page);
      for (let page = 1; page < killAt; page += 1) expect(requestsOf(page)).toHaveLength(1);
      expect(requestsOf(killAt).length).toBeGreaterThanOrEqual(2);
      expect(requestsOf(killAt + 1)[0]!.at).toBeGreaterThanOrEqual(killedAt);
    } finally {
      held?.release();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
    }
  });
});

describe('a worker SIGKILLed in the middle of a sync into DuckDB', () => {
  it('killed at page 57 of 120: a new worker finishes it, every row exactly once in the table', async () => {
    const target = await duckdbDialect.create('crash');
    const taskQueue = unique('crash-duckdb');
    const client = await testClient();
    const workers: ChildProcess[] = [spawnWorker(taskQueue)];
    const held = api.hold((request) => Number(request.query.page) === 57);
    try {
      const sync = await startSync(client, {
        config: {
          name: unique('crash-duckdb'),
          source: { name: 'my_source', stream: 'users', api_url: `${api.url}`, page_size: PAGE_SIZE },
          destination: { name: 'duckdb', config: target.config() },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' }, continue_as_new_every: 40 },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await held.reached;
      await waitForPage(client, sync.workflowId, 56);
      workers[0]!.kill('SIGKILL');
      held.release();
      workers.push(spawnWorker(taskQueue));
      expect(((await sync.handle.result()) as SyncResult).records).toBe(RECORDS);
      const [counts] = await target.query('SELECT count(*) AS rows, count(DISTINCT source_record_id) AS ids, min(CAST(source_record_id AS INTEGER)) AS low, max(CAST(source_record_id AS INTEGER)) AS high FROM my_source_users');
      expect(Object.values(counts!).map(String)).toEqual([String(RECORDS), String(RECORDS), '1', String(RECORDS)]);
    } finally {
      held.release();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
    }
  });
});
