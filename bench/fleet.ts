/**
 * A fleet on one machine: N syncs of `--pages` pages (10 records each, the API answering in `--latency` ms) started
 * at once from one process onto a Temporal dev server with a state file (as `bizon server` runs it) and W worker
 * processes, side by side in one run with the bare-Temporal references (the cursor as workflow state, one
 * activity per page that GETs it and appends its records to a file, nothing else; regular or local activities).
 *
 *   npm run bench:fleet -- [--syncs 40] [--workers 2] [--pages 100] [--latency 50]
 *                          [--modes bizon,batched,local,bare,bare-local,scheduled] [--servers bizon,default,wal] [--engine '{json}'] [--cpu-prof dir]
 *                          [--server-calls] [--worker-args '--max-concurrent-pages 100']
 *
 * Modes: bizon-temporal with one page per activity (the default), 20 per activity, pages as local activities
 * (`engine.page_activity: local`); the bare references with regular and with local activities; `scheduled`: the
 * default mode with each sync on a Temporal Schedule of its own, created beforehand, which the server fires at the
 * next minute — no process of ours starts them.
 * Servers: `bizon` is the dev server as `bizon server` and `bizon run` start it (engine/temporal-server.ts), `default`
 * without SQLite pragmas, `wal` with journal_mode=wal and synchronous=normal; `real` is the Temporal server itself
 * (`temporal-server`, built by scripts/setup.sh --for-tests) on a Postgres of its own that syncs to disk, with
 * 4 history shards — its CPU counted with Postgres's. For each: one sync alone, then all N:
 * aggregate pages/s, all/alone, slowest/fastest, CPU ms per page of the server and of the workers, the start's CPU in
 * the starting process, history events per page, and whether every output holds every record once; then what
 * starting syncs through the CLI costs in CPU (one `bizon run --detach` per sync, or one for them all).
 * With `--server-calls`: what the server did per page in each mode, from its own metrics — its API calls, its
 * persistence and visibility writes by operation, the history tasks by type — side by side.
 */
import './build-first.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type ScheduleHandle } from '@temporalio/client';
import { startSync, waitForResult } from '../client.ts';
import { scheduleSync } from '../schedules.ts';
import { syncWorkflowId } from '../engine/ids.ts';
import { startExampleApi, type ExampleApi } from '../examples/api/server.ts';
import { callsTable, cpuMs, serverCalls, startServer, type BenchServer } from './fleet-servers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAGE_SOURCE = path.join(ROOT, 'examples', 'page', 'source.ts');
const PAGE_SIZE = 10;

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}
const SYNCS = Number(flag('syncs', '40'));
const WORKERS = Number(flag('workers', '2'));
const PAGES = Number(flag('pages', '100'));
const LATENCY = Number(flag('latency', '50'));
const MODES = flag('modes', 'bizon,batched,local,bare,bare-local,scheduled').split(',');
const SERVERS = flag('servers', 'bizon,default,wal').split(',');
/** Engine keys added to every bizon-temporal mode, to weigh one (e.g. '{"checkpoint_every": 1000}'). */
const ENGINE = JSON.parse(flag('engine', '{}')) as Record<string, unknown>;
/** A directory for a V8 CPU profile of each worker process (node --cpu-prof), to see where their time goes. */
const CPU_PROFILES = flag('cpu-prof', '');
/** More arguments for bizon-temporal's workers (`bizon worker …`), to weigh a worker option. */
const WORKER_ARGS = flag('worker-args', '').split(' ').filter(Boolean);
/**
 * The server's CPU is read this long after the last sync ended: every workflow task and activity leaves timers that
 * fire seconds later (the workflow task's 10 s timeout, the sticky queue's, the activity's heartbeat timeout), work
 * the server does for those pages too, whichever mode it is.
 */
const TIMER_SETTLE_MS = 12_000;
/** Print the server's calls per page in each mode (its Prometheus counters, by operation), side by side. */
const SERVER_CALLS = process.argv.includes('--server-calls');

const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));
let runs = 0;

/** Spawns a worker process and waits until it says it polls. */
async function startWorker(argv: string[], ready: RegExp, address: string): Promise<ChildProcess> {
  const profiling = CPU_PROFILES ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILES}`] : [];
  const child = spawn(process.execPath, [...profiling, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TEMPORAL_ADDRESS: address } });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${output}`)));
  });
  return child;
}

