import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cliEnv, quietWorkerLogs, readRows, runBizon, startTestEngine, tempDir, unique, writeConfig, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine([], 'status');
});
afterAll(async () => engine?.stop());

function slowDummy(dir: string, name: string, checkpointEvery = 1) {
  return writeConfig(dir, {
    name,
    source: { name: 'dummy', stream: 'creatures', page_size: 1, delay_ms: 250 },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: engine.taskQueue }, checkpoint_every: checkpointEvery },
  });
}

const env = () => cliEnv({ BIZON_UI_URL: inject('temporalUiUrl') });

async function waitForPage(name: string, page: number): Promise<void> {
  const handle = engine.client.workflow.getHandle(`bizon-sync:${name}:dummy:creatures`);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const progress = await handle.query<{ iteration: number }>('progress').catch(() => ({ iteration: 0 }));
    if (progress.iteration >= page) return;
    if (Date.now() > deadline) throw new Error(`page ${page} never came`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('bizon schedule, status and cancel', () => {
  it('schedule create, list, describe, pause, unpause, trigger and delete', async () => {
    const dir = tempDir();
    const name = unique('cli-schedule');
    const config = slowDummy(dir, name);
    const id = `bizon-schedule:${name}:dummy:creatures`;

    const created = await runBizon(['schedule', 'create', config, '--every', '1h', '--paused', '--note', 'made by a test'], { env: env() });
    expect(created.stdout).toContain(`Created schedule ${id} (every 1h, overlap: skip)`);
    expect(created.code).toBe(0);
    expect((await runBizon(['schedule', 'list'], { env: env() })).stdout).toContain(`${id}\tpaused`);
    const described = await runBizon(['schedule', 'describe', name], { env: env() });
    expect(described.stdout).toContain('state: paused (made by a test)');
    expect((await runBizon(['schedule', 'unpause', name], { env: env() })).stdout).toBe(`Unpaused ${name}\n`);
    expect((await runBizon(['schedule', 'list'], { env: env() })).stdout).toContain(`${id}\tactive`);
    expect((await runBizon(['schedule', 'trigger', id], { env: env() })).code).toBe(0);
    await waitForPage(name, 1);
    await engine.client.workflow.getHandle(`bizon-sync:${name}:dummy:creatures`).result();
    expect(readRows(path.join(dir, 'dummy_creatures.jsonl'))).toHaveLength(12);
    expect((await runBizon(['schedule', 'delete', id], { env: env() })).stdout).toBe(`Deleted ${id}\n`);
    expect((await runBizon(['schedule', 'describe', id], { env: env() })).code).not.toBe(0);
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
    const config = slowDummy(dir, name);
    const started = await runBizon(['run', config, '--detach'], { env: env() });
    expect(started.code).toBe(0);
    await waitForPage(name, 3);

    const cancelled = await runBizon(['cancel', name], { env: env() });
    expect(cancelled.code).toBe(0);
    expect(cancelled.stderr).toMatch(new RegExp(`Cancelled bizon-sync:${name}:dummy:creatures after page \\d+: nothing was published`));
    expect(readRows(path.join(dir, 'dummy_creatures.jsonl'))).toHaveLength(0);

    const status = await runBizon(['status', name], { env: env() });
    expect(status.stdout).toMatch(/^cancelled\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+\s+\d+/m);
    expect(status.stdout).toContain(`${inject('temporalUiUrl')}/namespaces/default/workflows/bizon-sync%3A${name}`);

    const resumed = await runBizon(['run', config, '--no-worker'], { env: env() });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resumed the failed sync after page \d+/);
    expect(readRows(path.join(dir, 'dummy_creatures.jsonl')).map((row) => row.source_record_id)).toEqual(
      Array.from({ length: 12 }, (_, index) => String(index + 1)),
    );

    const after = await runBizon(['status', config], { env: env() });
    const lines = after.stdout.split('\n');
    expect(lines[0]).toBe(`Runs of pipeline '${name}', newest first:`);
    expect(lines[1]).toMatch(/^STATUS\s+STARTED \(UTC\)\s+ENDED \(UTC\)\s+PAGES\s+RECORDS\s+WATERMARK\s+RESUMED$/);
    expect(lines[2]).toMatch(/^completed\s.*\s12\s+12\s+\d{4}-\d\d-\d\dT\S+\s+after page \d+$/);
  });

  it('status --watch follows the running sync with the live progress line', async () => {
    const dir = tempDir();
    const name = unique('cli-watch');
    // Checkpoints every 10 pages: the pages status shows for a running sync come from its live progress.
    const config = slowDummy(dir, name, 10);
    expect((await runBizon(['run', config, '--detach'], { env: env() })).code).toBe(0);
    await waitForPage(name, 3);
    const status = await runBizon(['status', name], { env: env() });
    const running = /^running\s+\S+ \S+\s+-\s+(\d+)\s+(\d+)/m.exec(status.stdout);
    expect(Number(running?.[1])).toBeGreaterThanOrEqual(3);
    expect(Number(running?.[2])).toBe(Number(running?.[1]));
    const watched = await runBizon(['status', name, '--watch'], { env: env() });
    expect(watched.code).toBe(0);
    expect(watched.stderr).toMatch(/extracting · page \d+ · \d+ records of 12 \(\d+%\)/);
    expect(watched.stderr).toContain('✔ Sync succeeded');
    expect(watched.stderr).toContain('pages: 12 · records: 12');
  });
});
