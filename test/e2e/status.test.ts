import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { cliEnv, followBizon, quietWorkerLogs, readRows, REST_SOURCE, runBizon, startTestEngine, tempDir, unique, waitForPage, writeConfig, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

let engine: TestEngine;
let api: ExampleApi;
beforeAll(async () => {
  engine = await startTestEngine([REST_SOURCE], 'status');
  api = await startExampleApi({ datasets: { users: 12 } });
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
});

/** A 12-page sync of the REST API source (one record a page, a checkpoint every `checkpointEvery` pages), paced by the test through {@link ExampleApi.hold}. */
function pagedSync(dir: string, name: string, checkpointEvery = 1) {
  return writeConfig(dir, {
    name,
    source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 1 },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: engine.taskQueue }, checkpoint_every: checkpointEvery },
  });
}

const syncId = (name: string) => `bizon-sync:${name}:rest_api:users`;

/** Holds this pipeline's request for page 4 (after cursor 3) until released: pages 1-3 are done, the sync is running. */
const holdPage4 = () => api.hold((request) => request.path === '/rest/users' && request.query.after === '3');

function dummyPipeline(dir: string, name: string) {
  return writeConfig(dir, {
    name,
    source: { name: 'dummy', stream: 'creatures', page_size: 1 },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: engine.taskQueue } },
  });
}

const env = () => cliEnv({ BIZON_UI_URL: inject('temporalUiUrl') });