interface Mode {
  workerArgv(address: string, taskQueue: string): string[];
  ready: RegExp;
  /** Starts one sync; returns its workflow id and the file its records land in. */
  start(client: Client, api: ExampleApi, taskQueue: string): Promise<{ workflowId: string; file: string }>;
}

const bizonMode = (engine: Record<string, unknown>): Mode => ({
  workerArgv: (_address, taskQueue) => [path.join(ROOT, 'bin', 'bizon.mjs'), 'worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR', ...WORKER_ARGS],
  ready: /bizon worker polling/,
  async start(client, api, taskQueue) {
    const directory = tempDir('bench-fleet-');
    const { workflowId } = await startSync(client, {
      config: { name: `fleet-${++runs}`, source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: PAGE_SIZE }, destination: { name: 'file', config: { directory } }, engine: { ...engine, ...ENGINE } },
      customSourceFiles: [PAGE_SOURCE],
      taskQueue,
    });
    return { workflowId, file: path.join(directory, 'my_source_users.jsonl') };
  },
});

const bareMode = (workflowType: string): Mode => ({
  workerArgv: (address, taskQueue) => ['--import', 'tsx', path.join(ROOT, 'bench', 'fleet-bare-worker.ts'), address, taskQueue],
  ready: /ready/,
  async start(client, api, taskQueue) {
    const file = path.join(tempDir('bench-fleet-bare-'), 'users.jsonl');
    const workflowId = `fleet-bare-${++runs}`;
    await client.workflow.start(workflowType, { taskQueue, workflowId, args: [{ url: api.url, pageSize: PAGE_SIZE, file }] });
    return { workflowId, file };
  },
});

const MODE_DEFINITIONS: Record<string, Mode> = {
  bizon: bizonMode({}),
  batched: bizonMode({ pages_per_activity: 20 }),
  local: bizonMode({ page_activity: 'local' }),
  bare: bareMode('barePagesWorkflow'),
  'bare-local': bareMode('bareLocalPagesWorkflow'),
};

/** Lines of the file, and how many distinct ids they hold. */
function outputOf(file: string): { lines: number; ids: number } {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id?: number; source_record_id?: string });
  return { lines: lines.length, ids: new Set(lines.map((line) => line.source_record_id ?? String(line.id))).size };
}

async function waitFor(client: Client, workflowId: string): Promise<void> {
  if (workflowId.startsWith('fleet-bare-')) await client.workflow.getHandle(workflowId).result();
  else await waitForResult(client, workflowId);
}

async function fleetRow(server: BenchServer, client: Client, api: ExampleApi, name: string, mode: Mode, calls: Map<string, Map<string, number>>): Promise<string> {
  const taskQueue = `fleet-${name}-${++runs}`;
  const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(mode.workerArgv(server.address, taskQueue), mode.ready, server.address)));
  try {
    const aloneStarted = performance.now();
    const alone = await mode.start(client, api, taskQueue);
    await waitFor(client, alone.workflowId);
    const aloneSeconds = (performance.now() - aloneStarted) / 1000;
    const history = await client.workflow.getHandle(alone.workflowId).fetchHistory();
    const eventsPerPage = (history.events?.length ?? 0) / PAGES;

    const serverCpu = server.cpuMs();
    const workersCpu = workers.reduce((sum, worker) => sum + cpuMs(worker.pid!), 0);
    const callsBefore = SERVER_CALLS ? await serverCalls(server) : undefined;
    const startCpu = process.cpuUsage();
    const started = performance.now();
    const syncs = await Promise.all(Array.from({ length: SYNCS }, () => mode.start(client, api, taskQueue)));
    const startSeconds = (performance.now() - started) / 1000;
    const startUsage = process.cpuUsage(startCpu);
    const finished: number[] = [];
    await Promise.all(syncs.map(async ({ workflowId }) => finished.push(await waitFor(client, workflowId).then(() => (performance.now() - started) / 1000))));
    return await measuredRow({ server, workers, name, started, finished, syncs, serverCpu, workersCpu, callsBefore, calls }, {
      span: `${((performance.now() - started) / 1000 / aloneSeconds).toFixed(1)}× (${aloneSeconds.toFixed(1)} s alone)`,
      start: `${startSeconds.toFixed(1)} s, ${((startUsage.user + startUsage.system) / 1000 / SYNCS).toFixed(0)} ms/sync`,
      eventsPerPage: eventsPerPage.toFixed(1),
    });
  } finally {
    // SIGINT: a worker that stops on it exits normally, and so writes its CPU profile.
    for (const worker of workers) worker.kill(CPU_PROFILES ? 'SIGINT' : 'SIGTERM');
    await Promise.all(workers.map((worker) => (worker.exitCode === null ? new Promise((resolve) => worker.once('exit', resolve)) : undefined)));
  }
}

