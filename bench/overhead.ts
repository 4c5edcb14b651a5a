/**
 * What durability costs: the same source paged three ways, side by side in
 * one run — a plain loop (no Temporal), a bare Temporal workflow with one
 * activity per page and nothing else, and a bizon-temporal sync (validation,
 * staging, checkpoints, exactly-once publish) — on a local dev server.
 *
 *   npx tsx bench/overhead.ts [--pages 300] [--latency 0,20]
 *
 * Prints pages/s of each, and the ratios bizon/plain and bizon/bare-Temporal.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { startExampleApi } from '../examples/api/server.ts';
import { runSync } from '../client.ts';
import { createWorker } from '../worker.ts';
import { SERVER_QUEUE_LIMITS, startDevServer } from '../engine/temporal-server.ts';
import { loadCustomSources } from '../sources/registry.ts';
import { validateIteration } from '../sources/iteration.ts';
import { FileDestination } from '../destinations/file.ts';
import type { AbstractSource } from '../sources/source.ts';
import type { Pagination } from '../sources/models.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_FILE = path.join(ROOT, 'examples', 'page', 'source.ts');

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}

const pages = Number(flag('pages', '300'));
const latencies = flag('latency', '0,20').split(',').map(Number);
const PAGE_SIZE = 10;

Runtime.install({ logger: new DefaultLogger('ERROR') });
const [custom] = await loadCustomSources([SOURCE_FILE]);

/** The three ways, at each latency, on a dev server started with `dynamicConfig`. */
async function benchOn(label: string, dynamicConfig: Record<string, number> | undefined): Promise<void> {
  const server = await startDevServer({ ui: false, ...(dynamicConfig ? { dynamicConfig } : {}) });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  const worker = await createWorker({ address: server.address, taskQueue: 'bench', customSourceFiles: [SOURCE_FILE] });
  const workerRun = worker.run();
  let bareSource: AbstractSource | undefined;
  const bareWorker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
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

  console.log(`\n${label}`);
  console.log('latency_ms  plain_loop  bare_temporal  bizon_temporal  (pages/s)  bizon/plain  bizon/bare');
  try {
    for (const latencyMs of latencies) {
      // One record short of full pages, so neither side asks for an extra empty page.
      const api = await startExampleApi({ datasets: { users: pages * PAGE_SIZE - 1 }, latencyMs });
      const config = { name: `bench-${latencyMs}`, stream: 'users', api_url: api.url, page_size: PAGE_SIZE, api_config: { retry_limit: 10, request_timeout: 30 } };

      const plainStarted = performance.now();
      const SourceCtor = custom!.cls as unknown as new (config: unknown) => AbstractSource;
      const source = new SourceCtor({ ...config, name: 'my_source', sync_mode: 'full_refresh', force_ignore_checkpoint: false });
      const destination = new FileDestination({ directory: mkdtempSync(path.join(tmpdir(), 'bench-plain-')) }, 'users');
      let pagination: Pagination | undefined;
      for (let iteration = 1; ; iteration++) {
        const page = validateIteration(await source.get(pagination), { source: 'my_source', stream: 'users', iteration });
        await destination.write({ syncRunId: 'plain', iteration, extractedAt: new Date(), records: page.records });
        if (!page.nextPagination) break;
        pagination = page.nextPagination;
      }
      await destination.finalize({ syncRunId: 'plain', mode: 'replace' });
      const plainRate = pages / ((performance.now() - plainStarted) / 1000);

      bareSource = new SourceCtor({ ...config, name: 'my_source', sync_mode: 'full_refresh', force_ignore_checkpoint: false });
      const bareStarted = performance.now();
      const barePages = await client.workflow.execute('barePagesWorkflow', { taskQueue: 'bench-bare', workflowId: `bench-bare-${latencyMs}-${Date.now()}` });
      const bareRate = (barePages as number) / ((performance.now() - bareStarted) / 1000);

      const syncStarted = performance.now();
      const result = await runSync(client, {
        config: {
          name: `bench-${latencyMs}-${Date.now()}`,
          source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: PAGE_SIZE },
          destination: { name: 'file', config: { directory: mkdtempSync(path.join(tmpdir(), 'bench-sync-')) } },
        },
        customSources: [custom!],
        taskQueue: 'bench',
      });
      const syncRate = result.iterations / ((performance.now() - syncStarted) / 1000);
      console.log(
        `${String(latencyMs).padEnd(11)} ${plainRate.toFixed(1).padEnd(11)} ${bareRate.toFixed(1).padEnd(14)} ${syncRate.toFixed(1).padEnd(26)} ${(syncRate / plainRate).toFixed(3).padEnd(12)} ${(syncRate / bareRate).toFixed(3)}`,
      );
      await api.close();
    }
  } finally {
    worker.shutdown();
    bareWorker.shutdown();
    await Promise.all([workerRun, bareRun]);
    await client.connection.close();
    await server.stop();
  }
}

console.log(`${pages} pages of ${PAGE_SIZE} records, file destination, page source against the local example API`);
await benchOn('dev server as it ships (transfer and timer queues read 20 times a second)', {});
await benchOn(`dev server as bizon starts it (${Object.entries(SERVER_QUEUE_LIMITS).map(([key, value]) => `${key}=${value}`).join(', ')})`, undefined);