describe('bizon schedule, status and cancel', () => {
  it('schedule create, list, describe, pause, unpause, trigger and delete', async () => {
    const dir = tempDir();
    const name = unique('cli-schedule');
    const config = dummyPipeline(dir, name);
    const id = `bizon-schedule:${name}:dummy:creatures`;

    const created = await runBizon(['schedule', 'create', config, '--every', '1h', '--paused', '--note', 'made by a test'], { env: env() });
    expect(created.stdout).toContain(`Created schedule ${id} (every 1h, overlap: skip)`);
    expect(created.code).toBe(0);
    expect((await runBizon(['schedule', 'list'], { env: env() })).stdout).toContain(`${id}\tpaused`);
    const described = await runBizon(['schedule', 'describe', name], { env: env() });
    expect(described.stdout).toContain('state: paused (made by a test)');
    expect((await runBizon(['schedule', 'unpause', name], { env: env() })).stdout).toBe(`Unpaused ${name}\n`);
    expect((await runBizon(['schedule', 'describe', name], { env: env() })).stdout).toContain('state: active (Unpaused with bizon)\n');
    expect((await runBizon(['schedule', 'list'], { env: env() })).stdout).toContain(`${id}\tactive`);
    expect((await runBizon(['schedule', 'pause', name], { env: env() })).stdout).toBe(`Paused ${name}\n`);
    expect((await runBizon(['schedule', 'describe', name], { env: env() })).stdout).toContain('state: paused (Paused with bizon)\n');
    expect((await runBizon(['schedule', 'list'], { env: env() })).stdout).toContain(`${id}\tpaused`);
    // A paused schedule still runs when triggered by hand.
    expect((await runBizon(['schedule', 'trigger', id], { env: env() })).code).toBe(0);
    await waitForPage(engine.client, `bizon-sync:${name}:dummy:creatures`, 1);
    await engine.client.workflow.getHandle(`bizon-sync:${name}:dummy:creatures`).result();
    expect(readRows(path.join(dir, 'dummy_creatures.jsonl'))).toHaveLength(12);
    expect((await runBizon(['schedule', 'delete', id], { env: env() })).stdout).toBe(`Deleted ${id}\n`);
    expect((await runBizon(['schedule', 'describe', id], { env: env() })).code).not.toBe(0);
  });

  it('schedule create --cron: the schedule runs at the expression\'s times', async () => {
    const dir = tempDir();
    const name = unique('cli-cron');
    const id = `bizon-schedule:${name}:dummy:creatures`;
    const created = await runBizon(['schedule', 'create', dummyPipeline(dir, name), '--cron', '30 3 * * *'], { env: env() });
    expect(created.stdout).toContain(`Created schedule ${id} (cron 30 3 * * *, overlap: skip)`);
    expect(created.code).toBe(0);
    try {
      const described = (await runBizon(['schedule', 'describe', id], { env: env() })).stdout;
      const next = /^next runs: (.+)$/m.exec(described)![1]!.split(', ').map((time) => new Date(time));
      expect(next.length).toBeGreaterThan(1);
      for (const time of next) expect([time.getUTCHours(), time.getUTCMinutes(), time.getUTCSeconds()]).toEqual([3, 30, 0]);
      expect(next[1]!.getTime() - next[0]!.getTime()).toBe(86_400_000);
    } finally {
      await runBizon(['schedule', 'delete', id], { env: env() });
    }
  });

  it('status --limit n lists the n newest runs', async () => {
    const dir = tempDir();
    const name = unique('cli-limit');
    const config = dummyPipeline(dir, name);
    for (let run = 0; run < 3; run += 1) expect((await runBizon(['run', config, '--no-worker'], { env: env() })).code).toBe(0);
    const lines = async (args: string[]) => (await runBizon(['status', name, ...args], { env: env() })).stdout.split('\n').filter((line) => /^completed\s/.test(line));
    expect(await lines([])).toHaveLength(3);
    const two = await lines(['--limit', '2']);
    expect(two).toHaveLength(2);
    // The newest two: the runs' start times, newest first, are those of the full list's first two.
    expect(two).toEqual((await lines([])).slice(0, 2));
  });

  it('schedule backfill runs, one after the other, the syncs of a past period', async () => {
    const dir = tempDir();
    const name = unique('cli-backfill');
    const config = writeConfig(dir, {
      name,
      source: { name: 'dummy', stream: 'plants', page_size: 5 },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: engine.taskQueue } },
    });
    expect((await runBizon(['schedule', 'create', config, '--every', '1h', '--paused'], { env: env() })).code).toBe(0);
    const end = new Date();
    // Any three hours hold exactly three hour marks of an hourly schedule.
    const start = new Date(end.getTime() - 3 * 3600_000);
    const backfill = await runBizon(['schedule', 'backfill', name, '--start', start.toISOString(), '--end', end.toISOString()], { env: env() });
    expect(backfill.code).toBe(0);
    expect(backfill.stdout).toContain(`Backfilling ${name}`);
    const deadline = Date.now() + 60_000;
    let completed = 0;
    while (completed < 3 && Date.now() < deadline) {
      const status = await runBizon(['status', name], { env: env() });
      completed = status.stdout.split('\n').filter((line) => line.startsWith('completed')).length;
      if (completed < 3) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(completed).toBe(3);
    await runBizon(['schedule', 'delete', name], { env: env() });
  });

  it('cancel stops a running sync without publishing, status shows it, and the next run resumes after it', async () => {
    const dir = tempDir();
    const name = unique('cli-cancel');
    const config = pagedSync(dir, name);
    const page4 = holdPage4();
    const started = await runBizon(['run', config, '--detach', '--custom-source', REST_SOURCE], { env: env() });
    expect(started.code).toBe(0);
    await page4.reached;
    await waitForCheckpoint(name, 3);

    const cancelled = await runBizon(['cancel', name], { env: env() });
    page4.release();
    expect(cancelled.code).toBe(0);
    expect(cancelled.stderr).toContain(`Cancelled ${syncId(name)} after page 3: nothing was published`);
    expect(readRows(path.join(dir, 'rest_api_users.jsonl'))).toHaveLength(0);

    const status = await runBizon(['status', name], { env: env() });
    expect(status.stdout).toMatch(/^cancelled\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+3\s+3\s/m);
    expect(status.stdout).toContain(`${inject('temporalUiUrl')}/namespaces/default/workflows/bizon-sync%3A${name}`);

    const resumed = await runBizon(['run', config, '--no-worker', '--custom-source', REST_SOURCE], { env: env() });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('resumed the failed sync after page 3');
    expect(readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => row.source_record_id)).toEqual(
      Array.from({ length: 12 }, (_, index) => String(index + 1)),
    );

    const after = await runBizon(['status', config], { env: env() });
    const lines = after.stdout.split('\n');
    expect(lines[0]).toBe(`Runs of pipeline '${name}', newest first:`);
    expect(lines[1]).toMatch(/^STATUS\s+STARTED \(UTC\)\s+ENDED \(UTC\)\s+PAGES\s+RECORDS\s+WATERMARK\s+RESUMED$/);
    expect(lines[2]).toMatch(/^completed\s.*\s12\s+12\s+\d{4}-\d\d-\d\dT\S+\s+after page 3$/);
  });

  it('stream reset is refused while a sync of the stream runs, naming the way out', async () => {
    const dir = tempDir();
    const name = unique('cli-reset-running');
    const config = pagedSync(dir, name);
    const page4 = holdPage4();
    try {
      expect((await runBizon(['run', config, '--detach', '--custom-source', REST_SOURCE], { env: env() })).code).toBe(0);
      await page4.reached;
      const refused = await runBizon(['stream', 'reset', config], { env: env() });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`A sync of pipeline '${name}' (rest_api/users) is running: stop it first (bizon cancel ${name}), or let it finish, then reset`);
    } finally {
      page4.release();
    }
    await engine.client.workflow.getHandle(syncId(name)).result();
  });

  it('status --watch follows the running sync with the live progress line', async () => {
    const dir = tempDir();
    const name = unique('cli-watch');
    // Checkpoints every 10 pages: the pages status shows for a running sync come from its live progress.
    const config = pagedSync(dir, name, 10);
    const page4 = holdPage4();
    try {
      expect((await runBizon(['run', config, '--detach', '--custom-source', REST_SOURCE], { env: env() })).code).toBe(0);
      await page4.reached;
      await waitForPage(engine.client, syncId(name), 3);
      const status = await runBizon(['status', name], { env: env() });
      expect(status.stdout).toMatch(/^running\s+\S+ \S+\s+-\s+3\s+3\s/m);

      const watched = followBizon(['status', name, '--watch'], { env: env() });
      await watched.waitForStderr(/extracting · page 3 · 3 records of 12 \(25%\)/);
      page4.release();
      expect(await watched.exited).toBe(0);
      expect(watched.stderr()).toContain(`Following ${syncId(name)}`);
      expect(watched.stderr()).toContain('✔ Sync succeeded');
      expect(watched.stderr()).toContain('pages: 12 · records: 12');
    } finally {
      page4.release();
    }
  });
});

