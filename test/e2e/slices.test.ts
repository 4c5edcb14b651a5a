import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ApiRequest, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { ROOT, readRows, spawnWorker, startTestEngine, tempDir, testClient, unique, waitForPage, type TestEngine } from '../helpers.ts';

const SLICED_SOURCE = path.join(ROOT, 'examples', 'sliced', 'source.ts');
let api: ExampleApi;
let engine: TestEngine;

beforeAll(async () => {
  // 250 users changed one a minute from 2024-01-01T00:01: hourly slices of 60 (3 pages of 20), the last of 10.
  api = await startExampleApi({ datasets: { users: 250 } });
  engine = await startTestEngine([SLICED_SOURCE], 'slices');
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
});

function hourlyConfig(dir: string, source: Record<string, unknown> = {}, engineConfig: Record<string, unknown> = {}) {
  return {
    name: unique('sliced'),
    source: { name: 'date_ranges', stream: 'users', base_url: `${api.url}/rest`, page_size: 20, start: '2024-01-01T00:00:00Z', end: '2024-01-01T05:00:00Z', slice_hours: 1, ...source },
    destination: { name: 'file', config: { directory: dir } },
    engine: engineConfig,
  };
}

const hour = (h: number) => `2024-01-01T0${h}:00:00.000Z`;
/** A data request as (slice start, page cursor). */
const pageOf = (request: ApiRequest) => `${request.query.updated_since}#${request.query.after ?? 'first'}`;
const userRequests = (since: number) => api.requests.slice(since).filter((request) => request.path === '/rest/users');
const idsIn = (dir: string) => readRows(path.join(dir, 'date_ranges_users.jsonl')).map((row) => Number(row.source_record_id));

describe('a stream read in slices (getSlices)', () => {
  it('reads the slices at once and writes every record exactly once, in slice order', async () => {
    const dir = tempDir();
    const since = api.requests.length;
    // The first pages of two slices are held: both are only asked for if the slices run at the same time.
    const holds = [0, 3].map((h) => api.hold((request) => request.path === '/rest/users' && request.query.updated_since === hour(h) && request.query.after === undefined));
    const sync = await startSync(engine.client, { config: hourlyConfig(dir), customSourceFiles: [SLICED_SOURCE], taskQueue: engine.taskQueue });
    try {
      await Promise.all(holds.map((hold) => hold.reached));
    } finally {
      for (const hold of holds) hold.release();
    }
    const result = (await sync.handle.result()) as SyncResult;
    expect(result).toMatchObject({ iterations: 13, records: 250, slices: 5 });
    expect(idsIn(dir)).toEqual(Array.from({ length: 250 }, (_, index) => index + 1));
    const pages = userRequests(since).map(pageOf);
    expect(pages).toHaveLength(13);
    expect(new Set(pages).size).toBe(13);
  });

  it('a worker killed in the middle of one slice: that slice goes on from its checkpoint, the others are not read again', async () => {
    const dir = tempDir();
    const taskQueue = unique('slices-crash');
    const client = await testClient();
    const workers: ChildProcess[] = [spawnWorker(taskQueue, { customSources: [SLICED_SOURCE] })];
    const since = api.requests.length;
    // Slice (02:00, 03:00]'s second page waits; the other slices run to their end meanwhile.
    const held = api.hold((request) => request.path === '/rest/users' && request.query.updated_since === hour(2) && request.query.after === '140');
    try {
      const sync = await startSync(client, {
        config: hourlyConfig(dir, {}, { max_parallel_slices: 5, heartbeat_timeout: '2s', retry: { initial_interval: '200ms' } }),
        customSourceFiles: [SLICED_SOURCE],
        taskQueue,
      });
      await held.reached;
      // Every other slice done (3 + 3 + 3 + 1 pages) and the held slice's first page: 11 pages.
      await waitForPage(client, sync.workflowId, 11);
      workers[0]!.kill('SIGKILL');
      held.release();
      workers.push(spawnWorker(taskQueue, { customSources: [SLICED_SOURCE] }));
      const result = (await sync.handle.result()) as SyncResult;
      expect(result).toMatchObject({ iterations: 13, records: 250 });
      const ids = idsIn(dir);
      expect(ids).toHaveLength(250);
      expect(new Set(ids).size).toBe(250);
      const counts = new Map<string, number>();
      for (const page of userRequests(since).map(pageOf)) counts.set(page, (counts.get(page) ?? 0) + 1);
      expect(counts.get(`${hour(2)}#140`)).toBeGreaterThanOrEqual(2);
      for (const [page, count] of counts) if (page !== `${hour(2)}#140`) expect([page, count]).toEqual([page, 1]);
    } finally {
      held.release();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
    }
  });

  it('an incremental sync passes its watermark to getSlices(): only the new range is sliced and read', async () => {
    const dir = tempDir();
    // Slices of 400 days from 2024-01-01 to now: a handful, whatever today's date.
    const config = hourlyConfig(dir, { sync_mode: 'incremental', cursor_field: 'updated_at', end: undefined, slice_hours: 24 * 400 });
    const run = async () => (await (await startSync(engine.client, { config, customSourceFiles: [SLICED_SOURCE], taskQueue: engine.taskQueue })).handle.result()) as SyncResult;
    const first = await run();
    expect(first.records).toBe(250);
    expect(first.maxCursorValue).toBe('2024-01-01T04:10:00.000Z');
    api.touch('users', [5, 77]);
    const since = api.requests.length;
    const second = await run();
    expect(second.records).toBe(2);
    // Its first slice starts at the watermark: nothing before it was asked for.
    const starts = userRequests(since).map((request) => request.query.updated_since!);
    expect(starts.length).toBeGreaterThan(0);
    expect(starts.every((start) => start >= '2024-01-01T04:10:00.000Z')).toBe(true);
    expect(idsIn(dir).slice(250).sort((a, b) => a - b)).toEqual([5, 77]);
  });
});