/** What a row measured from `started` on (the CPU counters read before it), once the timers its pages left fired. */
interface RowRun {
  server: BenchServer;
  workers: ChildProcess[];
  name: string;
  started: number;
  /** Seconds from `started` at which each sync ended. */
  finished: number[];
  syncs: Array<{ file: string }>;
  serverCpu: number;
  workersCpu: number;
  callsBefore: Map<string, number> | undefined;
  calls: Map<string, Map<string, number>>;
}

/** The row's line: pages/s, fairness, CPU ms per page of the server and the workers, and exact outputs. */
async function measuredRow(run: RowRun, text: { span: string; start: string; eventsPerPage: string }): Promise<string> {
  const seconds = (performance.now() - run.started) / 1000;
  await sleepMs(TIMER_SETTLE_MS);
  const pages = SYNCS * PAGES;
  const serverMs = (run.server.cpuMs() - run.serverCpu) / pages;
  const workersMs = (run.workers.reduce((sum, worker) => sum + cpuMs(worker.pid!), 0) - run.workersCpu) / pages;
  if (run.callsBefore) {
    const after = await serverCalls(run.server);
    run.calls.set(run.name, new Map([...after].map(([key, count]) => [key, (count - (run.callsBefore!.get(key) ?? 0)) / pages])));
  }
  const records = PAGES * PAGE_SIZE - 1;
  const exact = run.syncs.filter(({ file }) => {
    const output = outputOf(file);
    return output.lines === records && output.ids === records;
  }).length;
  return [
    run.name.padEnd(11),
    (pages / seconds).toFixed(1).padStart(7),
    text.span.padStart(20),
    (Math.max(...run.finished) / Math.min(...run.finished)).toFixed(2).padStart(9),
    serverMs.toFixed(1).padStart(7),
    workersMs.toFixed(1).padStart(8),
    (serverMs + workersMs).toFixed(1).padStart(6),
    text.start.padStart(20),
    text.eventsPerPage.padStart(7),
    `${exact}/${SYNCS}`.padStart(6),
  ].join(' ');
}

/**
 * `scheduled`: each sync on its own Schedule (every minute), created before a minute starts; the server starts them
 * all at the minute, and the row is measured from there. The schedules are deleted once every sync has started.
 */
async function scheduledRow(server: BenchServer, client: Client, api: ExampleApi, calls: Map<string, Map<string, number>>): Promise<string> {
  const mode = MODE_DEFINITIONS.bizon!;
  const taskQueue = `fleet-scheduled-${++runs}`;
  const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker(mode.workerArgv(server.address, taskQueue), mode.ready, server.address)));
  const schedules: ScheduleHandle[] = [];
  try {
    // Created well inside one minute, so that every schedule's first run is at the same (next) minute.
    if (new Date().getSeconds() > 40) await sleepMs((61 - new Date().getSeconds()) * 1000);
    const createCpu = process.cpuUsage();
    const syncs = await Promise.all(
      Array.from({ length: SYNCS }, async () => {
        const directory = tempDir('bench-fleet-scheduled-');
        const name = `fleet-${++runs}`;
        const config = { name, source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: PAGE_SIZE }, destination: { name: 'file', config: { directory } }, engine: { ...ENGINE, temporal: { task_queue: taskQueue } } };
        schedules.push(await scheduleSync(client, { config, customSourceFiles: [PAGE_SOURCE] }, { every: '1m' }));
        return { workflowId: syncWorkflowId({ name, source: config.source }), file: path.join(directory, 'my_source_users.jsonl') };
      }),
    );
    const createUsage = process.cpuUsage(createCpu);
    const firesAt = Math.ceil(Date.now() / 60_000) * 60_000;
    await sleepMs(firesAt - Date.now());
    const serverCpu = server.cpuMs();
    const workersCpu = workers.reduce((sum, worker) => sum + cpuMs(worker.pid!), 0);
    const callsBefore = SERVER_CALLS ? await serverCalls(server) : undefined;
    const started = performance.now();
    // Each sync exists once its schedule's run has started it; then the schedules go, before they fire again.
    for (const { workflowId } of syncs) while (!(await client.workflow.getHandle(workflowId).describe().then(() => true, () => false))) await sleepMs(200);
    await Promise.all(schedules.splice(0).map((schedule) => schedule.delete()));
    const finished: number[] = [];
    await Promise.all(syncs.map(async ({ workflowId }) => finished.push(await waitForResult(client, workflowId).then(() => (performance.now() - started) / 1000))));
    return await measuredRow({ server, workers, name: 'scheduled', started, finished, syncs, serverCpu, workersCpu, callsBefore, calls }, {
      span: `${((performance.now() - started) / 1000).toFixed(1)} s from the minute`,
      start: `by the server; ${((createUsage.user + createUsage.system) / 1000 / SYNCS).toFixed(0)} ms/schedule made`,
      eventsPerPage: '',
    });
  } finally {
    await Promise.all(schedules.map((schedule) => schedule.delete().catch(() => undefined)));
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((worker) => (worker.exitCode === null ? new Promise((resolve) => worker.once('exit', resolve)) : undefined)));
  }
}

