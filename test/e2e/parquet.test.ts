// The parquet destination: files a lake reader opens, exactly once, read back by DuckDB and by hyparquet (an
// independent reader in JavaScript), with the types the record schemas give.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { ParquetDestination, type ParquetManifest } from '../../destinations/parquet.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { cliEnv, failureOf, PAGE_SOURCE, quietWorkerLogs, REST_SOURCE, spawnWorker, startTestEngine, tempDir, testClient, unique, waitForPage, type TestEngine } from '../helpers.ts';
import { startHoldingProxy } from '../holding-proxy.ts';
import { startTestS3, type TestS3 } from '../seaweedfs.ts';
import { DuckDBInstance } from '@duckdb/node-api';

quietWorkerLogs();

let api: ExampleApi;
let engine: TestEngine;

beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: 250 } });
  engine = await startTestEngine([REST_SOURCE], 'parquet');
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
});

async function sync(directory: string, config: Record<string, unknown> = {}, source: Record<string, unknown> = {}, name = unique('parquet')): Promise<SyncResult> {
  const started = await startSync(engine.client, {
    config: {
      name,
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, ...source },
      destination: { name: 'parquet', config: { path: directory, ...config } },
      engine: { retry: { initial_interval: '200ms', maximum_interval: '1s' } },
    },
    customSourceFiles: [REST_SOURCE],
    taskQueue: engine.taskQueue,
  });
  return (await started.handle.result()) as SyncResult;
}

/** Runs a query in a DuckDB of its own, in memory: a reader of the files. */
async function queryDuckDB(sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const manifestOf = (folder: string) => JSON.parse(readFileSync(path.join(folder, '_bizon_manifest.json'), 'utf8')) as ParquetManifest;

/** What a reader following the manifest sees, through DuckDB (the files it lists, and only those). */
async function readByManifest(folder: string, select = 'source_record_id AS id', ordered = true): Promise<Array<Record<string, unknown>>> {
  const files = manifestOf(folder).files.map((file) => `'${path.join(folder, file)}'`);
  if (files.length === 0) return [];
  return queryDuckDB(`SELECT ${select} FROM read_parquet([${files.join(', ')}], hive_partitioning = true)${ordered ? ' ORDER BY CAST(source_record_id AS INTEGER)' : ''}`);
}

/** Every Parquet file in a folder, read by hyparquet. */
async function readWithHyparquet(folder: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const file of manifestOf(folder).files) rows.push(...(await parquetReadObjects({ file: await asyncBufferFromFile(path.join(folder, file)), compressors })));
  return rows;
}

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => String(from + index));

