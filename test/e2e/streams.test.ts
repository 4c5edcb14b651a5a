import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ApiRequest, type ExampleApi } from '../../examples/api/server.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PipelineResult, SyncResult } from '../../workflows/types.ts';
import { getPipelineProgress, PipelineFailedError, preparePipeline, runPipeline, startPipeline, startSync, waitForPipeline, type PreparedPipeline } from '../../client.ts';
import { followBizon, readRows, REST_SOURCE, ROOT, runBizon, spawnWorker, startTestEngine, tempDir, unique, waitForPendingActivity, writeConfig, type CliResult } from '../helpers.ts';

// users: 6 pages of 20, orders: 8, products: 2 (cursor pages: no empty page at the end).
const SIZES = { users: 120, orders: 150, products: 40 };
let api: ExampleApi;
let refuseOrdersAfter: string | undefined;

beforeAll(async () => {
  api = await startExampleApi({
    datasets: SIZES,
    fault: (request) =>
      request.path === '/rest/orders' && refuseOrdersAfter !== undefined && request.query.after === refuseOrdersAfter
        ? { status: 400, body: { error: 'orders are being migrated' } }
        : undefined,
  });
});
afterAll(async () => api?.close());

/** A pipeline of the REST example over `streams`, each into its own file in `dir`. */
function pipelineConfig(dir: string, streams: string[], engine: Record<string, unknown> = {}): string {
  return writeConfig(dir, {
    name: unique('streams'),
    source: { name: 'rest_api', streams, base_url: `${api.url}/rest`, page_size: 20 },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: unique('streams') }, retry: { initial_interval: '100ms' }, ...engine },
  });
}

const idsIn = (dir: string, stream: string) => readRows(path.join(dir, `rest_api_${stream}.jsonl`)).map((row) => Number(row.source_record_id));
const requestsOf = (stream: string, since: number): ApiRequest[] => api.requests.slice(since).filter((request) => request.path === `/rest/${stream}`);

