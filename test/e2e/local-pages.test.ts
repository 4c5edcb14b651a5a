import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync, startSync } from '../../client.ts';
import { startExampleApi, type ApiHold, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { PAGE_SOURCE, quietWorkerLogs, readRows, spawnWorker, startTestEngine, tempDir, testClient, unique, type TestEngine } from '../helpers.ts';

// engine.page_activity: local — each get() a local activity of the sync's worker, with what the regular mode
// guarantees: every record once (also after a kill), its retries and Retry-After, each page labelled in history.

quietWorkerLogs();
const EventType = temporal.api.enums.v1.EventType;
const PAGE_SIZE = 10;
let api: ExampleApi;
let engine: TestEngine;

beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: 95 }, latencyMs: 5 });
  engine = await startTestEngine([PAGE_SOURCE], 'local-pages');
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
});

const pipeline = (dir: string, engineConfig: Record<string, unknown> = {}) => ({
  name: unique('local-pages'),
  source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: PAGE_SIZE },
  destination: { name: 'file', config: { directory: dir } },
  engine: { page_activity: 'local', retry: { initial_interval: '100ms' }, ...engineConfig },
});

/** The summary (Web UI label) of a history event, if it has one. */
function summaryOf(event: temporal.api.history.v1.IHistoryEvent): string | undefined {
  const data = event.userMetadata?.summary?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : undefined;
}

describe('engine.page_activity: local', () => {
  it('writes every record once; each page is a local-activity marker labelled with its page, and no page activity is scheduled', async () => {
    const dir = tempDir();
    const result = await runSync(engine.client, { config: pipeline(dir), customSourceFiles: [PAGE_SOURCE], taskQueue: engine.taskQueue });
    expect(result).toMatchObject({ records: 95, iterations: 10 });
    const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
    expect(ids).toEqual(Array.from({ length: 95 }, (_, index) => index + 1));

    const events = (await engine.client.workflow.getHandle(`bizon-sync:${result.pipeline}:my_source:users`).fetchHistory()).events ?? [];
    const markers = events.filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(markers.map(summaryOf)).toEqual(['page 1 · first page', ...Array.from({ length: 9 }, (_, index) => `page ${index + 2} · {"page":${index + 2}}`)]);
    const scheduled = events.filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name);
    expect(scheduled).not.toContain('extractPage');
  });

  it('a 429 with Retry-After: the page waits as told and the sync completes', async () => {
    let refused = false;
    const limited = await startExampleApi({
      datasets: { users: 30 },
      fault: (request) => {
        if (Number(request.query.page) !== 2 || refused) return undefined;
        refused = true;
        return { status: 429, headers: { 'retry-after': '1' } };
      },
    });
    try {
      const dir = tempDir();
      const config = { ...pipeline(dir), source: { name: 'my_source', stream: 'users', api_url: limited.url, page_size: PAGE_SIZE } };
      const result = await runSync(engine.client, { config, customSourceFiles: [PAGE_SOURCE], taskQueue: engine.taskQueue });
      expect(result.records).toBe(30);
      const page2 = limited.requests.filter((request) => request.path === '/users' && request.query.page === '2');
      expect(page2.map((request) => request.status)).toEqual([429, 200]);
      expect(page2[1]!.at - page2[0]!.at).toBeGreaterThanOrEqual(1000);

    } finally {
      await limited.close();
    }
  });

  it('refuses pages_per_activity beside it, saying what to do', async () => {
    const error = await runSync(engine.client, { config: pipeline(tempDir(), { pages_per_activity: 5 }), customSourceFiles: [PAGE_SOURCE], taskQueue: engine.taskQueue }).catch((caught: Error) => caught);
    expect((error as Error).message).toBe(
      'engine.page_activity: local reads each page in a local activity of its own and cannot batch them: remove engine.pages_per_activity (5), or set page_activity: regular',
    );
  });

  it('a worker SIGKILLed while a page is read: another worker re-reads only the pages of the unfinished workflow task, every record once', async () => {
    const crashApi = await startExampleApi({ datasets: { users: 400 }, latencyMs: 5 });
    const dir = tempDir();
    const taskQueue = unique('local-crash');
    const client = await testClient();
    const workers: ChildProcess[] = [];
    let held: ApiHold | undefined;
    try {
      workers.push(spawnWorker(taskQueue));
      held = crashApi.hold((request) => Number(request.query.page) === 25);
      const sync = await startSync(client, {
        config: { ...pipeline(dir, { continue_as_new_every: 15 }), source: { name: 'my_source', stream: 'users', api_url: crashApi.url, page_size: PAGE_SIZE } },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await held.reached;
      workers[0]!.kill('SIGKILL');
      const killedAt = Date.now();
      held.release();
      workers.push(spawnWorker(taskQueue));
      const result = (await sync.handle.result()) as SyncResult;

      expect(result.records).toBe(400);
      const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
      expect(ids).toHaveLength(400);
      expect(new Set(ids).size).toBe(400);
      const requestsOf = (page: number) => crashApi.requests.filter((request) => request.path === '/users' && Number(request.query.page) === page);
      // Pages 1–15 ended with the first run (continue-as-new after 15): read once. After it, the pages of the
      // workflow task cut by the kill are read again, the page in flight among them; the rest once, after the kill.
      for (let page = 1; page <= 15; page += 1) expect(requestsOf(page)).toHaveLength(1);
      for (let page = 16; page < 25; page += 1) expect(requestsOf(page).length).toBeLessThanOrEqual(2);
      expect(requestsOf(25).length).toBeGreaterThanOrEqual(2);
      for (let page = 26; page <= 40; page += 1) {
        expect(requestsOf(page)).toHaveLength(1);
        expect(requestsOf(page)[0]!.at).toBeGreaterThanOrEqual(killedAt);
      }
    } finally {
      held?.release();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
      await crashApi.close();
    }
  });
});
