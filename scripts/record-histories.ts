// Records the histories of real syncs as replay fixtures (test/fixtures/histories/), on purpose:
//   npm run fixtures:record
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
import { runPipeline, runSync, startSync } from '../client.ts';
import { PACKAGE_ROOT } from '../engine/package-root.ts';
import { findTemporalBinary, startDevServer } from '../engine/temporal-server.ts';
import { startExampleApi } from '../examples/api/server.ts';
import { createWorker } from '../worker.ts';

const temporal = findTemporalBinary()!;
const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'histories');
const PAGE_SOURCE = path.join(PACKAGE_ROOT, 'examples', 'page', 'source.ts');
const REST_SOURCE = path.join(PACKAGE_ROOT, 'examples', 'rest-api', 'source.ts');
const TASK_QUEUE = 'replay-fixtures';

Runtime.install({ logger: new DefaultLogger('WARN') });
const server = await startDevServer({ ui: false });
// Page 3 of the `orders` stream fails once for good (401): the `resumed` case fails there, then resumes.
let refuseOrdersPage3 = true;
const api = await startExampleApi({
  datasets: { users: 45, orders: 40, products: 12 },
  fault: (request) => {
    if (request.path === '/orders' && request.query.page === '3' && refuseOrdersPage3) return { status: 401 };
    return undefined;
  },
});
const worker = await createWorker({ address: server.address, taskQueue: TASK_QUEUE, customSourceFiles: [PAGE_SOURCE, REST_SOURCE] });
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
  'several-streams': () =>
    runPipeline(client, { config: { name: 'replay-several-streams', source: { ...page('users'), stream: undefined, streams: ['users', 'orders'] }, destination: logger }, customSourceFiles: [PAGE_SOURCE], taskQueue: TASK_QUEUE }),
};

try {
  for (const [name, run] of Object.entries(cases)) {
    await run();
    process.stderr.write(`ran ${name}\n`);
  }
  worker.shutdown();
  await running;

  rmSync(FIXTURES, { recursive: true, force: true });
  mkdirSync(FIXTURES, { recursive: true });
  const executions: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list()) executions.push(execution);
  let written = 0;
  for (const execution of executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime())) {
    const caseName = Object.keys(cases).find((name) => execution.workflowId.includes(`replay-${name}`)) ?? 'shared';
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
  await server.stop();
  rmSync(outputDir, { recursive: true, force: true });
}
