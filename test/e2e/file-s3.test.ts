// The file destination into S3 (SeaweedFS, a real S3-compatible server): NDJSON objects, gzip'd or not, exactly
// once — also when the worker is killed in the middle of the publish of an incremental sync (S3 has no append).
import type { ChildProcess } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { cliEnv, failureOf, quietWorkerLogs, REST_SOURCE, spawnWorker, startTestEngine, testClient, unique, type TestEngine } from '../helpers.ts';
import { startHoldingProxy } from '../holding-proxy.ts';
import { startTestS3, type TestS3 } from '../seaweedfs.ts';

quietWorkerLogs();

let api: ExampleApi;
let engine: TestEngine;
let s3: TestS3;

beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: 120 } });
  engine = await startTestEngine([REST_SOURCE], 'file-s3');
  s3 = await startTestS3();
  await s3.createBucket('files');
  process.env.BIZON_ENV_TEST_S3_KEY_ID = s3.accessKeyId;
  process.env.BIZON_ENV_TEST_S3_SECRET = s3.secretAccessKey;
});
afterAll(async () => {
  await engine?.stop();
  await s3?.stop();
  await api?.close();
});

const INCREMENTAL = { sync_mode: 'incremental', cursor_field: 'updated_at' };
const s3Config = (endpoint = s3.endpoint) => ({ endpoint, access_key_id: 'BIZON_ENV_TEST_S3_KEY_ID', secret_access_key: 'BIZON_ENV_TEST_S3_SECRET' });
const pipelineConfig = (name: string, destination: Record<string, unknown>) => ({
  name,
  source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 25, ...INCREMENTAL },
  destination: { name: 'file', config: destination },
  engine: { heartbeat_timeout: '2s', retry: { initial_interval: '200ms', maximum_interval: '1s' } },
});

/** The ids of the records in an object, in the order of its lines (gunzipped when it is gzip'd). */
async function idsIn(key: string): Promise<string[]> {
  const bytes = Buffer.from(await (await s3.client.send(new GetObjectCommand({ Bucket: 'files', Key: key }))).Body!.transformToByteArray());
  const text = key.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { source_record_id: string }).source_record_id);
}

async function keysUnder(prefix: string): Promise<string[]> {
  return ((await s3.client.send(new ListObjectsV2Command({ Bucket: 'files', Prefix: prefix }))).Contents ?? []).map((object) => object.Key!).sort();
}

const all = Array.from({ length: 120 }, (_, index) => String(index + 1));

describe('the file destination into S3', () => {
  it('an incremental sync appends to the gzip’d object (a gzip member more); readers get every record once; no staging stays', async () => {
    const name = unique('file-s3');
    const destination = { directory: 's3://files/exports', s3: s3Config(), compression: 'gzip' };
    const first = (await (await startSync(engine.client, { config: pipelineConfig(name, destination), customSourceFiles: [REST_SOURCE], taskQueue: engine.taskQueue })).handle.result()) as SyncResult;
    expect(first.outputs).toEqual([{ destinationId: 'rest_api_users', records: 120, location: 's3://files/exports/rest_api_users.jsonl.gz' }]);
    expect(await idsIn('exports/rest_api_users.jsonl.gz')).toEqual(all);
    api.touch('users', [4, 90]);
    const second = (await (await startSync(engine.client, { config: pipelineConfig(name, destination), customSourceFiles: [REST_SOURCE], taskQueue: engine.taskQueue })).handle.result()) as SyncResult;
    expect(second.outputs).toEqual([{ destinationId: 'rest_api_users', records: 2, location: 's3://files/exports/rest_api_users.jsonl.gz' }]);
    expect(await idsIn('exports/rest_api_users.jsonl.gz')).toEqual([...all, '4', '90']);
    expect(await keysUnder('exports/')).toEqual(['exports/rest_api_users.jsonl.gz']);
  });

  it.each([
    { what: 'uploading the object', held: (prefix: string) => `/${prefix}/rest_api_users.jsonl` },
    { what: 'after the upload, recording the publish', held: (prefix: string) => `/${prefix}/_bizon_staging/runs/` },
  ])('a worker killed while $what of an incremental sync: another publishes the run once, never appending it twice', async ({ held: heldPath }) => {
    const proxy = await startHoldingProxy(s3.endpoint);
    const taskQueue = unique('file-s3-kill');
    const client = await testClient();
    const env = cliEnv({ BIZON_ENV_TEST_S3_KEY_ID: s3.accessKeyId, BIZON_ENV_TEST_S3_SECRET: s3.secretAccessKey });
    const workers: ChildProcess[] = [spawnWorker(taskQueue, { env, customSources: [REST_SOURCE] })];
    const prefix = unique('kill');
    const name = unique('file-s3-kill');
    const destination = { directory: `s3://files/${prefix}`, s3: s3Config(proxy.url) };
    const run = async () => (await (await startSync(client, { config: pipelineConfig(name, destination), customSourceFiles: [REST_SOURCE], taskQueue })).handle.result()) as SyncResult;
    try {
      expect((await run()).records).toBe(120);
      api.touch('users', [7, 8, 9]);
      const held = proxy.hold((method, url) => method === 'PUT' && url.startsWith(`/files${heldPath(prefix)}`) && !url.includes('/commit-'));
      const second = run();
      await held.reached;
      workers[0]!.kill('SIGKILL');
      held.drop();
      workers.push(spawnWorker(taskQueue, { env, customSources: [REST_SOURCE] }));
      expect((await second).outputs).toMatchObject([{ records: 3 }]);
      expect(await idsIn(`${prefix}/rest_api_users.jsonl`)).toEqual([...all, '7', '8', '9']);
      expect(await keysUnder(`${prefix}/`)).toEqual([`${prefix}/rest_api_users.jsonl`]);
    } finally {
      for (const worker of workers) worker.kill('SIGKILL');
      await client.connection.close();
      await proxy.close();
    }
  });

  it('a bucket that does not exist fails at once, naming the bucket, the endpoint and the key to fix', async () => {
    const started = await startSync(engine.client, { config: pipelineConfig(unique('file-s3-missing'), { directory: 's3://no-such-bucket/x', s3: s3Config() }), customSourceFiles: [REST_SOURCE], taskQueue: engine.taskQueue });
    expect(await failureOf(started.handle.result())).toBe(`File destination could not reach the bucket: bucket 'no-such-bucket' at ${s3.endpoint} does not exist. Create it, or fix destination.config.directory`);
  });
});