describe('the parquet destination', () => {
  it('a full refresh writes the files, an incremental sync adds its own, the next full refresh replaces them all', async () => {
    const directory = tempDir();
    const folder = path.join(directory, 'rest_api_users');
    const name = unique('parquet-modes');
    const first = await sync(directory, {}, { sync_mode: 'incremental', cursor_field: 'updated_at' }, name);
    expect(first.outputs).toEqual([{ destinationId: 'rest_api_users', records: 250, location: `${folder} (parquet, _bizon_manifest.json)` }]);
    expect((await readByManifest(folder)).map((row) => row.id)).toEqual(ids(1, 250));
    const [firstFile] = manifestOf(folder).files;
    expect(firstFile).toMatch(/^part-[0-9a-f]{16}-0\.parquet$/);
    // Nothing of bizon's staging is left beside the files.
    expect(readdirSync(directory)).toEqual(['rest_api_users']);

    api.touch('users', [3, 150]);
    expect((await sync(directory, {}, { sync_mode: 'incremental', cursor_field: 'updated_at' }, name)).records).toBe(2);
    expect(manifestOf(folder).files).toHaveLength(2);
    const rows = (await readByManifest(folder)).map((row) => row.id);
    expect(rows).toHaveLength(252);
    expect(rows.filter((id) => id === '3' || id === '150')).toEqual(['3', '3', '150', '150']);

    // A full refresh of two pages: its file alone is the table; the files it replaced are gone.
    await sync(directory, {}, { max_iterations: 2 }, name);
    expect((await readByManifest(folder)).map((row) => row.id)).toEqual(ids(1, 100));
    expect(readdirSync(folder).sort()).toEqual(['_bizon_manifest.json', manifestOf(folder).files[0]!].sort());
    expect(manifestOf(folder).runs.map((run) => [run.mode, run.records])).toEqual([
      ['replace', 250],
      ['append', 2],
      ['replace', 100],
    ]);
  });

  it('typed columns from record_schemas, zstd and day partitions, read back alike by DuckDB and hyparquet', async () => {
    const directory = tempDir();
    const folder = path.join(directory, 'rest_api_users');
    const record_schemas = [{ destination_id: 'rest_api_users', record_schema: [{ name: 'id', type: 'INTEGER', mode: 'REQUIRED' }, { name: 'name', type: 'STRING' }, { name: 'updated_at', type: 'TIMESTAMP' }] }];
    const result = await sync(directory, { unnest: true, record_schemas, partition_by: { field: 'updated_at', granularity: 'day' } });
    expect(result.records).toBe(250);
    const files = manifestOf(folder).files;
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file).toMatch(/^updated_at_day=\d{4}-\d{2}-\d{2}\/part-[0-9a-f]{16}-\d+\.parquet$/);
    const types = await queryDuckDB(`SELECT column_name AS name, column_type AS type FROM (DESCRIBE SELECT * FROM read_parquet('${path.join(folder, files[0]!)}'))`);
    expect(Object.fromEntries(types.map((row) => [row.name, row.type]))).toMatchObject({ id: 'BIGINT', name: 'VARCHAR', updated_at: 'TIMESTAMP WITH TIME ZONE', source_record_id: 'VARCHAR' });
    const byDuckDB = await readByManifest(folder, "id, name, CAST(updated_at_day AS VARCHAR) AS updated_at_day, strftime(updated_at AT TIME ZONE 'UTC', '%Y-%m-%d') AS day");
    expect(byDuckDB.map((row) => Number(row.id))).toEqual(Array.from({ length: 250 }, (_, index) => index + 1));
    expect(byDuckDB.every((row) => row.updated_at_day === row.day)).toBe(true);
    const byHyparquet = (await readWithHyparquet(folder)).sort((a, b) => Number(a.id) - Number(b.id));
    expect(byHyparquet).toHaveLength(250);
    expect(byHyparquet[6]).toMatchObject({ id: 7n, name: 'user-7', source_record_id: '7' });
    expect(byHyparquet[6]!.updated_at).toBeInstanceOf(Date);
    const metadata = await queryDuckDB(`SELECT DISTINCT compression FROM parquet_metadata('${path.join(folder, files[0]!)}')`);
    expect(metadata).toEqual([{ compression: 'ZSTD' }]);
  });

  it('row_group_size cuts row groups, file_size_mb rolls to new part files; threads: 1 writes the same rows', async () => {
    const directory = tempDir();
    const destination = new ParquetDestination({ path: directory, compression: 'none', row_group_size: 2048, file_size_mb: 0.05, unnest: false, write_mode: 'append', primary_key: 'source_record_id' }, 'events');
    const records = (from: number) => Array.from({ length: 2500 }, (_, index) => ({ id: String(from + index), data: { n: from + index, text: `record ${from + index}` }, timestamp: undefined, destinationId: undefined }));
    for (const iteration of [1, 2, 3, 4]) await destination.write({ syncRunId: 'run-1', iteration, extractedAt: new Date(), records: records(iteration * 10_000) });
    await destination.finalize({ syncRunId: 'run-1', mode: 'replace' });
    const folder = path.join(directory, 'events');
    const files = manifestOf(folder).files;
    expect(files.length).toBeGreaterThan(1);
    expect(files.every((file) => /^part-[0-9a-f]{16}-\d+\.parquet$/.test(file))).toBe(true);
    const groups = await queryDuckDB(`SELECT max(row_group_num_rows) AS rows, sum(row_group_num_rows) FILTER (WHERE column_id = 0) AS total FROM parquet_metadata([${files.map((file) => `'${path.join(folder, file)}'`).join(', ')}])`);
    // Row groups of about 2,048 rows (DuckDB cuts them by whole vectors, per writing thread), not the default 122,880.
    expect(groups[0]!.total).toBe(10_000n);
    expect(Number(groups[0]!.rows)).toBeLessThanOrEqual(4096);
    expect((await readByManifest(folder)).length).toBe(10_000);

    // threads: 1 — one writing thread (its memory: `npm run bench:parquet -- --threads 1`).
    const single = new ParquetDestination({ path: directory, compression: 'none', row_group_size: 2048, threads: 1, unnest: false, write_mode: 'append', primary_key: 'source_record_id' }, 'single');
    for (const iteration of [1, 2, 3, 4]) await single.write({ syncRunId: 'run-2', iteration, extractedAt: new Date(), records: records(iteration * 10_000) });
    await single.finalize({ syncRunId: 'run-2', mode: 'replace' });
    expect((await readByManifest(path.join(directory, 'single'))).map((row) => row.id)).toEqual((await readByManifest(folder)).map((row) => row.id));
  });

  it('a publish that stopped after moving its files in, before the manifest, publishes every record once when retried', async () => {
    const directory = tempDir();
    // The worker dies where the manifest would be swapped: the run's files are in the folder, the manifest is not.
    let killed = true;
    class DiesBeforeTheManifest extends ParquetDestination {
      protected override async swapManifest(folder: string, manifest: ParquetManifest): Promise<void> {
        if (killed) throw new Error('the worker died here');
        await super.swapManifest(folder, manifest);
      }
    }
    const destination = new DiesBeforeTheManifest({ path: directory, compression: 'snappy', row_group_size: 1000, unnest: false, write_mode: 'append', primary_key: 'source_record_id' }, 'events');
    await destination.checkConnection();
    const records = (from: number) => Array.from({ length: 10 }, (_, index) => ({ id: String(from + index), data: { n: from + index }, timestamp: undefined, destinationId: undefined }));
    for (const iteration of [1, 2, 3]) await destination.write({ syncRunId: 'run-1', iteration, extractedAt: new Date(), records: records(iteration * 10) });
    const folder = path.join(directory, 'events');
    await expect(destination.finalize({ syncRunId: 'run-1', mode: 'append' })).rejects.toThrow('the worker died here');
    expect(readdirSync(folder)).toEqual([expect.stringMatching(/^part-[0-9a-f]{16}-0\.parquet$/)]);
    killed = false;
    // Page 2 is written again by a retried attempt before the retried publish.
    await destination.write({ syncRunId: 'run-1', iteration: 2, extractedAt: new Date(), records: records(20) });
    expect(await destination.finalize({ syncRunId: 'run-1', mode: 'append' })).toEqual([{ destinationId: 'events', records: 30, location: `${folder} (parquet, _bizon_manifest.json)` }]);
    // Once more (the activity retried after its publish): the manifest already knows the run.
    expect(await destination.finalize({ syncRunId: 'run-1', mode: 'append' })).toEqual([{ destinationId: 'events', records: 30, location: `${folder} (parquet, _bizon_manifest.json)` }]);
    expect((await readByManifest(folder)).map((row) => row.id)).toEqual(ids(10, 39));
    expect(manifestOf(folder).files).toHaveLength(1);
  });

  it('a later run may add a column (readers union them by name); one that changes a column\'s type fails before publishing, naming both types', async () => {
    const directory = tempDir();
    const folder = path.join(directory, 'events');
    const destinationWith = (fields: Array<{ name: string; type: string }>) =>
      new ParquetDestination({ path: directory, compression: 'zstd', row_group_size: 122_880, unnest: true, record_schemas: [{ destination_id: 'events', record_schema: fields as never }], write_mode: 'append', primary_key: 'source_record_id' }, 'events');
    const page = (syncRunId: string, data: (n: number) => Record<string, unknown>) => ({ syncRunId, iteration: 1, extractedAt: new Date(), records: [1, 2].map((n) => ({ id: `${syncRunId}-${n}`, data: data(n), timestamp: undefined, destinationId: undefined })) });
    const first = destinationWith([{ name: 'value', type: 'INTEGER' }]);
    await first.write(page('run-1', (n) => ({ value: n })));
    await first.finalize({ syncRunId: 'run-1', mode: 'replace' });
    // Run 2 adds a field: its files have the column, the first run's do not.
    const second = destinationWith([{ name: 'value', type: 'INTEGER' }, { name: 'label', type: 'STRING' }]);
    await second.write(page('run-2', (n) => ({ value: n * 10, label: `l${n}` })));
    await second.finalize({ syncRunId: 'run-2', mode: 'append' });
    const files = manifestOf(folder).files.map((file) => `'${path.join(folder, file)}'`).join(', ');
    expect(await queryDuckDB(`SELECT source_record_id AS id, value, label FROM read_parquet([${files}], union_by_name = true) ORDER BY id`)).toEqual([
      { id: 'run-1-1', value: 1n, label: null },
      { id: 'run-1-2', value: 2n, label: null },
      { id: 'run-2-1', value: 10n, label: 'l1' },
      { id: 'run-2-2', value: 20n, label: 'l2' },
    ]);
    expect(manifestOf(folder).columns).toMatchObject({ value: 'BIGINT', label: 'VARCHAR' });
    // Run 3 makes value a string: refused, and the table is as it was.
    const third = destinationWith([{ name: 'value', type: 'STRING' }]);
    await third.write(page('run-3', (n) => ({ value: `v${n}` })));
    await expect(third.finalize({ syncRunId: 'run-3', mode: 'append' })).rejects.toThrow(
      "Column 'value' of events is BIGINT in the files published before, but this run writes it as VARCHAR: nothing was published. Change the field's type back in record_schemas, or run a full refresh (bizon run --reset) to rewrite the table with the new type",
    );
    expect(manifestOf(folder).files).toHaveLength(2);
    expect(readdirSync(folder).filter((file) => file.endsWith('.parquet'))).toHaveLength(2);
    // A full refresh may change it: it makes the table anew.
    await third.finalize({ syncRunId: 'run-3', mode: 'replace' });
    expect(manifestOf(folder).columns).toMatchObject({ value: 'VARCHAR' });
  });

  it('a destination id that would leave the folder, or look like bizon’s own, is refused', async () => {
    const destination = new ParquetDestination({ path: tempDir(), compression: 'zstd', row_group_size: 1000, unnest: false, write_mode: 'append', primary_key: 'source_record_id' }, 'events');
    for (const id of ['../escape', '_bizon_staging', 'a/b', 'all*']) {
      await expect(destination.write({ syncRunId: 'r', iteration: 1, extractedAt: new Date(), records: [{ id: '1', data: {}, timestamp: undefined, destinationId: id }] })).rejects.toThrow(
        `Invalid destination id '${id}' for the parquet destination: it names a folder, so it cannot be empty, start with '.' or '_', hold / \\ * ? [ ] { }, or pass 255 bytes`,
      );
    }
  });
});

