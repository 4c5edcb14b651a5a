import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { followBizon, PAGE_SOURCE, REST_SOURCE, ROOT, readRows, runBizon, spawnBizon, tempDir, testClient, unique, writeConfig } from '../helpers.ts';
import { startExampleApi } from '../../examples/api/server.ts';
import { freePort } from '../../engine/temporal-server.ts';
import type { PipelineResult } from '../../workflows/types.ts';

/** The environment of a user with no Temporal configured. */
function bareEnv(stateDir: string): NodeJS.ProcessEnv {
  const { TEMPORAL_ADDRESS: _address, ...env } = process.env;
  return { ...env, NO_COLOR: '1', BIZON_STATE_DIR: stateDir };
}

describe('bizon CLI', () => {
  it('the quickstart runs on an embedded Temporal server whose state survives between runs', async () => {
    const dir = tempDir();
    const stateDir = tempDir('bizon-state-');
    const config = path.join(ROOT, 'examples', 'quickstart', 'config.yml');
    const first = await runBizon(['run', config], { cwd: dir, env: bareEnv(stateDir) });
    expect(first.stderr).toContain(`Started a local Temporal server (state in ${path.join(stateDir, 'temporal.db')}); Web UI: http://127.0.0.1:`);
    expect(first.stderr).toContain('✔ Sync succeeded: quickstart (dummy/creatures)');
    expect(first.stderr).toContain('pages: 3 · records: 12');
    expect(first.code).toBe(0);
    expect(existsSync(path.join(stateDir, 'temporal.db'))).toBe(true);
    const rows = readRows(path.join(dir, 'output', 'dummy_creatures.jsonl'));
    expect(rows.map((row) => row.source_data.name)).toEqual([
      'axolotl', 'bison', 'capybara', 'dugong', 'echidna', 'fennec', 'gecko', 'hoopoe', 'ibex', 'jerboa', 'kinkajou', 'lemur',
    ]);

    // A second run replaces the output (full refresh) on the same persisted server state.
    const second = await runBizon(['run', config], { cwd: dir, env: bareEnv(stateDir) });
    expect(second.code).toBe(0);
    expect(readRows(path.join(dir, 'output', 'dummy_creatures.jsonl'))).toHaveLength(12);
    // A published run leaves its output and nothing else (no staging, no bookkeeping, hidden or not).
    expect(readdirSync(path.join(dir, 'output'))).toEqual(['dummy_creatures.jsonl']);
  });

  it('the local state is one per user: an incremental pipeline run from another working directory keeps its watermark', async () => {
    const stateDir = tempDir('bizon-state-');
    const output = tempDir();
    const config = writeConfig(tempDir(), {
      name: unique('anywhere'),
      source: { name: 'dummy', stream: 'plants', sync_mode: 'incremental' },
      destination: { name: 'file', config: { directory: output } },
    });
    const first = await runBizon(['run', config], { cwd: tempDir(), env: bareEnv(stateDir) });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('incremental: no watermark yet');
    const fromCron = await runBizon(['run', config], { cwd: tempDir(), env: bareEnv(stateDir) });
    expect(fromCron.code).toBe(0);
    expect(fromCron.stderr).toMatch(/incremental: read what changed since \d{4}-/);

    // State that an earlier version left in ./.bizon of a working directory is moved to the state directory.
    const oldStyle = tempDir();
    mkdirSync(path.join(oldStyle, '.bizon'));
    copyFileSync(path.join(stateDir, 'temporal.db'), path.join(oldStyle, '.bizon', 'temporal.db'));
    const newStateDir = path.join(tempDir('bizon-state-'), 'nested');
    const adopted = await runBizon(['run', config], { cwd: oldStyle, env: bareEnv(newStateDir) });
    expect(adopted.code).toBe(0);
    expect(adopted.stderr).toContain(`Moved the local Temporal state from ${path.join(oldStyle, '.bizon', 'temporal.db')} to ${path.join(newStateDir, 'temporal.db')}`);
    expect(adopted.stderr).toMatch(/incremental: read what changed since \d{4}-/);
  });

  it('a second bizon run on a local state in use says to start bizon server, in one line', async () => {
    const api = await startExampleApi({ datasets: { users: 12 } });
    const stateDir = tempDir('bizon-state-');
    const config = (name: string) =>
      writeConfig(tempDir(), {
        name,
        source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 4 },
        destination: { name: 'file', config: { directory: tempDir() } },
      });
    const page2 = api.hold((request) => request.path === '/rest/users' && request.query.after === '4');
    try {
      const first = followBizon(['run', config(unique('holder')), '--custom-source', REST_SOURCE], { env: bareEnv(stateDir) });
      await page2.reached;
      const second = await runBizon(['run', config(unique('second')), '--custom-source', REST_SOURCE], { env: bareEnv(stateDir) });
      expect(second.code).toBe(2);
      expect(second.stderr.trim().split('\n')).toHaveLength(1);
      expect(second.stderr).toMatch(/Another bizon process \(pid \d+\) runs a local Temporal server on .*temporal\.db\. Start `bizon server` in another terminal/);
      page2.release();
      expect(await first.exited).toBe(0);
    } finally {
      page2.release();
      await api.close();
    }
  });

  it('ten short bizon runs in a row all exit 0, with nothing printed after the summary', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, {
      name: unique('short'),
      source: { name: 'dummy', stream: 'plants', page_size: 5 },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('short') } },
    });
    for (let run = 0; run < 10; run += 1) {
      const result = await runBizon(['run', file], { cwd: dir });
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(`  output: ${path.join(dir, 'dummy_plants.jsonl')} (10 records)`);
      expect(result.code).toBe(0);
    }
  });

  it('logger destination prints records as JSON lines', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, {
      name: 'logger-check',
      source: { name: 'dummy', stream: 'plants', page_size: 3, max_iterations: 2 },
      destination: { name: 'logger', config: {} },
      engine: { temporal: { task_queue: `logger-${Date.now()}` } },
    });
    const result = await runBizon(['run', file], { cwd: dir });
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.source_data.name)).toEqual(['agave', 'baobab', 'cactus', 'dahlia', 'edelweiss', 'fern']);
    expect(result.stderr).toContain('stopped at max_iterations');
  });

  it('source list and stream list', async () => {
    const sources = await runBizon(['source', 'list', '--custom-source', REST_SOURCE]);
    expect(sources.code).toBe(0);
    expect(sources.stdout).toContain('dummy\tbuilt-in\tstreams: creatures, plants');
    expect(sources.stdout).toContain('rest\tbuilt-in\tstreams: the endpoints of its config');
    expect(sources.stdout).toContain(`rest_api_source | rest_api\tRestApiSource in ${REST_SOURCE}\tstreams: users, orders, products`);
    const streams = await runBizon(['stream', 'list', 'dummy']);
    expect(streams.stdout).toBe('creatures\tfull_refresh, incremental\nplants\tfull_refresh, incremental\n');
    const custom = await runBizon(['stream', 'list', 'my_source', '--custom-source', PAGE_SOURCE]);
    expect(custom.stdout).toBe('users\tfull_refresh\norders\tfull_refresh\n');
    // A file far from any node_modules that imports axios, zod and bizon-temporal loads all the same.
    const elsewhere = path.join(tempDir('bizon-user-'), 'signed.ts');
    copyFileSync(path.join(ROOT, 'examples', 'custom-auth', 'source.ts'), elsewhere);
    const loaded = await runBizon(['source', 'list', '--custom-source', elsewhere], { cwd: path.dirname(elsewhere) });
    expect(loaded.stdout).toContain(`signed_source | signed\tSignedSource in ${elsewhere}\tstreams: users, orders`);
  });

  it('an unknown command exits 2 with help', async () => {
    const result = await runBizon(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });
});

