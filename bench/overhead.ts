/**
 * What durability costs, measured side by side in one run against the local
 * example API (same page source, same file destination, same records out):
 *
 * - a plain loop calling `get()` and staging each page (no Temporal),
 * - a bare Temporal workflow, one activity per page and nothing else,
 * - a bizon-temporal sync with one page per activity (the default),
 * - a bizon-temporal sync with `pages_per_activity: 50`,
 *
 * at 0, 50 and 200 ms API latency, then through a proxy adding 25 ms each way
 * between the worker and the server, then with 1,000-record pages (into a file, Postgres and DuckDB, and
 * the publish of 1,000,000 staged rows into each); then the
 * quickstart's wall time, a worker's memory after 1,000 and 10,000 pages, and 4 streams (or 4 slices of one
 * stream) at once vs one at a time, and a worker's start with the prebuilt workflow bundle vs bundling.
 *
 *   npm run bench -- [--pages 500] [--stock] [--only latency,remote,large,destinations,memory,streams,slices,workerstart,dlt,quickstart]
 *
 * `--pages` sets the pages of the 0 and 50 ms cases and of the proxy (200 ms uses a fifth of it). `--stock` also
 * runs the latency cases on a dev server as it ships. Ratios are times divided by the plain loop's time.
 */
import './build-first.ts';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { runPipeline, runSync } from '../client.ts';
import { FileDestination } from '../destinations/file.ts';
import { createDestination, destinationDefinition } from '../destinations/index.ts';
import { startDevServer, type DevServer } from '../engine/temporal-server.ts';
import { startExampleApi, type ExampleApi } from '../examples/api/server.ts';
import { validateIteration } from '../sources/iteration.ts';
import type { Pagination } from '../sources/models.ts';
import { loadCustomCode } from '../config/custom-code.ts';
import type { CustomSource } from '../sources/registry.ts';
import type { AbstractSource } from '../sources/source.ts';
import { startTestPostgres, type TestPostgres } from '../test/postgres.ts';
import { createWorker } from '../worker.ts';
import { startDelayProxy } from './delay-proxy.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_FILE = path.join(ROOT, 'examples', 'page', 'source.ts');
const BATCH = { pages_per_activity: 50, activity_time_budget: '5s' };

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}
const PAGES = Number(flag('pages', '500'));

Runtime.install({ logger: new DefaultLogger('ERROR') });
const [custom] = await loadCustomCode([SOURCE_FILE]);
const SourceCtor = custom!.cls as unknown as new (config: unknown) => AbstractSource;
const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));
let runs = 0;

/** The example API with `pages` pages of `pageSize` records, one record short so nobody asks for an empty page. */
function apiFor(pages: number, pageSize: number, latencyMs: number): Promise<ExampleApi> {
  return startExampleApi({ datasets: { users: pages * pageSize - 1 }, latencyMs });
}

function sourceConfig(api: ExampleApi, pageSize: number) {
  return { name: 'my_source', stream: 'users', api_url: api.url, page_size: pageSize, api_config: { retry_limit: 10, request_timeout: 30 } };
}

/** Seconds a plain loop takes: get(), validate, stage; then publish. */
async function plainLoop(api: ExampleApi, pageSize: number): Promise<number> {
  const started = performance.now();
  const source = new SourceCtor({ ...sourceConfig(api, pageSize), sync_mode: 'full_refresh', force_ignore_checkpoint: false });
  const destination = new FileDestination({ directory: tempDir('bench-plain-') }, 'users');
  let pagination: Pagination | undefined;
  for (let iteration = 1; ; iteration++) {
    const page = validateIteration(await source.get(pagination), { source: 'my_source', stream: 'users', iteration });
    await destination.write({ syncRunId: 'plain', iteration, extractedAt: new Date(), records: page.records });
    if (!page.nextPagination) break;
    pagination = page.nextPagination;
  }
  await destination.finalize({ syncRunId: 'plain', mode: 'replace' });
  return (performance.now() - started) / 1000;
}