describe('the parquet destination into S3 (SeaweedFS, a real S3-compatible server)', () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3();
    await s3.createBucket('lake');
    process.env.BIZON_ENV_TEST_S3_KEY_ID = s3.accessKeyId;
    process.env.BIZON_ENV_TEST_S3_SECRET = s3.secretAccessKey;
  });
  afterAll(async () => s3?.stop());

  const s3Config = () => ({ endpoint: s3.endpoint, access_key_id: 'BIZON_ENV_TEST_S3_KEY_ID', secret_access_key: 'BIZON_ENV_TEST_S3_SECRET' });

  /** The objects under a prefix of the bucket. */
  async function keysUnder(prefix: string): Promise<string[]> {
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
    return (listed.Contents ?? []).map((object) => object.Key!).sort();
  }

  /** A table's files as its manifest lists them, downloaded, read by DuckDB. */
  async function readFromS3(prefix: string, select?: string): Promise<Array<Record<string, unknown>>> {
    const local = tempDir();
    const get = async (key: string) => (await s3.client.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body!.transformToByteArray();
    writeFileSync(path.join(local, '_bizon_manifest.json'), await get(`${prefix}/_bizon_manifest.json`));
    for (const file of manifestOf(local).files) {
      mkdirSync(path.dirname(path.join(local, file)), { recursive: true });
      writeFileSync(path.join(local, file), await get(`${prefix}/${file}`));
    }
    return select ? readByManifest(local, select, false) : readByManifest(local);
  }

  it('a full refresh and an incremental sync publish through the manifest in the bucket; nothing of the staging stays', async () => {
    const name = unique('parquet-s3');
    const source = { sync_mode: 'incremental', cursor_field: 'updated_at' };
    const first = await sync('s3://lake/warehouse', { s3: s3Config() }, source, name);
    expect(first.outputs).toEqual([{ destinationId: 'rest_api_users', records: 250, location: 's3://lake/warehouse/rest_api_users (parquet, _bizon_manifest.json)' }]);
    expect((await readFromS3('warehouse/rest_api_users')).map((row) => row.id)).toEqual(ids(1, 250));
    api.touch('users', [8, 9]);
    expect((await sync('s3://lake/warehouse', { s3: s3Config() }, source, name)).records).toBe(2);
    const rows = (await readFromS3('warehouse/rest_api_users')).map((row) => row.id);
    expect(rows).toHaveLength(252);
    expect(await keysUnder('warehouse/_bizon_staging/')).toEqual([]);
    expect((await keysUnder('warehouse/rest_api_users/')).filter((key) => key.endsWith('.parquet'))).toHaveLength(2);
  });

  it('a worker killed in the middle of a sync: another worker finishes it from the pages staged in the bucket, every record once', async () => {
    const taskQueue = unique('parquet-crash');
    const client = await testClient();
    const env = cliEnv({ BIZON_ENV_TEST_S3_KEY_ID: s3.accessKeyId, BIZON_ENV_TEST_S3_SECRET: s3.secretAccessKey });
    const workers: ChildProcess[] = [spawnWorker(taskQueue, { env })];
    const held = api.hold((request) => request.path === '/users' && Number(request.query.page) === 7);
    try {
      const started = await startSync(client, {
        config: {
          name: unique('parquet-crash'),
          source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
          destination: { name: 'parquet', config: { path: 's3://lake/crash', s3: s3Config() } },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' } },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await held.reached;
      await waitForPage(client, started.workflowId, 6);
      // Pages 1–6 are staged in the bucket, not on the killed worker's disk.
      expect((await keysUnder('crash/_bizon_staging/pages/')).length).toBe(6);
      workers[0]!.kill('SIGKILL');
      held.release();
      workers.push(spawnWorker(taskQueue, { env }));
      expect(((await started.handle.result()) as SyncResult).records).toBe(250);
      expect((await readFromS3('crash/my_source_users')).map((row) => row.id)).toEqual(ids(1, 250));
      expect(await keysUnder('crash/_bizon_staging/')).toEqual([]);
    } finally {
      held.release();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
    }
  });

  it.each([
    { what: 'before its manifest is written', held: '_bizon_manifest.json' },
    { what: 'after its manifest, before it records the publish', held: '_bizon_staging/published/' },
  ])('a worker killed in the middle of the publish ($what): another publishes every record once', async ({ held: heldKey }) => {
    const proxy = await startHoldingProxy(s3.endpoint);
    const taskQueue = unique('parquet-publish-kill');
    const client = await testClient();
    const env = cliEnv({ BIZON_ENV_TEST_S3_KEY_ID: s3.accessKeyId, BIZON_ENV_TEST_S3_SECRET: s3.secretAccessKey });
    const workers: ChildProcess[] = [spawnWorker(taskQueue, { env })];
    const prefix = unique('publish-kill');
    const held = proxy.hold((method, url) => method === 'PUT' && url.includes(`/${prefix}/`) && url.includes(heldKey));
    try {
      const started = await startSync(client, {
        config: {
          name: unique('parquet-publish-kill'),
          source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 50 },
          destination: { name: 'parquet', config: { path: `s3://lake/${prefix}`, s3: { ...s3Config(), endpoint: proxy.url } } },
          engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms' } },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await held.reached;
      workers[0]!.kill('SIGKILL');
      held.drop();
      workers.push(spawnWorker(taskQueue, { env }));
      expect(((await started.handle.result()) as SyncResult).records).toBe(250);
      expect((await readFromS3(`${prefix}/my_source_users`)).map((row) => row.id)).toEqual(ids(1, 250));
      expect((await keysUnder(`${prefix}/my_source_users/`)).filter((key) => key.endsWith('.parquet'))).toHaveLength(1);
      // The manifest lists the run once: the retried publish found it there (or published it the first time).
      const manifest = JSON.parse(await (await s3.client.send(new GetObjectCommand({ Bucket: 'lake', Key: `${prefix}/my_source_users/_bizon_manifest.json` }))).Body!.transformToString()) as ParquetManifest;
      expect(manifest.runs.map((run) => run.records)).toEqual([250]);
    } finally {
      held.drop();
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
      await proxy.close();
    }
  });

  it('200,000 records into a local directory and into the bucket: DuckDB reads each once, with its types', async () => {
    const big = await startExampleApi({ datasets: { orders: 200_000 } });
    try {
      const record_schemas = [{ destination_id: 'orders', record_schema: [{ name: 'id', type: 'INTEGER', mode: 'REQUIRED' }, { name: 'value', type: 'INTEGER' }, { name: 'updated_at', type: 'TIMESTAMP' }] }];
      const config = { destination_id: 'orders', unnest: true, record_schemas };
      const directory = tempDir();
      for (const path_ of [directory, 's3://lake/big']) {
        const started = await startSync(engine.client, {
          config: {
            name: unique('parquet-big'),
            source: { name: 'rest_api', stream: 'orders', base_url: `${big.url}/rest`, page_size: 1000 },
            destination: { name: 'parquet', config: { path: path_, ...config, ...(path_.startsWith('s3://') ? { s3: s3Config() } : {}) } },
            engine: { pages_per_activity: 50, activity_time_budget: '10m' },
          },
          customSourceFiles: [REST_SOURCE],
          taskQueue: engine.taskQueue,
        });
        expect(((await started.handle.result()) as SyncResult).records).toBe(200_000);
      }
      const local = path.join(directory, 'orders');
      for (const rows of [await readByManifest(local, 'count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high, any_value(typeof(updated_at)) AS type', false), await readFromS3('big/orders', 'count(*) AS n, count(DISTINCT id) AS ids, min(id) AS low, max(id) AS high, any_value(typeof(updated_at)) AS type')]) {
        expect(rows).toEqual([{ n: 200_000n, ids: 200_000n, low: 1n, high: 200_000n, type: 'TIMESTAMP WITH TIME ZONE' }]);
      }
    } finally {
      await big.close();
    }
  });

  it('a bucket that does not exist, or a wrong secret key, fails at once naming the bucket and the endpoint', async () => {
    const missing = await failureOf(sync('s3://no-such-bucket/x', { s3: s3Config() }));
    expect(missing).toBe(`Parquet destination could not reach the bucket: bucket 'no-such-bucket' at ${s3.endpoint} does not exist. Create it, or fix destination.config.path`);
    process.env.BIZON_ENV_TEST_S3_WRONG = 'not-the-secret';
    const refused = await failureOf(sync('s3://lake/x', { s3: { ...s3Config(), secret_access_key: 'BIZON_ENV_TEST_S3_WRONG' } }));
    expect(refused).toMatch(new RegExp(`^Parquet destination could not reach the bucket: bucket 'lake' at ${s3.endpoint.replace(/\./g, '\\.')} refused the credentials \\(HTTP 403 `));
    expect(refused).not.toContain('not-the-secret');
  });
});
