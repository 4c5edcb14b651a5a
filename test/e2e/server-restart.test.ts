import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { freePort, startDevServer, type DevServer } from '../../engine/temporal-server.ts';
import { startSync } from '../../client.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { PAGE_SOURCE, readRows, spawnBizon, spawnWorker, tempDir, unique, writeConfig } from '../helpers.ts';

const RECORDS = 1495; // 150 pages of 10, the last one short
let api: ExampleApi | undefined;
let server: DevServer | undefined;
const processes: ChildProcess[] = [];

afterAll(async () => {
  for (const child of processes) child.kill('SIGKILL');
  await server?.stop();
  await api?.close();
});

/** Holds page 50 until the server is gone, so the kill lands in the middle of the sync. */
function holdPage50() {
  return api!.hold((request) => Number(request.query.page) === 50);
}

describe('the Temporal server going away', () => {
  it('killed in the middle of a 150-page sync and started again on its state file: the sync completes, every record once', async () => {
    api = await startExampleApi({ datasets: { users: RECORDS }, latencyMs: 5 });
    const dir = tempDir();
    const dbFile = path.join(dir, 'temporal.db');
    const port = await freePort();
    server = await startDevServer({ dbFile, port, ui: false });
    const address = server.address;
    const taskQueue = unique('restart');
    const env = { ...process.env, TEMPORAL_ADDRESS: address };
    processes.push(spawnWorker(taskQueue, { env }));
    const page50 = holdPage50();

    let client = new Client({ connection: await Connection.connect({ address }) });
    const sync = await startSync(client, {
      config: {
        name: unique('restart'),
        source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
        destination: { name: 'file', config: { directory: dir } },
      },
      customSourceFiles: [PAGE_SOURCE],
      taskQueue,
    });
    await client.connection.close();

    await page50.reached;
    server.process.kill('SIGKILL');
    await server.stop();
    page50.release();
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const restartedAt = Date.now(); // until now no server ran: nothing could complete a page
    server = await startDevServer({ dbFile, port, ui: false });
    const pageAtRestart = Math.max(...api.requests.map((request) => Number(request.query.page ?? 0)));

    client = new Client({ connection: await Connection.connect({ address }) });
    try {
      const result = (await client.workflow.getHandle(sync.workflowId).result()) as SyncResult;
      expect(result.records).toBe(RECORDS);
      const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
      expect(ids).toHaveLength(RECORDS);
      expect(new Set(ids).size).toBe(RECORDS);
      // The outage came mid-sync: pages before it were read once, and every page after 50 was read once the server was back.
      const requestsOf = (page: number) => api!.requests.filter((request) => request.path === '/users' && Number(request.query.page) === page);
      for (let page = 1; page < 50; page += 1) expect(requestsOf(page)).toHaveLength(1);
      expect(requestsOf(51)[0]!.at).toBeGreaterThanOrEqual(restartedAt);
      const firstAfter = api.requests.find((request) => request.at > downAt + 2000);
      console.log(
        `server down at page ${pageAtRestart}; first page after restart ${firstAfter ? ((firstAfter.at - downAt) / 1000).toFixed(1) : '?'}s after the kill`,
      );
    } finally {
      await client.connection.close();
    }
  });
});

describe('bizon run across a server restart', () => {
  it('keeps waiting, reconnects, and reports the sync it started', async () => {
    await server?.stop();
    await api?.close();
    api = await startExampleApi({ datasets: { users: RECORDS }, latencyMs: 5 });
    const dir = tempDir();
    const dbFile = path.join(dir, 'temporal.db');
    const port = await freePort();
    server = await startDevServer({ dbFile, port, ui: false });
    const config = writeConfig(dir, {
      name: unique('restart-run'),
      source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('restart-run') } },
    });
    const page50 = holdPage50();
    const run = spawnBizon(['run', config, '--custom-source', PAGE_SOURCE], { env: { ...process.env, TEMPORAL_ADDRESS: server.address }, cwd: dir });
    processes.push(run);
    let stderr = '';
    run.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => run.once('exit', resolve));

    await page50.reached;
    server.process.kill('SIGKILL');
    await server.stop();
    page50.release();
    await new Promise((resolve) => setTimeout(resolve, 6000));
    server = await startDevServer({ dbFile, port, ui: false });

    expect(await exited).toBe(0);
    expect(stderr).toContain('✔ Sync succeeded');
    const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
    expect(new Set(ids).size).toBe(RECORDS);
    expect(ids).toHaveLength(RECORDS);
  });
});
