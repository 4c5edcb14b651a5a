// Records the histories of real syncs as replay fixtures (test/fixtures/histories/), on purpose:
//   npm run fixtures:record                 (every case; the fixtures recorded before are replaced)
//   npm run fixtures:record -- sliced       (only the cases named, added beside the fixtures already there:
//                                            the old ones keep testing that this code replays older histories)
// Each case runs against a fresh local Temporal dev server, the example API and a worker of the current code.
// test/workflow/replay.test.ts replays every fixture against the workflow code of the checkout: a change that
// would break running syncs (a non-deterministic one) fails there, naming the fixture. Re-record only when the
// change is meant to be incompatible and old histories can no longer be running (docs/deploying.md).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { createServer } from 'node:http';
import { runPipeline, runSync, startSync } from '../client.ts';
import { deleteSchedule, scheduleSync, triggerSchedule } from '../schedules.ts';
import { PACKAGE_ROOT } from '../engine/package-root.ts';
import { findTemporalBinary, startDevServer } from '../engine/temporal-server.ts';
import { startExampleApi } from '../examples/api/server.ts';
import { createWorker } from '../worker.ts';

const temporal = findTemporalBinary()!;
const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'histories');
const PAGE_SOURCE = path.join(PACKAGE_ROOT, 'examples', 'page', 'source.ts');
const REST_SOURCE = path.join(PACKAGE_ROOT, 'examples', 'rest-api', 'source.ts');
const SLICED_SOURCE = path.join(PACKAGE_ROOT, 'examples', 'sliced', 'source.ts');
const TASK_QUEUE = 'replay-fixtures';

Runtime.install({ logger: new DefaultLogger('WARN') });
const server = await startDevServer({ ui: false });
// Page 3 of the `orders` stream fails once for good (401): the `resumed` case fails there, then resumes.
let refuseOrdersPage3 = true;
// The REST `products` after its first page always fails (401): the `alerting` case's sync fails there and alerts.
const api = await startExampleApi({
  datasets: { users: 45, orders: 40, products: 12 },
  fault: (request) => {
    if (request.path === '/orders' && request.query.page === '3' && refuseOrdersPage3) return { status: 401 };
    if (request.path === '/rest/products' && request.query.after !== undefined) return { status: 401 };
    return undefined;
  },
});
// The alert webhook of the `alerting` case.
const hook = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200).end('ok'));
});
await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
process.env.BIZON_ENV_REPLAY_HOOK = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
const worker = await createWorker({ address: server.address, taskQueue: TASK_QUEUE, customSourceFiles: [PAGE_SOURCE, REST_SOURCE, SLICED_SOURCE] });
const running = worker.run();
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const outputDir = mkdtempSync(path.join(tmpdir(), 'bizon-fixtures-'));
const logger = { name: 'file', config: { directory: outputDir } };
const page = (stream: string, extra: Record<string, unknown> = {}) => ({ name: 'my_source', stream, api_url: api.url, page_size: 10, ...extra });
const rest = (extra: Record<string, unknown> = {}) => ({ name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 10, ...extra });