/** A Temporal server with a bizon worker and a bare-Temporal worker, reached directly or through a proxy. */
interface Engine {
  client: Client;
  bare(api: ExampleApi, pageSize: number): Promise<number>;
  bizon(api: ExampleApi, pageSize: number, engine?: Record<string, unknown>, destination?: { name: string; config: Record<string, unknown> }): Promise<number>;
  stop(): Promise<void>;
}

async function startEngine(address: string): Promise<Engine> {
  const client = new Client({ connection: await Connection.connect({ address }) });
  const worker = await createWorker({ address, taskQueue: 'bench', customSources: [custom!] });
  const workerRun = worker.run();
  let bareSource: AbstractSource | undefined;
  const bareWorker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    taskQueue: 'bench-bare',
    workflowsPath: path.join(ROOT, 'bench', 'bare-temporal-workflow.ts'),
    activities: {
      async fetchPage(pagination: Pagination | null) {
        const page = await bareSource!.get(pagination ?? undefined);
        return page.nextPagination && Object.keys(page.nextPagination).length > 0 ? page.nextPagination : null;
      },
    },
  });
  const bareRun = bareWorker.run();
  return {
    client,
    async bare(api, pageSize) {
      bareSource = new SourceCtor({ ...sourceConfig(api, pageSize), sync_mode: 'full_refresh', force_ignore_checkpoint: false });
      const started = performance.now();
      await client.workflow.execute('barePagesWorkflow', { taskQueue: 'bench-bare', workflowId: `bench-bare-${++runs}-${Date.now()}` });
      return (performance.now() - started) / 1000;
    },
    async bizon(api, pageSize, engine = {}, destination = { name: 'file', config: { directory: tempDir('bench-sync-') } }) {
      const started = performance.now();
      await runSync(client, {
        config: {
          name: `bench-${++runs}-${Date.now()}`,
          source: sourceConfig(api, pageSize),
          destination,
          engine,
        },
        customSources: [custom!],
        taskQueue: 'bench',
      });
      return (performance.now() - started) / 1000;
    },
    async stop() {
      worker.shutdown();
      bareWorker.shutdown();
      await Promise.all([workerRun, bareRun]);
      await client.connection.close();
    },
  };
}

const pad = (value: string, width: number) => value.padEnd(width);
const ratio = (seconds: number, plain: number) => `${(seconds / plain).toFixed(2)}×`;

function printHeader(title: string, columns: string[]): void {
  console.log(`\n${title}`);
  console.log(columns.map((column, index) => pad(column, index === 0 ? 34 : 14)).join(''));
}
function printRow(label: string, cells: string[]): void {
  console.log([pad(label, 34), ...cells.map((cell) => pad(cell, 14))].join(''));
}

/** Plain loop, bare Temporal, bizon (1 page per activity) and bizon batched, at each latency. */
async function latencyCases(server: DevServer, label: string): Promise<void> {
  const engine = await startEngine(server.address);
  printHeader(`${label} — 10-record pages, seconds (ratio to the plain loop)`, ['case', 'plain loop', 'bare Temporal', 'bizon 1/act', 'bizon batched', '1/act', 'batched']);
  try {
    for (const [latencyMs, pages] of [
      [0, PAGES],
      [50, PAGES],
      [200, Math.max(10, Math.round(PAGES / 5))],
    ] as const) {
      const api = await apiFor(pages, 10, latencyMs);
      const plain = await plainLoop(api, 10);
      const bare = await engine.bare(api, 10);
      const one = await engine.bizon(api, 10);
      const batched = await engine.bizon(api, 10, BATCH);
      await api.close();
      printRow(`${pages} pages, API at ${latencyMs} ms`, [plain.toFixed(2), `${bare.toFixed(2)} (${ratio(bare, plain)})`, one.toFixed(2), batched.toFixed(2), ratio(one, plain), ratio(batched, plain)]);
    }
  } finally {
    await engine.stop();
  }
}