describe('bizon run against a server that outlives it', () => {
  it('--detach starts the sync and returns; a separate `bizon worker` runs it, from a source file outside the project', async () => {
    const api = await startExampleApi({ datasets: { orders: 60 } });
    const client = await testClient();
    const taskQueue = unique('detach');
    // A source file far from any node_modules: 'bizon-temporal' and 'zod' must resolve to the installation's copies.
    const source = path.join(tempDir('bizon-user-'), 'cursor_source.ts');
    copyFileSync(path.join(ROOT, 'examples', 'cursor', 'source.ts'), source);
    const worker = spawnBizon(['worker', '--custom-source', source, '--task-queue', taskQueue]);
    try {
      const dir = tempDir();
      const name = unique('detached');
      const file = writeConfig(dir, {
        name,
        source: { name: 'cursor_source', stream: 'orders', api_url: `${api.url}/cursor`, page_size: 25 },
        destination: { name: 'file', config: { directory: dir } },
        engine: { temporal: { task_queue: taskQueue } },
      });
      const started = await runBizon(['run', file, '--custom-source', source, '--detach'], { cwd: dir });
      expect(started.code).toBe(0);
      expect(started.stderr).toContain(`workflow: bizon-pipeline:${name}:cursor_source:orders (its sync: bizon-sync:${name}:cursor_source:orders)`);
      const run = (await client.workflow.getHandle(`bizon-pipeline:${name}:cursor_source:orders`).result()) as PipelineResult;
      expect(run.streams.map((stream) => [stream.workflowId, stream.status, stream.result?.records])).toEqual([[`bizon-sync:${name}:cursor_source:orders`, 'succeeded', 60]]);
      expect(readRows(path.join(dir, 'cursor_source_orders.jsonl'))).toHaveLength(60);
    } finally {
      worker.kill('SIGTERM');
      await client.connection.close();
      await api.close();
    }
  });

  it('--detach without a server that outlives the command is refused', async () => {
    const dir = tempDir();
    const { TEMPORAL_ADDRESS: _address, ...env } = process.env;
    const result = await runBizon(['run', path.join(ROOT, 'examples', 'quickstart', 'config.yml'), '--detach'], { cwd: dir, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No Temporal server to use');
  });

  it('the progress line shows a page being retried and why', async () => {
    let failures = 0;
    const api = await startExampleApi({
      datasets: { users: 30 },
      fault: (request) => (request.query.page === '2' && failures++ < 2 ? { status: 503, body: { error: 'maintenance' } } : undefined),
    });
    try {
      const dir = tempDir();
      const file = writeConfig(dir, {
        name: unique('progress'),
        source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10 },
        destination: { name: 'file', config: { directory: dir } },
        engine: { temporal: { task_queue: unique('progress') }, retry: { initial_interval: '2s' } },
      });
      const result = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/retrying extractPage \(attempt [23]\): HTTP 503 from GET http:\/\/127\.0\.0\.1:\d+\/users\?page=2&limit=10: \{"error":"maintenance"\}/);
    } finally {
      await api.close();
    }
  });
});

