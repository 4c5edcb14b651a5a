import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { ROOT, readRows, spawnBizon, tempDir, testClient, unique } from '../helpers.ts';

const PAGE_SOURCE = path.join(ROOT, 'examples', 'page', 'source.ts');
const RECORDS = 2000;
const PAGE_SIZE = 10;
let api: ExampleApi;

beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: RECORDS }, latencyMs: 15 });
});
afterAll(async () => api?.close());

function startWorker(taskQueue: string): ChildProcess {
  return spawnBizon(['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR']);
}

/** Waits until the API was asked for `page`, looking only at requests from index `since` on (tests of this file run one at a time). */
async function waitForPage(since: number, page: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!api.requests.slice(since).some((request) => Number(request.query.page) >= page)) {
    if (Date.now() > deadline) throw new Error(`page ${page} was never requested`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a worker SIGKILLed in the middle of a 200-page sync', () => {
  it.each([7, 93, 181])('killed at page %i: a new worker finishes it, every record exactly once', async (killAt) => {
    const dir = tempDir();
    const taskQueue = unique('crash');
    const client = await testClient();
    const workers: ChildProcess[] = [];
    const since = api.requests.length;
    try {
      workers.push(startWorker(taskQueue));
      const sync = await startSync(client, {
        config: {
          name: unique('crash-safety'),
          source: { name: 'my_source', stream: 'users', api_url: `${api.url}`, page_size: PAGE_SIZE },
          destination: { name: 'file', config: { directory: dir } },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' }, continue_as_new_every: 60 },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await waitForPage(since, killAt);
      workers[0]!.kill('SIGKILL');
      workers.push(startWorker(taskQueue));
      const result = (await sync.handle.result()) as SyncResult;

      expect(result.records).toBe(RECORDS);
      const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
      expect(ids).toHaveLength(RECORDS);
      expect(new Set(ids).size).toBe(RECORDS);
      expect(Math.min(...ids)).toBe(1);
      expect(Math.max(...ids)).toBe(RECORDS);
    } finally {
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
    }
  });
});