/** The same through a proxy adding 25 ms each way between worker/client and server: a remote cluster's round trip. */
async function remoteCase(server: DevServer): Promise<void> {
  const proxy = await startDelayProxy(server.address, 25);
  const engine = await startEngine(proxy.address);
  const pages = PAGES;
  printHeader('Through a proxy adding 25 ms each way between worker and server (API at 50 ms), seconds', ['case', 'plain loop', 'bizon 1/act', 'bizon batched', '1/act', 'batched']);
  try {
    const api = await apiFor(pages, 10, 50);
    const plain = await plainLoop(api, 10);
    const one = await engine.bizon(api, 10);
    const batched = await engine.bizon(api, 10, BATCH);
    await api.close();
    printRow(`${pages} pages`, [plain.toFixed(2), one.toFixed(2), batched.toFixed(2), ratio(one, plain), ratio(batched, plain)]);
  } finally {
    await engine.stop();
    await proxy.close();
  }
}

/** Records/s with pages of 1,000 records at 0 ms. */
async function largePages(server: DevServer): Promise<void> {
  const engine = await startEngine(server.address);
  const pages = 200;
  printHeader(`${pages} pages of 1,000 records, API at 0 ms, records/s`, ['case', 'plain loop', 'bizon 1/act', 'bizon batched', '1/act', 'batched']);
  try {
    const api = await apiFor(pages, 1000, 0);
    const records = pages * 1000 - 1;
    const plain = await plainLoop(api, 1000);
    const one = await engine.bizon(api, 1000);
    const batched = await engine.bizon(api, 1000, BATCH);
    await api.close();
    const rate = (seconds: number) => `${Math.round(records / seconds / 1000)}k`;
    printRow('records/s (share of the plain loop)', [rate(plain), rate(one), rate(batched), (plain / one).toFixed(2), (plain / batched).toFixed(2)]);
  } finally {
    await engine.stop();
  }
}

/** A destination of each kind, writing somewhere new each time. */
function destinationsToCompare(postgres: TestPostgres) {
  return {
    file: async () => ({ name: 'file', config: { directory: tempDir('bench-file-') } }),
    postgres: async () => ({ name: 'postgres', config: { connection_string: await postgres.createDatabase('bench') } }),
    duckdb: async () => ({ name: 'duckdb', config: { path: path.join(tempDir('bench-duckdb-'), 'bench.duckdb') } }),
    parquet: async () => ({ name: 'parquet', config: { path: tempDir('bench-parquet-') } }),
  };
}

/** Records/s into each destination (1,000-record pages at 0 ms), then the time to publish 1,000,000 staged rows. */
async function destinationCases(server: DevServer): Promise<void> {
  const postgres = await startTestPostgres();
  const engine = await startEngine(server.address);
  const kinds = destinationsToCompare(postgres);
  const pages = 200;
  try {
    printHeader(`${pages} pages of 1,000 records, API at 0 ms, records/s by destination (ratio to file)`, ['case', 'file', 'postgres', 'duckdb', 'parquet', 'postgres/file', 'duckdb/file', 'parquet/file']);
    const api = await apiFor(pages, 1000, 0);
    const records = pages * 1000 - 1;
    for (const [label, batch] of [['1 page per activity', {}], ['batched', BATCH]] as const) {
      const seconds: Record<string, number> = {};
      for (const [kind, destination] of Object.entries(kinds)) seconds[kind] = await engine.bizon(api, 1000, batch, await destination());
      const rate = (kind: string) => records / seconds[kind]!;
      const kilo = (kind: string) => `${Math.round(rate(kind) / 1000)}k`;
      printRow(label, [kilo('file'), kilo('postgres'), kilo('duckdb'), kilo('parquet'), ...['postgres', 'duckdb', 'parquet'].map((kind) => (rate(kind) / rate('file')).toFixed(2))]);
    }
    await api.close();

    const stagedPages = 1000;
    printHeader(`${stagedPages} pages of 1,000 records staged by write(), then published by finalize(), seconds`, ['destination', 'stage', 'publish', 'rows']);
    for (const [kind, make] of Object.entries(kinds)) {
      const { name, config } = await make();
      const destination = createDestination(name, destinationDefinition(name).config.parse(config), 'users');
      await destination.checkConnection();
      const staging = performance.now();
      for (let iteration = 1; iteration <= stagedPages; iteration++) {
        const records = Array.from({ length: 1000 }, (_, index) => {
          const id = (iteration - 1) * 1000 + index + 1;
          return { id: String(id), data: { id, name: `user-${id}`, value: (id * 7919) % 1000, updated_at: new Date(Date.UTC(2024, 0, 1) + id * 1000).toISOString() }, timestamp: undefined, destinationId: undefined };
        });
        await destination.write({ syncRunId: 'bench-publish', iteration, extractedAt: new Date(), records });
      }
      const publishing = performance.now();
      const [output] = await destination.finalize({ syncRunId: 'bench-publish', mode: 'replace' });
      const done = performance.now();
      await destination.close?.();
      printRow(kind, [((publishing - staging) / 1000).toFixed(1), ((done - publishing) / 1000).toFixed(1), String(output?.records)]);
    }
  } finally {
    await engine.stop();
    await postgres.stop();
  }
}