/** Each case: a name (in its pipeline's name, so its workflows are found) and what it runs. */
const cases: Record<string, () => Promise<unknown>> = {
  'full-refresh': () => runSync(client, { config: { name: 'replay-full-refresh', source: page('users'), destination: logger }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }),
  incremental: async () => {
    const config = { name: 'replay-incremental', source: rest({ sync_mode: 'incremental', cursor_field: 'updated_at' }), destination: logger };
    await runSync(client, { config, customSourceFiles: [REST_SOURCE], taskQueue: TASK_QUEUE });
    api.touch('users', [3, 17]);
    await runSync(client, { config, customSourceFiles: [REST_SOURCE], taskQueue: TASK_QUEUE });
  },
  resumed: async () => {
    const config = { name: 'replay-resumed', source: page('orders'), destination: logger, engine: { checkpoint_every: 1 } };
    const first = await startSync(client, { config, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE });
    await first.handle.result().catch(() => undefined);
    refuseOrdersPage3 = false;
    await runSync(client, { config, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE });
  },
  'continued-as-new': () =>
    runSync(client, { config: { name: 'replay-continued-as-new', source: page('users'), destination: logger, engine: { continue_as_new_every: 2 } }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }),
  'rate-limited': () =>
    runSync(client, { config: { name: 'replay-rate-limited', source: page('users', { api_config: { requests_per_second: 20 } }), destination: logger }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }),
  batched: () =>
    runSync(client, { config: { name: 'replay-batched', source: page('users'), destination: logger, engine: { pages_per_activity: 2 } }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }),
  'local-pages': () =>
    runSync(client, { config: { name: 'replay-local-pages', source: page('users'), destination: logger, engine: { page_activity: 'local' } }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }),
  'several-streams': () =>
    runPipeline(client, { config: { name: 'replay-several-streams', source: { ...page('users'), stream: undefined, streams: ['users', 'orders'] }, destination: logger }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }),
  // Three hourly slices (45 users changed one a minute from 00:01: the last two are empty), two at a time.
  sliced: () =>
    runSync(client, {
      config: {
        name: 'replay-sliced',
        source: { name: 'date_ranges', stream: 'users', base_url: `${api.url}/rest`, page_size: 20, start: '2024-01-01T00:00:00Z', end: '2024-01-01T03:00:00Z', slice_hours: 1 },
        destination: logger,
        engine: { max_parallel_slices: 2 },
      },
      customSourceFiles: [SLICED_SOURCE],
      taskQueue: TASK_QUEUE,
    }),
  alerting: async () => {
    const started = await startSync(client, {
      config: { name: 'replay-alerting', source: rest({ stream: 'products' }), destination: logger, alerting: { config: { webhook_url: 'BIZON_ENV_REPLAY_HOOK' } } },
      customSourceFiles: [REST_SOURCE],
      taskQueue: TASK_QUEUE,
    });
    await started.handle.result().catch(() => undefined);
    const { runId } = await started.handle.describe();
    await client.workflow.getHandle(`bizon-alert:${started.workflowId}:${runId}:failed`).result();
  },
  scheduled: async () => {
    const schedule = await scheduleSync(client, { config: { name: 'replay-scheduled', source: page('users'), destination: logger }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }, { every: '1h', paused: true });
    await triggerSchedule(client, schedule.scheduleId);
    for (;;) {
      const launched = (await schedule.describe()).info.recentActions[0]?.action.workflow;
      if (launched) {
        await client.workflow.getHandle(launched.workflowId, launched.firstExecutionRunId).result();
        await client.workflow.getHandle('bizon-sync:replay-scheduled:my_source:users').result();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await deleteSchedule(client, schedule.scheduleId);
  },
};
const only = process.argv.slice(2);
for (const name of only) if (!(name in cases)) throw new Error(`No case '${name}': the cases are ${Object.keys(cases).join(', ')}`);

try {
  for (const [name, run] of Object.entries(cases)) {
    if (only.length > 0 && !only.includes(name)) continue;
    await run();
    process.stderr.write(`ran ${name}\n`);
  }
  worker.shutdown();
  await running;

  if (only.length === 0) rmSync(FIXTURES, { recursive: true, force: true });
  mkdirSync(FIXTURES, { recursive: true });
  const executions: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list()) executions.push(execution);
  // Numbered after the fixtures already there.
  let written = Math.max(-1, ...readdirSync(FIXTURES).map((file) => Number(/--(\d+)\.json$/.exec(file)?.[1] ?? -1))) + 1;
  for (const execution of executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime())) {
    const caseName = Object.keys(cases).find((name) => execution.workflowId.includes(`replay-${name}`)) ?? 'shared';
    if (only.length > 0 && !only.includes(caseName)) continue;
    // The CLI's proto JSON, the form Worker.runReplayHistories reads (and a reviewer can read too).
    const history = execFileSync(temporal, ['workflow', 'show', '--address', server.address, '--workflow-id', execution.workflowId, '--run-id', execution.runId, '--output', 'json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const file = `${caseName}--${execution.type}--${String(written).padStart(2, '0')}.json`;
    writeFileSync(path.join(FIXTURES, file), `${JSON.stringify({ workflowId: execution.workflowId, runId: execution.runId, type: execution.type, history: JSON.parse(history) }, null, 1)}\n`);
    written += 1;
  }
  process.stderr.write(`${written} histories in ${path.relative(PACKAGE_ROOT, FIXTURES)}: ${readdirSync(FIXTURES).join(', ')}\n`);
} finally {
  await client.connection.close();
  await api.close();
  await new Promise((resolve) => hook.close(resolve));
  await server.stop();
  rmSync(outputDir, { recursive: true, force: true });
}