const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** User + system CPU ms of a command and its children (bash's `time`), and its exit code. */
function cpuOfCommand(argv: string[], env: NodeJS.ProcessEnv): { ms: number; code: number | null } {
  const quoted = argv.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
  const run = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; { time ${quoted} >/dev/null 2>&1; } 2>&1`], { env, encoding: 'utf8' });
  const [user, system] = run.stdout.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { ms: ((user ?? 0) + (system ?? 0)) * 1000, code: run.status };
}

/** What starting syncs through the CLI costs the starting machine: one `bizon run` per sync, or one for all. */
function cliStarts(server: BenchServer, api: ExampleApi): string {
  const dir = tempDir('bench-fleet-cli-');
  const env = { ...process.env, TEMPORAL_ADDRESS: server.address };
  const files = Array.from({ length: SYNCS }, (_, index) => {
    const file = path.join(dir, `p${index}.yml`);
    writeFileSync(file, `name: cli-${++runs}\nsource: { name: my_source, stream: users, api_url: '${api.url}', page_size: ${PAGE_SIZE} }\ndestination: { name: file, config: { directory: '${dir}' } }\nengine: { temporal: { task_queue: fleet-cli-nobody } }\n`);
    return file;
  });
  const bizon = [process.execPath, path.join(ROOT, 'bin', 'bizon.mjs'), 'run', '--detach', '--no-worker', '--custom-source', PAGE_SOURCE];
  const node = cpuOfCommand([process.execPath, '-e', ''], env).ms;
  const one = cpuOfCommand([...bizon, files[0]!], env);
  const all = cpuOfCommand([...bizon, ...files.slice(1)], env);
  if (one.code !== 0 || all.code !== 0) throw new Error(`bizon run --detach exited with ${one.code} / ${all.code}`);
  return `CLI starts (no worker polls them): node alone ${node.toFixed(0)} ms CPU; one \`bizon run --detach\` ${one.ms.toFixed(0)} ms (${(one.ms - node).toFixed(0)} beyond node); one \`bizon run --detach\` of ${SYNCS - 1} files ${all.ms.toFixed(0)} ms (${((all.ms - node) / (SYNCS - 1)).toFixed(0)} ms per sync beyond node)`;
}

console.log(`Fleet: ${SYNCS} syncs × ${PAGES} pages × ${PAGE_SIZE} records, API at ${LATENCY} ms, ${WORKERS} worker processes, all started at once from one process`);
const api = await startExampleApi({ datasets: { users: PAGES * PAGE_SIZE - 1 }, latencyMs: LATENCY });
try {
  for (const serverName of SERVERS) {
    const server = await startServer(serverName);
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    try {
      console.log(`\nServer: ${serverName}`);
      console.log('mode         pages/s         all/alone      slow/fast server  workers  total            start   ev/page exact');
      console.log('                                                        CPU ms per page');
      const calls = new Map<string, Map<string, number>>();
      for (const name of MODES) console.log(name === 'scheduled' ? await scheduledRow(server, client, api, calls) : await fleetRow(server, client, api, name, MODE_DEFINITIONS[name]!, calls));
      if (SERVER_CALLS) console.log(`\n${callsTable(calls)}`);
      if (serverName === SERVERS[0]) console.log(cliStarts(server, api));
    } finally {
      await client.connection.close();
      await server.stop();
    }
  }
} finally {
  await api.close();
}