/**
 * Runs `work` with a client and a worker for the custom source of `sourceFile` on `taskQueue`, and the API
 * it pages (50 ms a request); prints, with one page per activity and batched, `run(1)` against `run(4)`.
 */
async function oneVersusFour(
  server: DevServer,
  title: string,
  setup: { sourceFile: string; taskQueue: string; datasets: Record<string, number> },
  run: (context: { client: Client; source: CustomSource; api: ExampleApi }, maxParallel: number, engine: Record<string, unknown>) => Promise<unknown>,
): Promise<void> {
  const [source] = await loadCustomCode([setup.sourceFile]);
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  const worker = await createWorker({ address: server.address, taskQueue: setup.taskQueue, customSources: [source!] });
  const workerRun = worker.run();
  const api = await startExampleApi({ datasets: setup.datasets, latencyMs: 50 });
  try {
    console.log(`\n${title}`);
    for (const [label, engine] of [
      ['1 page per activity', {}],
      ['batched', BATCH],
    ] as const) {
      const seconds = async (maxParallel: number) => {
        const started = performance.now();
        await run({ client, source: source!, api }, maxParallel, engine);
        return (performance.now() - started) / 1000;
      };
      const oneAtATime = await seconds(1);
      const allAtOnce = await seconds(4);
      console.log(`  ${label}: one at a time ${oneAtATime.toFixed(2)} s, 4 at once ${allAtOnce.toFixed(2)} s (${(oneAtATime / allAtOnce).toFixed(2)}× faster)`);
    }
  } finally {
    await api.close();
    worker.shutdown();
    await workerRun;
    await client.connection.close();
  }
}

/** Four streams of 50 pages at 50 ms, one at a time (max_parallel_streams: 1) vs all at once (4). */
async function parallelStreams(server: DevServer): Promise<void> {
  const records = 50 * 10 - 1;
  await oneVersusFour(
    server,
    '4 streams of 50 pages at 50 ms (source.streams)',
    { sourceFile: path.join(ROOT, 'bench', 'streams-source.ts'), taskQueue: 'bench-streams', datasets: { s1: records, s2: records, s3: records, s4: records } },
    ({ client, source, api }, maxParallel, engine) =>
      runPipeline(client, {
        config: {
          name: `bench-streams-${++runs}`,
          source: { name: 'bench_streams', streams: ['s1', 's2', 's3', 's4'], api_url: api.url, page_size: 10 },
          destination: { name: 'file', config: { directory: tempDir('bench-streams-') } },
          engine: { max_parallel_streams: maxParallel, ...engine },
        },
        customSources: [source],
        taskQueue: 'bench-streams',
      }),
  );
}

/** One stream in 4 date-range slices of 40 pages at 50 ms (examples/sliced): one slice at a time vs 4 at once. */
async function parallelSlices(server: DevServer): Promise<void> {
  await oneVersusFour(
    server,
    '1 stream in 4 slices of 40 pages at 50 ms (getSlices)',
    // One record a minute for 8 hours: slices of 2 hours hold 120 records, 40 pages of 3.
    { sourceFile: path.join(ROOT, 'examples', 'sliced', 'source.ts'), taskQueue: 'bench-slices', datasets: { users: 480 } },
    ({ client, source, api }, maxParallel, engine) =>
      runSync(client, {
        config: {
          name: `bench-slices-${++runs}`,
          source: { name: 'date_ranges', stream: 'users', base_url: `${api.url}/rest`, page_size: 3, start: '2024-01-01T00:00:00Z', end: '2024-01-01T08:00:00Z', slice_hours: 2 },
          destination: { name: 'file', config: { directory: tempDir('bench-slices-') } },
          engine: { max_parallel_slices: maxParallel, ...engine },
        },
        customSources: [source],
        taskQueue: 'bench-slices',
      }),
  );
}

