import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { PAGE_SOURCE, quietWorkerLogs, readRows, startTestEngine, tempDir, unique, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

let api: ExampleApi;
let shortApi: ExampleApi;
let engine: TestEngine;
let client: Client;
let taskQueue: string;

beforeAll(async () => {
  // 9,998 users at 5 a page: 2,000 pages, the last one short (a full last page would cost one more, empty, request);
  // 3,748 orders: 750 pages.
  api = await startExampleApi({ datasets: { users: 9_998, orders: 10_000 } });
  shortApi = await startExampleApi({ datasets: { users: 10, orders: 3_748 } });
  engine = await startTestEngine([PAGE_SOURCE], 'history');
  ({ client, taskQueue } = engine);
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
  await shortApi?.close();
});

interface RunHistory {
  runId: string;
  events: number;
  bytes: number;
}

/** Follows the continue-as-new chain from the first run and measures each run's history. */
async function historiesOf(workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
    runs.push({ runId, events: events.length, bytes: temporal.api.history.v1.History.encode(history).finish().length });
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

async function sync(stream: string, pageSize: number, extra: Record<string, unknown> = {}, engineConfig: Record<string, unknown> = {}, from = api) {
  const dir = tempDir();
  const started = await startSync(client, {
    config: {
      name: unique('history'),
      source: { name: 'my_source', stream, api_url: from.url, page_size: pageSize, ...extra },
      destination: { name: 'file', config: { directory: dir } },
      engine: engineConfig,
    },
    customSourceFiles: [PAGE_SOURCE],
    taskQueue,
  });
  const startedAt = Date.now();
  const result = (await started.handle.result()) as SyncResult;
  return { result, dir, seconds: (Date.now() - startedAt) / 1000, histories: await historiesOf(started.workflowId, started.runId), workflowId: started.workflowId, runId: started.runId };
}

describe('history stays bounded', () => {
  it('a 750-page sync continues as new every 250 pages (the default) and no run has more than a few thousand events', async () => {
    const { result, dir, seconds, histories } = await sync('orders', 5, {}, {}, shortApi);
    expect(result.iterations).toBe(750);
    expect(result.records).toBe(3_748);
    expect(readRows(path.join(dir, 'my_source_orders.jsonl'))).toHaveLength(3_748);
    expect(histories).toHaveLength(3);
    expect(result.runs).toBe(3);
    for (const history of histories) expect(history.events).toBeLessThan(2500);
    console.log(`750 pages in ${seconds.toFixed(1)}s (${(750 / seconds).toFixed(0)} pages/s); events per run: ${histories.map((h) => h.events).join(', ')}`);
  });

  it('a 2,000-page sync in batches of 20 pages: 100 page activities, under 400 events per run', async () => {
    const { result, dir, seconds, histories } = await sync('users', 5, {}, { pages_per_activity: 20, activity_time_budget: '10m', continue_as_new_every: 25 });
    expect(result).toMatchObject({ iterations: 2000, records: 9_998, pagesPerActivity: 20 });
    const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
    expect(ids).toHaveLength(9_998);
    expect(new Set(ids).size).toBe(9_998);
    // 25 batches of 20 pages per run: 4 runs.
    expect(histories).toHaveLength(4);
    // Per batch: its activity and workflow task (6 events), and the checkpoint it crosses (memo, state workflow): under 15.
    for (const history of histories) expect(history.events).toBeLessThan(25 * 15);
    console.log(`2,000 pages in batches of 20: ${seconds.toFixed(1)}s (${(2000 / seconds).toFixed(0)} pages/s); events per run: ${histories.map((h) => h.events).join(', ')}`);
  });

  it("a page names its sync's pipeline by a fingerprint: the config is in the history once, in the sync's input", async () => {
    const { result, workflowId, runId } = await sync('orders', 10, { max_iterations: 3 });
    expect(result.records).toBe(30);
    const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    const decode = (payload: temporal.api.common.v1.IPayload | undefined) => JSON.parse(Buffer.from(payload!.data!).toString()) as Record<string, unknown>;
    const pages = events.flatMap((event) => (event.activityTaskScheduledEventAttributes?.activityType?.name === 'extractPage' ? [decode(event.activityTaskScheduledEventAttributes.input!.payloads![0])] : []));
    expect(pages.map((page) => page.iteration)).toEqual([1, 2, 3]);
    for (const page of pages) {
      expect(page).not.toHaveProperty('pipeline');
      expect(page.configKey).toMatch(/^[0-9a-f]{16}$/);
    }
    const input = decode(events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]);
    expect(input.pipeline).toMatchObject({ source: { name: 'my_source', stream: 'orders' } });
  });

  it('a page of 1,000 records costs the history about what a page of 10 does', async () => {
    const small = await sync('orders', 10, { max_iterations: 10 });
    const large = await sync('orders', 1000);
    expect(small.result.records).toBe(100);
    expect(large.result.records).toBe(10_000);
    expect(small.histories).toHaveLength(1);
    expect(large.histories).toHaveLength(1);
    const ratio = large.histories[0]!.bytes / small.histories[0]!.bytes;
    console.log(`history bytes: 10-record pages ${small.histories[0]!.bytes}, 1,000-record pages ${large.histories[0]!.bytes} (ratio ${ratio.toFixed(2)})`);
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });
});