describe('a pipeline of several streams (source.streams)', () => {
  it('one stream failing: the others publish, the exit code is 1, and the next run resumes the failed stream only from its checkpoint', async () => {
    const dir = tempDir();
    const config = pipelineConfig(dir, ['users', 'orders', 'products']);
    refuseOrdersAfter = '60'; // orders' 4th page
    const first = await runBizon(['run', config, '--custom-source', REST_SOURCE]);
    refuseOrdersAfter = undefined;
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('1 of 3 streams did not succeed');
    expect(first.stderr).toMatch(/✖ orders: failed — .*HTTP 400.*orders are being migrated/);
    expect(first.stderr).toMatch(/✔ users\n\s+pages: 6 · records: 120/);
    expect(idsIn(dir, 'users')).toHaveLength(120);
    expect(idsIn(dir, 'products')).toHaveLength(40);
    expect(idsIn(dir, 'orders')).toEqual([]);

    const since = api.requests.length;
    const second = await runBizon(['run', config, '--custom-source', REST_SOURCE]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('✔ Pipeline succeeded');
    expect(second.stderr).toMatch(/✔ orders\n\s+pages: 8 · records: 150.*\n\s+resumed the failed sync after page 3/);
    const orders = idsIn(dir, 'orders');
    expect(orders).toHaveLength(150);
    expect(new Set(orders).size).toBe(150);
    // Its pages 1–3 were not asked for again; the page that failed and the ones after were.
    expect(requestsOf('orders', since).map((request) => request.query.after ?? 'first')).toEqual(['60', '80', '100', '120', '140']);
  });

  it('streams sync at once, up to max_parallel_streams', async () => {
    const dir = tempDir();
    const since = api.requests.length;
    // Each stream's first page is held: the three are only all asked for if they run at the same time.
    const holds = (['users', 'orders', 'products'] as const).map((stream) => api.hold((request) => request.path === `/rest/${stream}` && request.query.after === undefined));
    const run = followBizon(['run', pipelineConfig(dir, ['users', 'orders', 'products'], { max_parallel_streams: 3 }), '--custom-source', REST_SOURCE]);
    try {
      await Promise.all(holds.map((hold) => hold.reached));
    } finally {
      for (const hold of holds) hold.release();
    }
    expect(await run.exited).toBe(0);
    for (const [stream, size] of Object.entries(SIZES)) expect(idsIn(dir, stream)).toHaveLength(size);
    expect(requestsOf('users', since).length + requestsOf('orders', since).length + requestsOf('products', since).length).toBe(6 + 8 + 2);
  });

  it('with max_parallel_streams: 1 the streams run one after another, in the order of the config', async () => {
    const dir = tempDir();
    const since = api.requests.length;
    const result = await runBizon(['run', pipelineConfig(dir, ['products', 'users'], { max_parallel_streams: 1 }), '--custom-source', REST_SOURCE]);
    expect(result.code).toBe(0);
    const products = requestsOf('products', since);
    const users = requestsOf('users', since);
    expect(products.at(-1)!.at).toBeLessThanOrEqual(users[0]!.at);
    expect(idsIn(dir, 'products')).toHaveLength(40);
    expect(idsIn(dir, 'users')).toHaveLength(120);
  });

  it('status lists every stream, cancel stops the whole pipeline, and the next run resumes each stream', async () => {
    const dir = tempDir();
    const taskQueue = unique('streams-worker');
    const config = pipelineConfig(dir, ['users', 'orders'], { temporal: { task_queue: taskQueue } });
    const worker = spawnWorker(taskQueue, { customSources: [REST_SOURCE] });
    // Each stream's second page waits: both are running for as long as the test needs.
    const heldOrders = api.hold((request) => request.path === '/rest/orders' && request.query.after === '20');
    const heldUsers = api.hold((request) => request.path === '/rest/users' && request.query.after === '20');
    try {
      const started = await runBizon(['run', config, '--detach', '--custom-source', REST_SOURCE]);
      expect(started.code).toBe(0);
      expect(started.stderr).toContain('Started pipeline');
      await Promise.all([heldOrders.reached, heldUsers.reached]);
      const status = await runBizon(['status', config]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/^STREAM\s+STATUS/m);
      expect(status.stdout).toMatch(/^orders\s+running/m);
      expect(status.stdout).toMatch(/^users\s+running/m);

      // A second start with another config is refused while it runs, naming what differs.
      const changed = writeConfig(dir, { ...parse(readFileSync(config, 'utf8')), source: { ...parse(readFileSync(config, 'utf8')).source, page_size: 25 } }, 'changed.yml');
      const refused = await runBizon(['run', changed, '--detach', '--custom-source', REST_SOURCE]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/is already running with another config: source\.page_size differ/);

      const cancelled = await runBizon(['cancel', config]);
      expect(cancelled.code).toBe(0);
      expect(cancelled.stderr).toMatch(/Cancelled bizon-pipeline:streams-[0-9a-f]+:rest_api: its streams' syncs stopped/);
      const after = await runBizon(['status', config]);
      expect(after.stdout).toMatch(/^orders\s+cancelled/m);
      expect(after.stdout).toMatch(/^users\s+cancelled/m);
    } finally {
      heldOrders.release();
      heldUsers.release();
      worker.kill('SIGKILL');
    }
    const again = await runBizon(['run', config, '--custom-source', REST_SOURCE]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/✔ orders\n\s+pages: 8 · records: 150.*\n\s+resumed the failed sync after page 1/);
    expect(again.stderr).toMatch(/✔ users\n\s+pages: 6 · records: 120.*\n\s+resumed the failed sync after page 1/);
    expect(idsIn(dir, 'orders')).toHaveLength(150);
    expect(new Set(idsIn(dir, 'orders')).size).toBe(150);
    expect(idsIn(dir, 'users')).toHaveLength(120);
    expect(new Set(idsIn(dir, 'users')).size).toBe(120);
  });

  it('status --watch of a running pipeline follows it stream by stream to its verdict', async () => {
    const dir = tempDir();
    const taskQueue = unique('streams-watch');
    const config = pipelineConfig(dir, ['users', 'products'], { temporal: { task_queue: taskQueue } });
    const worker = spawnWorker(taskQueue, { customSources: [REST_SOURCE] });
    const held = api.hold((request) => request.path === '/rest/users' && request.query.after === '20');
    try {
      expect((await runBizon(['run', config, '--detach', '--custom-source', REST_SOURCE])).code).toBe(0);
      await held.reached;
      const watched = followBizon(['status', config, '--watch']);
      await watched.waitForStderr(/Following bizon-pipeline:/);
      held.release();
      expect(await watched.exited).toBe(0);
      const out = watched.stderr();
      expect(out).toMatch(/✔ Pipeline succeeded: /);
      expect(out).toMatch(/✔ users\n\s+pages: 6 · records: 120/);
      expect(out).toMatch(/✔ products\n\s+pages: 2 · records: 40/);
    } finally {
      held.release();
      worker.kill('SIGKILL');
    }
  });

  it('a schedule runs the whole pipeline: every stream, each under its own sync id', async () => {
    const dir = tempDir();
    const engine = await startTestEngine([REST_SOURCE], 'streams-schedule');
    try {
      const config = pipelineConfig(dir, ['users', 'products'], { temporal: { task_queue: engine.taskQueue } });
      const created = await runBizon(['schedule', 'create', config, '--every', '1h', '--paused', '--custom-source', REST_SOURCE]);
      expect(created.code).toBe(0);
      const scheduleId = /Created schedule (\S+)/.exec(created.stdout)![1]!;
      expect(scheduleId).toMatch(/^bizon-schedule:streams-[0-9a-f]+:rest_api:\*$/);
      const schedule = engine.client.schedule.getHandle(scheduleId);
      try {
        await schedule.trigger();
        let launched: { workflowId: string; firstExecutionRunId: string } | undefined;
        while (!launched) {
          launched = (await schedule.describe()).info.recentActions.at(-1)?.action.workflow;
          if (!launched) await sleep(100);
        }
        const pipeline = (await engine.client.workflow.getHandle(launched.workflowId, launched.firstExecutionRunId).result()) as PipelineResult;
        expect(pipeline.streams.map((stream) => [stream.stream, stream.status, stream.workflowId.replace(/streams-[0-9a-f]+/, 'NAME')])).toEqual([
          ['users', 'succeeded', 'bizon-sync:NAME:rest_api:users'],
          ['products', 'succeeded', 'bizon-sync:NAME:rest_api:products'],
        ]);
        expect(idsIn(dir, 'users')).toHaveLength(120);
        expect(idsIn(dir, 'products')).toHaveLength(40);
      } finally {
        await schedule.delete();
      }
    } finally {
      await engine.stop();
    }
  });

  it('a stream whose sync already runs on its own: the pipeline waits for it, then runs the stream', async () => {
    const dir = tempDir();
    const engine = await startTestEngine([REST_SOURCE], 'streams-wait');
    const held = api.hold((request) => request.path === '/rest/users' && request.query.after === '20');
    try {
      const config = parse(readFileSync(pipelineConfig(dir, ['users', 'products'], { temporal: { task_queue: engine.taskQueue } }), 'utf8'));
      const { streams: _streams, ...source } = config.source;
      const manual = await startSync(engine.client, { config: { ...config, source: { ...source, stream: 'users' } }, customSourceFiles: [REST_SOURCE], taskQueue: engine.taskQueue });
      await held.reached;
      const prepared = await preparePipeline({ config, customSourceFiles: [REST_SOURCE], taskQueue: engine.taskQueue });
      const pipeline = await startPipeline(engine.client, prepared as PreparedPipeline);
      await waitForPendingActivity(pipeline.handle, 'waitForSync');
      held.release();
      expect(((await manual.handle.result()) as SyncResult).records).toBe(120);
      const outcome = await waitForPipeline(engine.client, pipeline.workflowId);
      expect(outcome.streams.map((stream) => [stream.stream, stream.status, stream.result?.records])).toEqual([
        ['users', 'succeeded', 120],
        ['products', 'succeeded', 40],
      ]);
      // The stream ran after the manual run ended: its own sync, started by the pipeline.
      expect(Date.parse(outcome.streams[0]!.result!.startedAt)).toBeGreaterThanOrEqual(Date.parse(((await manual.handle.result()) as SyncResult).finishedAt));
    } finally {
      held.release();
      await engine.stop();
    }
  });

  it('examples/rest-api/all-streams.yml syncs every stream of the REST example', async () => {
    const dir = tempDir();
    const config = parse(readFileSync(path.join(ROOT, 'examples', 'rest-api', 'all-streams.yml'), 'utf8'));
    config.name = unique(config.name);
    config.source.base_url = `${api.url}/rest`;
    config.destination.config.directory = dir;
    config.engine = { ...config.engine, temporal: { task_queue: unique('all-streams') } };
    const result = await runBizon(['run', writeConfig(dir, config), '--custom-source', REST_SOURCE]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('✔ Pipeline succeeded');
    for (const stream of ['users', 'orders', 'products']) {
      expect(readRows(path.join(dir, `rest_api_${stream}.jsonl`)).map((row) => row.source_data)).toEqual(api.data[stream]);
    }
  });

  it('refuses a config with both stream and streams, or a stream listed twice', async () => {
    const dir = tempDir();
    const both = writeConfig(dir, { name: 'x', source: { name: 'rest_api', stream: 'users', streams: ['orders'], base_url: api.url }, destination: { name: 'logger' } }, 'both.yml');
    const twice = writeConfig(dir, { name: 'x', source: { name: 'rest_api', streams: ['users', 'users'], base_url: api.url }, destination: { name: 'logger' } }, 'twice.yml');
    const unknown = writeConfig(dir, { name: 'x', source: { name: 'rest_api', streams: ['users', 'invoices'], base_url: api.url }, destination: { name: 'logger' } }, 'unknown.yml');
    const [a, b, c] = (await Promise.all([both, twice, unknown].map((file) => runBizon(['run', file, '--custom-source', REST_SOURCE])))) as [CliResult, CliResult, CliResult];
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('source: set either stream (one stream) or streams (a list of streams), not both');
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('source.streams: users listed more than once');
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('invoices');
  });
});

describe('the program API of a pipeline (runPipeline, getPipelineProgress, PipelineFailedError)', () => {
  it('runPipeline resolves with every stream; getPipelineProgress shows them while it runs; a failed stream rejects with PipelineFailedError and every outcome', async () => {
    const engine = await startTestEngine([REST_SOURCE], 'streams-api');
    const dir = tempDir();
    const request = (name: string) => ({
      config: { name, source: { name: 'rest_api', streams: ['users', 'products'], base_url: `${api.url}/rest`, page_size: 20 }, destination: { name: 'file', config: { directory: dir } }, engine: { retry: { initial_interval: '100ms' } } },
      customSourceFiles: [REST_SOURCE],
      taskQueue: engine.taskQueue,
    });
    try {
      // users' second page waits: the progress is read while the pipeline runs.
      const held = api.hold((candidate) => candidate.path === '/rest/users' && candidate.query.after === '20');
      const name = unique('streams-api');
      const running = runPipeline(engine.client, request(name));
      await held.reached;
      const prepared = (await preparePipeline(request(name))) as PreparedPipeline;
      const progress = await getPipelineProgress(engine.client, prepared.workflowId);
      expect(progress.streams.map((stream) => stream.stream)).toEqual(['users', 'products']);
      expect(progress.streams[0]!.status).toBe('running');
      held.release();
      const result = await running;
      expect(result.streams.map((stream) => [stream.stream, stream.status, stream.result?.records])).toEqual([
        ['users', 'succeeded', 120],
        ['products', 'succeeded', 40],
      ]);

      refuseOrdersAfter = '20';
      const failed = await runPipeline(engine.client, { ...request(unique('streams-api-fail')), config: { ...request('x').config, name: unique('streams-api-fail'), source: { ...request('x').config.source, streams: ['orders', 'products'] } } }).then(
        () => undefined,
        (error: unknown) => error,
      );
      refuseOrdersAfter = undefined;
      expect(failed).toBeInstanceOf(PipelineFailedError);
      const outcome = (failed as PipelineFailedError).outcome;
      expect(outcome.streams.map((stream) => [stream.stream, stream.status])).toEqual([
        ['orders', 'failed'],
        ['products', 'succeeded'],
      ]);
      expect(outcome.streams[0]!.error).toContain('HTTP 400');
    } finally {
      refuseOrdersAfter = undefined;
      await engine.stop();
    }
  });
});