/** Wall time of `bizon run examples/quickstart/config.yml`, embedded server included, cold then warm. */
async function quickstart(): Promise<void> {
  const cwd = tempDir('bench-quickstart-');
  const env = { ...process.env, BIZON_STATE_DIR: path.join(cwd, 'state'), TEMPORAL_ADDRESS: '' };
  const times: number[] = [];
  for (let run = 0; run < 3; run++) {
    // The server of the run before stops in the background after its command exits: let it finish.
    if (run > 0) await new Promise((resolve) => setTimeout(resolve, 2000));
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'bizon.mjs'), 'run', path.join(ROOT, 'examples', 'quickstart', 'config.yml')], { cwd, env, stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`the quickstart exited with ${code}`);
    times.push((performance.now() - started) / 1000);
  }
  console.log(`\nQuickstart wall time (bizon run, embedded server, 3 pages with 0.3 s of delay each): first ${times[0]!.toFixed(2)} s, then ${times.slice(1).map((time) => time.toFixed(2)).join(' s, ')} s`);
}

/**
 * A worker's start (load its workflow code, create the worker) in a fresh process, with the bundle the package
 * ships, against what it did before: webpack over `workflows/` at a first start (and in every fresh container),
 * or that bundle read back from the cache on later starts. Median of 5 each, in turns.
 */
async function workerStarts(server: DevServer): Promise<void> {
  const cachedFile = path.join(tempDir('bench-bundle-'), 'workflows.js');
  const startOnce = async (how: string): Promise<number> => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'worker-start.ts'), server.address, how, cachedFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`bench/worker-start.ts ${how} exited with ${code}`);
    return Number(output.trim());
  };
  const cases = { prebuilt: 'prebuilt bundle (dist/workflow-bundles)', bundle: 'bundled from workflows/*.ts (first start, fresh cache)', cached: 'that bundle read from the cache (later starts)' };
  const times: Record<string, number[]> = { prebuilt: [], bundle: [], cached: [] };
  for (let round = 0; round < 5; round++) for (const how of Object.keys(cases)) times[how]!.push(await startOnce(how));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const base = median(times.prebuilt!);
  console.log('\nWorker start in a fresh process (workflow code loaded, Worker.create; median of 5)');
  for (const [how, name] of Object.entries(cases)) console.log(`  ${name.padEnd(56)} ${median(times[how]!).toFixed(3)} s  ${(median(times[how]!) / base).toFixed(1)}×`);
}