describe('a second start of a running pipeline', () => {
  it('with another config is refused, naming the keys that differ; --attach follows the running sync', async () => {
    const dir = tempDir();
    const name = unique('cli-changed');
    const config = pagedSync(dir, name);
    const elsewhere = tempDir();
    const changed = writeConfig(elsewhere, {
      name,
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 2 },
      destination: { name: 'file', config: { directory: elsewhere } },
      engine: { temporal: { task_queue: engine.taskQueue }, checkpoint_every: 1 },
    });
    const page4 = holdPage4();
    try {
      expect((await runBizon(['run', config, '--detach', '--custom-source', REST_SOURCE], { env: env() })).code).toBe(0);
      await page4.reached;

      const same = await runBizon(['run', config, '--detach', '--custom-source', REST_SOURCE], { env: env() });
      expect(same.code).toBe(0);
      expect(same.stderr).toContain(`Attached to the running sync ${name}`);

      const refused = await runBizon(['run', changed, '--no-worker', '--custom-source', REST_SOURCE], { env: env() });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`A sync of pipeline '${name}' (rest_api/users) is already running with another config: source.page_size, destination.config.directory differ.`);
      expect(refused.stderr).toContain('`bizon run --attach`');

      const attached = followBizon(['run', changed, '--no-worker', '--attach', '--custom-source', REST_SOURCE], { env: env() });
      await attached.waitForStderr(/Attached to the running sync/);
      page4.release();
      expect(await attached.exited).toBe(0);
      expect(readRows(path.join(dir, 'rest_api_users.jsonl'))).toHaveLength(12);
      expect(existsSync(path.join(elsewhere, 'rest_api_users.jsonl'))).toBe(false);
    } finally {
      page4.release();
    }
  });
});

/** Waits until the sync's memo holds a checkpoint at `page` (what `bizon cancel` reports). */
async function waitForCheckpoint(name: string, page: number): Promise<void> {
  const handle = engine.client.workflow.getHandle(syncId(name));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const memo = (await handle.describe()).memo as { checkpoint?: { iteration?: number } } | undefined;
    if ((memo?.checkpoint?.iteration ?? 0) >= page) return;
    if (Date.now() > deadline) throw new Error(`no checkpoint at page ${page}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
