import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { getProgress, startSync } from '../../client.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import path from 'node:path';
import { PAGE_SOURCE, REST_SOURCE, ROOT, spawnWorker, startTestEngine, testClient, unique, type TestEngine } from '../helpers.ts';

const ROUTING_SOURCE = path.join(ROOT, 'examples', 'routing', 'source.ts');
let routingEngine: TestEngine;
import { startTestPostgres, type TestPostgres } from '../postgres.ts';

let postgres: TestPostgres;
let api: ExampleApi;
let engine: TestEngine;

beforeAll(async () => {
  postgres = await startTestPostgres();
  api = await startExampleApi({ datasets: { users: 250, orders: 1999, events: 90 }, latencyMs: 0 });
  engine = await startTestEngine([REST_SOURCE, PAGE_SOURCE], 'postgres');
  routingEngine = await startTestEngine([ROUTING_SOURCE], 'postgres-routing');
});
afterAll(async () => {
  await engine?.stop();
  await routingEngine?.stop();
  await api?.close();
  await postgres?.stop();
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Waits until the sync's page activity is on a retry whose last failure matches `reason`. */
async function waitForRetriedPage(workflowId: string, reason: RegExp): Promise<void> {
  for (;;) {
    const progress = await getProgress(engine.client, workflowId).catch(() => undefined);
    if (progress?.retrying && reason.test(progress.retrying.lastFailure ?? '')) return;
    await sleep(50);
  }
}

async function sync(url: string, source: Record<string, unknown>, config: Record<string, unknown> = {}, name = unique('pg'), engineConfig: Record<string, unknown> = {}) {
  const started = await startSync(engine.client, {
    config: {
      name,
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, ...source },
      destination: { name: 'postgres', config: { connection_string: url, ...config } },
      engine: engineConfig,
    },
    customSourceFiles: [REST_SOURCE, PAGE_SOURCE],
    taskQueue: engine.taskQueue,
  });
  return (await started.handle.result()) as SyncResult;
}

describe('the postgres destination', () => {
  it('a full refresh fills the table, and the next one replaces it', async () => {
    const url = await postgres.createDatabase('full');
    const name = unique('pg-full');
    const first = await sync(url, {}, {}, name);
    expect(first.outputs).toEqual([{ destinationId: 'rest_api_users', records: 250, location: 'postgres public.rest_api_users' }]);
    await sync(url, {}, {}, name);
    const [counts] = await query<{ rows: string; ids: string }>(url, 'SELECT count(*) AS rows, count(DISTINCT source_record_id) AS ids FROM rest_api_users');
    expect(counts).toEqual({ rows: '250', ids: '250' });
    const [sample] = await query<{ source_data: { name: string } }>(url, `SELECT source_data FROM rest_api_users WHERE source_record_id = '7'`);
    expect(sample!.source_data.name).toBe('user-7');
  });

  it('an incremental sync appends what changed', async () => {
    const url = await postgres.createDatabase('incremental');
    const name = unique('pg-incr');
    const incremental = { sync_mode: 'incremental', cursor_field: 'updated_at' };
    await sync(url, incremental, {}, name);
    api.touch('users', [3, 150]);
    const second = await sync(url, incremental, {}, name);
    expect(second.records).toBe(2);
    const rows = await query<{ id: string; n: string }>(url, `SELECT source_record_id AS id, count(*) AS n FROM rest_api_users GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`);
    expect(rows).toEqual([
      { id: '150', n: '2' },
      { id: '3', n: '2' },
    ]);
  });

  it('write_mode: merge updates a re-extracted record instead of adding it again', async () => {
    const url = await postgres.createDatabase('merge');
    const name = unique('pg-merge');
    const incremental = { sync_mode: 'incremental', cursor_field: 'updated_at' };
    await sync(url, incremental, { write_mode: 'merge' }, name);
    api.touch('users', [4, 200]);
    const second = await sync(url, incremental, { write_mode: 'merge' }, name);
    expect(second.records).toBe(2);
    const [counts] = await query<{ rows: string; ids: string }>(url, 'SELECT count(*) AS rows, count(DISTINCT source_record_id) AS ids FROM rest_api_users');
    expect(counts).toEqual({ rows: '250', ids: '250' });
    const touched = await query<{ id: string; updated: string }>(url, `SELECT source_record_id AS id, source_data->>'updated_at' AS updated FROM rest_api_users WHERE source_record_id IN ('4', '200') ORDER BY 1`);
    expect(touched.map((row) => [row.id, row.updated])).toEqual(
      ['200', '4'].map((id) => [id, api.data.users!.find((item) => String(item.id) === id)!.updated_at]),
    );
  });

  it('a full refresh replaces the table in one transaction: a reader sees the old rows or the new, never a part', async () => {
    const url = await postgres.createDatabase('atomic');
    const name = unique('pg-atomic');
    await sync(url, { max_iterations: 1 }, {}, name); // 50 rows
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    const seen = new Set<string>();
    let syncing = true;
    const reading = (async () => {
      while (syncing) seen.add((await reader.query<{ n: string }>('SELECT count(*) AS n FROM rest_api_users')).rows[0]!.n);
    })();
    try {
      await sync(url, {}, {}, name); // 250 rows
    } finally {
      syncing = false;
      await reading;
      await reader.end();
    }
    seen.add((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM rest_api_users'))[0]!.n);
    expect([...seen].every((count) => count === '50' || count === '250')).toBe(true);
    expect(seen.has('250')).toBe(true);
  });

  it('records routed by destinationId land in one table each', async () => {
    const url = await postgres.createDatabase('routing');
    const started = await startSync(engine.client, {
      config: {
        name: unique('pg-routing'),
        source: { name: 'events_source', stream: 'events', api_url: api.url, page_size: 25 },
        destination: { name: 'postgres', config: { connection_string: url } },
      },
      customSourceFiles: [ROUTING_SOURCE],
      taskQueue: routingEngine.taskQueue,
    });
    const result = (await started.handle.result()) as SyncResult;
    // A full refresh also replaces the configured table: no record went there, so it is empty.
    expect(result.outputs.map((output) => [output.destinationId, output.records])).toEqual([
      ['events_source_events', 0],
      ['project.dataset.click_events', 30],
      ['project.dataset.purchase_events', 30],
      ['project.dataset.view_events', 30],
    ]);
    const [clicks] = await query<{ n: string; other: string }>(
      url,
      `SELECT count(*) AS n, count(*) FILTER (WHERE source_data->>'type' <> 'click') AS other FROM "project.dataset.click_events"`,
    );
    expect(clicks).toEqual({ n: '30', other: '0' });
  });

  it('a worker SIGKILLed in the middle of a 200-page sync: every row exactly once', async () => {
    const url = await postgres.createDatabase('crash');
    const taskQueue = unique('pg-crash');
    const client = await testClient();
    const workers: ChildProcess[] = [spawnWorker(taskQueue)];
    const held = api.hold((request) => request.path === '/orders' && request.query.page === '93');
    try {
      const started = await startSync(client, {
        config: {
          name: unique('pg-crash'),
          source: { name: 'my_source', stream: 'orders', api_url: api.url, page_size: 10 },
          destination: { name: 'postgres', config: { connection_string: url } },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' } },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await held.reached;
      workers[0]!.kill('SIGKILL');
      held.release();
      workers.push(spawnWorker(taskQueue));
      const result = (await started.handle.result()) as SyncResult;
      expect(result.records).toBe(1999);
      const [counts] = await query<{ rows: string; ids: string; min: string; max: string }>(
        url,
        'SELECT count(*) AS rows, count(DISTINCT source_record_id) AS ids, min(source_record_id::int)::text AS min, max(source_record_id::int)::text AS max FROM my_source_orders',
      );
      expect(counts).toEqual({ rows: '1999', ids: '1999', min: '1', max: '1999' });
    } finally {
      held.release();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
    }
  });

  it('Postgres down in the middle of a sync: the page is retried until it is back, every row exactly once', async () => {
    const url = await postgres.createDatabase('outage');
    // Page 3 is read while the server is down: staging it fails, and is retried until the server is back.
    const held = api.hold((request) => request.path === '/rest/users' && request.query.after === '100');
    const name = unique('pg-outage');
    try {
      const running = sync(url, { page_size: 50 }, {}, name, { retry: { initial_interval: '200ms', maximum_interval: '1s' } });
      await held.reached;
      postgres.pause!();
      held.release();
      await waitForRetriedPage(`bizon-sync:${name}:rest_api:users`, /Postgres destination could not stage page 3/);
      postgres.resume!();
      const result = await running;
      expect(result.records).toBe(250);
    } finally {
      held.release();
    }
    const [counts] = await query<{ rows: string; ids: string }>(url, 'SELECT count(*) AS rows, count(DISTINCT source_record_id) AS ids FROM rest_api_users');
    expect(counts).toEqual({ rows: '250', ids: '250' });
  });

  it('a hostile table name is quoted, never run', async () => {
    const url = await postgres.createDatabase('hostile');
    const hostile = 'x"; DROP TABLE canary; --';
    await query(url, 'CREATE TABLE canary (id int)');
    const result = await sync(url, { max_iterations: 1 }, { destination_id: hostile });
    expect(result.outputs[0]).toMatchObject({ destinationId: hostile, records: 50 });
    const tables = await query<{ name: string }>(url, `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    expect(tables.map((table) => table.name)).toEqual(['_bizon_published', '_bizon_staging', 'canary', hostile]);
  });

  it('a wrong password fails at once, with the server\'s message', async () => {
    const url = new URL(await postgres.createDatabase('password'));
    url.username = 'nobody_here';
    const started = Date.now();
    const error = await sync(url.toString(), {}).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeDefined();
    expect(String((error as { cause?: { cause?: Error } }).cause?.cause?.message ?? error)).toMatch(/Postgres destination could not connect: .*nobody_here/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