describe('an unreachable Temporal server', () => {
  it('is named, with the remedy, and exits 2', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const result = await runBizon(['status', 'anything'], { env: { ...process.env, TEMPORAL_ADDRESS: address } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Cannot reach Temporal at ${address} (TEMPORAL_ADDRESS)`);
    expect(result.stderr).toContain('`bizon server` starts a local one');
  });
});

describe('bizon server', () => {
  it('serves Temporal and its Web UI on the given ports, keeps state in the given file, and stops on SIGTERM', async () => {
    const dir = tempDir();
    const [port, uiPort] = [await freePort(), await freePort()];
    const dbFile = path.join(dir, 'state.db');
    const server = followBizon(['server', '--port', String(port), '--ui-port', String(uiPort), '--db-file', dbFile]);
    try {
      await server.waitForStderr(/Press Ctrl-C to stop\./);
      expect(server.stderr()).toContain(`Temporal server on 127.0.0.1:${port} (state in ${dbFile}; closed runs kept 30 days)`);
      expect(server.stderr()).toContain(`Web UI: http://127.0.0.1:${uiPort}`);
      const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
      const namespace = await connection.workflowService.describeNamespace({ namespace: 'default' }).finally(() => connection.close());
      expect(Number(namespace.config?.workflowExecutionRetentionTtl?.seconds)).toBe(30 * 86_400);
      expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
      const file = writeConfig(dir, { name: 'on-bizon-server', source: { name: 'dummy', stream: 'plants' }, destination: { name: 'file', config: { directory: dir } } });
      const result = await runBizon(['run', file], { cwd: dir, env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` } });
      expect(result.code).toBe(0);
      expect(existsSync(dbFile)).toBe(true);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  });
});

describe('Ctrl-C during bizon run', () => {
  it('stops the local worker and leaves the sync on Temporal; the same command attaches and finishes it', async () => {
    const api = await startExampleApi({ datasets: { users: 12 } });
    const dir = tempDir();
    const name = unique('interrupted');
    const file = writeConfig(dir, {
      name,
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 1, timeout: 600, api_config: { request_timeout: 600 } },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('interrupted') }, heartbeat_timeout: '2s' },
    });
    // Page 4 is not answered until the first run is gone: the sync is certainly running when Ctrl-C comes.
    const page4 = api.hold((request) => request.path === '/rest/users' && request.query.after === '3');
    try {
      const first = followBizon(['run', file, '--custom-source', REST_SOURCE], { cwd: dir });
      await page4.reached;
      first.child.kill('SIGINT');
      // The held request is aborted by the cancelled page, not left to its 10-minute timeout.
      expect(await first.exited).toBe(130);
      expect(first.stderr()).toContain('Interrupted. The sync stays on Temporal: run the same command again to continue it where it stopped.');
      page4.release();

      const again = await runBizon(['run', file, '--custom-source', REST_SOURCE], { cwd: dir });
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`Attached to the running sync ${name} (rest_api/users)`);
      expect(again.stderr).toContain('pages: 12 · records: 12');
      expect(readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => row.source_record_id)).toEqual(
        Array.from({ length: 12 }, (_, index) => String(index + 1)),
      );
    } finally {
      page4.release();
      await api.close();
    }
  });
});

describe('a get() that never resolves and ignores cancellation', () => {
  const NEVER_RESOLVING = path.join(ROOT, 'test', 'fixtures', 'never_resolving_source.ts');
  const pipeline = (dir: string, extra: Record<string, unknown>) =>
    writeConfig(dir, {
      name: unique('forever'),
      source: { name: 'never', stream: 'forever', api_config: { retry_limit: 2 }, entered_file: path.join(dir, 'entered') },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('forever') }, retry: { initial_interval: '100ms' }, ...extra },
    });

  it('bizon run reports the timeout and exits within 5 s of its verdict, which are its last words', async () => {
    const dir = tempDir();
    const run = followBizon(['run', pipeline(dir, { page_timeout: '2s' }), '--custom-source', NEVER_RESOLVING], { cwd: dir });
    await run.waitForStderr(/✖ Sync failed/);
    const verdictAt = Date.now();
    const verdict = run.stderr().slice(run.stderr().indexOf('✖ Sync failed'));
    expect(await run.exited).toBe(1);
    // The abandoned get() holds the worker for its whole shutdown grace (5 s) and force time; the command does not wait.
    expect(Date.now() - verdictAt).toBeLessThan(5000);
    expect(run.stderr().slice(run.stderr().indexOf('✖ Sync failed'))).toBe(verdict);
    expect(verdict).toMatch(/timeout/i);
    expect(verdict.trimEnd().split('\n').at(-1)).toMatch(/^  Web UI: http|^  in activity extractPage/);
    expect(run.stderr()).not.toMatch(/GracefulShutdown|\n\s+at /);
  });

  it('bizon worker stopped while a get() ignores cancellation: gives up on it after the grace, with a warning and no stack', async () => {
    const dir = tempDir();
    const taskQueue = unique('forever-worker');
    const file = pipeline(dir, { temporal: { task_queue: taskQueue } });
    const worker = followBizon(['worker', '--custom-source', NEVER_RESOLVING, '--task-queue', taskQueue, '--shutdown-grace', '1s'], { cwd: dir });
    await worker.waitForStderr(/bizon worker polling/);
    const started = await runBizon(['run', file, '--no-worker', '--detach', '--custom-source', NEVER_RESOLVING], { cwd: dir });
    expect(started.code).toBe(0);
    while (!existsSync(path.join(dir, 'entered'))) await sleep(50);
    const stopAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    // The grace (1 s) and the 5 s the cancelled page gets: not the fixed 10 s of before, whatever the grace.
    expect(Date.now() - stopAt).toBeLessThan(9000);
    expect(worker.stderr().trimEnd().split('\n').at(-1)).toContain('[WARN] Stopped without waiting for a page whose get() ignored cancellation');
    expect(worker.stderr()).not.toMatch(/GracefulShutdown|Error:|\n\s+at /);
  });

  it('SIGTERM ends bizon run within the shutdown grace and the 5 s a cancelled page gets, with one message', async () => {
    const dir = tempDir();
    const run = followBizon(['run', pipeline(dir, {}), '--custom-source', NEVER_RESOLVING], { cwd: dir });
    while (!existsSync(path.join(dir, 'entered'))) await sleep(50);
    const stopAt = Date.now();
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(130);
    // 5 s of grace, then 5 s for the cancelled get() (which ignores it), then the command stops without it.
    expect(Date.now() - stopAt).toBeLessThan(13_000);
    expect(run.stderr()).toContain('Interrupted. The sync stays on Temporal');
    expect(run.stderr()).not.toContain('✖');
  });
});