/** Seconds a command takes as a whole process, and its exit code. */
async function wallOf(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env, cwd, stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${argv.slice(0, 3).join(' ')} exited with ${code}`);
  return (performance.now() - started) / 1000;
}

/**
 * One sync of 200 pages (10 records) at 50 ms, whole process, beside dlt 1.31's rest_api source writing JSONL files
 * (bench/dlt_rest.py; `pip install dlt==1.31.*`): `bizon run` with one page per activity, with local pages and
 * batched, against the bench's server (its worker starts in the process, the server does not). Median of 3.
 */
async function besideDlt(server: DevServer): Promise<void> {
  const hasDlt = spawnSync('python3', ['-c', 'import dlt'], { stdio: 'ignore' }).status === 0;
  if (!hasDlt) {
    console.log('\nBeside dlt: skipped (pip install "dlt==1.31.*" to run it)');
    return;
  }
  const api = await apiFor(200, 10, 50);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const env = { ...process.env, TEMPORAL_ADDRESS: server.address };
  const bizon = (engine: Record<string, unknown>) => async () => {
    const dir = tempDir('bench-dlt-bizon-');
    const config = path.join(dir, 'config.yml');
    writeFileSync(config, JSON.stringify({ name: `bench-dlt-${++runs}`, source: sourceConfig(api, 10), destination: { name: 'file', config: { directory: dir } }, engine: { temporal: { task_queue: `bench-dlt-${runs}` }, ...engine } }));
    return wallOf([process.execPath, path.join(ROOT, 'bin', 'bizon.mjs'), 'run', config, '--custom-source', SOURCE_FILE], env, dir);
  };
  const cases: Array<[string, () => Promise<number>]> = [
    ['dlt rest_api → JSONL', () => wallOf(['python3', path.join(ROOT, 'bench', 'dlt_rest.py'), api.url, tempDir('bench-dlt-'), '10'], env, ROOT)],
    ['bizon run, 1 page per activity', bizon({})],
    ['bizon run, page_activity: local', bizon({ page_activity: 'local' })],
    ['bizon run, 50 pages per activity', bizon(BATCH)],
  ];
  const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let round = 0; round < 3; round++) for (const [name, run] of cases) times.get(name)!.push(await run());
  const plain = await plainLoop(api, 10);
  await api.close();
  const dlt = median(times.get('dlt rest_api → JSONL')!);
  console.log(`\nBeside dlt: 200 pages of 10 at 50 ms, whole process, median of 3 (the plain loop in-process: ${plain.toFixed(2)} s)`);
  for (const [name] of cases) console.log(`  ${name.padEnd(36)} ${median(times.get(name)!).toFixed(2)} s  ${(median(times.get(name)!) / dlt).toFixed(2)}× dlt`);
}

/** Resident memory of a `bizon worker` process after 1,000 pages, then after 10,000 more, twice (batched, 0 ms): warm-up vs growth. */
async function workerMemory(server: DevServer): Promise<void> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'bizon.mjs'), 'worker', '--custom-source', SOURCE_FILE, '--task-queue', 'bench-rss', '--log-level', 'ERROR'], {
    env: { ...process.env, TEMPORAL_ADDRESS: server.address },
    stdio: 'ignore',
  });
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  try {
    const sync = async (pages: number) => {
      const api = await apiFor(pages, 10, 0);
      await runSync(client, {
        config: { name: `bench-rss-${++runs}`, source: sourceConfig(api, 10), destination: { name: 'file', config: { directory: tempDir('bench-rss-') } }, engine: BATCH },
        customSources: [custom!],
        taskQueue: 'bench-rss',
      });
      await api.close();
    };
    await sync(1000);
    const after1k = rssMb();
    await sync(10_000);
    const after11k = rssMb();
    await sync(10_000);
    const after21k = rssMb();
    console.log(
      `\nWorker RSS: ${after1k.toFixed(0)} MB after 1,000 pages, ${after11k.toFixed(0)} MB after 10,000 more (${(after11k / after1k).toFixed(2)}×), ${after21k.toFixed(0)} MB after 10,000 more again (${(after21k / after1k).toFixed(2)}×)`,
    );
  } finally {
    child.kill('SIGTERM');
    await client.connection.close();
  }
}

console.log(`bizon-temporal bench: page source against the local example API, file destination; batched = ${JSON.stringify(BATCH)}`);
const only = flag('only', 'latency,remote,large,destinations,memory,streams,slices,workerstart,dlt,quickstart').split(',');
const server = await startDevServer({ ui: false });
try {
  if (only.includes('latency')) await latencyCases(server, 'Dev server as bizon starts it');
  if (only.includes('remote')) await remoteCase(server);
  if (only.includes('large')) await largePages(server);
  if (only.includes('destinations')) await destinationCases(server);
  if (only.includes('memory')) await workerMemory(server);
  if (only.includes('streams')) await parallelStreams(server);
  if (only.includes('slices')) await parallelSlices(server);
  if (only.includes('workerstart')) await workerStarts(server);
  if (only.includes('dlt')) await besideDlt(server);
} finally {
  await server.stop();
}
if (process.argv.includes('--stock')) {
  const stock = await startDevServer({ ui: false, dynamicConfig: {} });
  try {
    await latencyCases(stock, 'Dev server as it ships (transfer and timer queues read 20 times a second)');
  } finally {
    await stock.stop();
  }
}
if (only.includes('quickstart')) await quickstart();
