import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { freePort } from '../../engine/temporal-server.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { cliEnv, followBizon, PAGE_SOURCE, runBizon, spawnBizon, tempDir, testClient, unique, writeConfig } from '../helpers.ts';

const TOKEN = 'metrics-token-9b7c';
let api: ExampleApi;
beforeEach(async () => {
  api = await faultyApi();
});
afterEach(() => api?.close());

/** 95 users behind a token; page 3's first ask is refused with 429 (Retry-After: 1), page 6's first two with 500. */
function faultyApi(): Promise<ExampleApi> {
  return startExampleApi({
    datasets: { users: 95 },
    token: TOKEN,
    fault: (request, log) => {
      if (request.path !== '/users') return undefined;
      const asked = log.filter((entry) => entry.path === '/users' && entry.query.page === request.query.page).length;
      if (request.query.page === '3' && asked === 1) return { status: 429, headers: { 'retry-after': '1' } };
      if (request.query.page === '6' && asked <= 2) return { status: 500 };
      return undefined;
    },
  });
}

/** The value of one sample of the scrape, by metric name and label subset; 0 when absent. */
function sample(scrape: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) total += Number(line.split(' ').at(-1));
  }
  return total;
}

async function waitForMetrics(url: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const scrape = await fetch(url).then((response) => response.text()).catch(() => undefined);
    if (scrape !== undefined) return scrape;
    if (attempt > 600) throw new Error(`no metrics at ${url}`);
    await sleep(50);
  }
}

describe('bizon worker --metrics-port', () => {
  let worker: ChildProcess | undefined;
  afterAll(() => worker?.kill('SIGKILL'));

  it('serves counters that equal what the API saw: pages, records, retries by cause, syncs, rows; no secret, no query string', async () => {
    const taskQueue = unique('metrics');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/metrics`;
    worker = spawnBizon(['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR', '--metrics-port', String(port)], {
      env: cliEnv({ BIZON_ENV_METRICS_TOKEN: TOKEN }),
    });
    const before = await waitForMetrics(url);
    expect(sample(before, 'bizon_pages_extracted_total')).toBe(0);

    const client = await testClient();
    const directory = tempDir();
    try {
      const name = unique('metrics');
      const started = await startSync(client, {
        config: {
          name,
          source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10, authentication: { type: 'api_key', params: { token: 'BIZON_ENV_METRICS_TOKEN' } } },
          destination: { name: 'file', config: { directory } },
          engine: { retry: { initial_interval: '100ms' } },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
        checkSecrets: false,
      });
      const result = (await started.handle.result()) as SyncResult;
      expect(result.records).toBe(95);

      const scrape = await waitForMetrics(url);
      const labels = { pipeline: name, source: 'my_source', stream: 'users', destination: 'file' };
      const answered = (status: number) => api.requests.filter((request) => request.path === '/users' && request.status === status).length;
      expect(sample(scrape, 'bizon_pages_extracted_total', labels)).toBe(answered(200));
      expect(answered(200)).toBe(10);
      expect(sample(scrape, 'bizon_records_extracted_total', labels)).toBe(95);
      expect(sample(scrape, 'bizon_retries_total', { ...labels, cause: 'rate_limited' })).toBe(answered(429));
      expect(sample(scrape, 'bizon_retries_total', { ...labels, cause: 'server_error' })).toBe(answered(500));
      expect([answered(429), answered(500)]).toEqual([1, 2]);
      expect(sample(scrape, 'bizon_retry_after_seconds_total', labels)).toBe(1);
      expect(sample(scrape, 'bizon_page_duration_seconds_count', labels)).toBe(10);
      expect(sample(scrape, 'bizon_syncs_total', { ...labels, outcome: 'started' })).toBe(1);
      expect(sample(scrape, 'bizon_syncs_total', { ...labels, outcome: 'succeeded' })).toBe(1);
      expect(sample(scrape, 'bizon_rows_published_total', labels)).toBe(95);
      // The file destination publishes its staged pages as they are: the bytes staged are the output file's.
      expect(sample(scrape, 'bizon_bytes_written_total', labels)).toBe(statSync(path.join(directory, 'my_source_users.jsonl')).size);
      // The Temporal SDK's own worker metrics are in the same scrape.
      expect(scrape).toMatch(/^temporal_\w+/m);
      expect(scrape).not.toContain(TOKEN);
      expect(scrape.split('\n').filter((line) => line.startsWith('bizon_')).some((line) => line.includes('?'))).toBe(false);

      // A sync that fails (a 401: not retried) is counted as failed.
      const failing = await startSync(client, {
        config: { name: `${name}-401`, source: { name: 'my_source', stream: 'users', api_url: api.url }, destination: { name: 'logger' } },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
      });
      await expect(failing.handle.result()).rejects.toThrow();
      const failed = { pipeline: `${name}-401`, destination: 'logger' };
      expect(sample(await waitForMetrics(url), 'bizon_syncs_total', { ...failed, outcome: 'failed' })).toBe(1);
      expect(sample(await waitForMetrics(url), 'bizon_retries_total', failed)).toBe(0);
    } finally {
      await client.connection.close();
    }
  });

  it('--log-format json: every line is a JSON object with the sync\'s context; a token given as a reference never appears', async () => {
    const taskQueue = unique('json-logs');
    const metricsPort = String(await freePort());
    const logged = spawnBizon(['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'DEBUG', '--log-format', 'json', '--metrics-port', metricsPort], {
      env: cliEnv({ BIZON_ENV_METRICS_TOKEN: TOKEN }),
    });
    let stderr = '';
    let stdout = '';
    logged.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    logged.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise((resolve) => logged.once('exit', resolve));
    const client = await testClient();
    try {
      const name = unique('json-logs');
      const started = await startSync(client, {
        config: {
          name,
          source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10, authentication: { type: 'api_key', params: { token: 'BIZON_ENV_METRICS_TOKEN' } } },
          destination: { name: 'logger' },
          engine: { retry: { initial_interval: '100ms' } },
        },
        customSourceFiles: [PAGE_SOURCE],
        taskQueue,
        checkSecrets: false,
      });
      await started.handle.result();
    } finally {
      await client.connection.close();
      logged.kill('SIGTERM');
      await exited;
    }
    // Every line, from the first to the exit: bizon's own (metrics, polling) as well as the SDK's; on stdout, the
    // logger destination's records.
    const records = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((record) => record.destination_id === 'my_source_users')).toBe(true);
    const entries = stderr.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({ level: 'INFO', message: `Metrics for Prometheus on http://127.0.0.1:${metricsPort}/metrics` });
    expect(entries.find((entry) => String(entry.message).startsWith('bizon worker polling'))).toMatchObject({ message: `bizon worker polling task queue '${taskQueue}' on ${cliEnv({}).TEMPORAL_ADDRESS}` });
    expect(entries.length).toBeGreaterThan(10);
    const page = entries.find((entry) => entry.message === 'Page read' && entry.iteration === 6);
    expect(page).toMatchObject({ level: 'DEBUG', stream: 'users', records: 10, activityType: 'extractPage', workflowType: 'syncWorkflow' });
    expect(page?.workflowId).toMatch(/^bizon-sync:json-logs-/);
    expect(page?.attempt).toBe(3); // page 6 was answered 500 twice first
    expect(entries.every((entry) => typeof entry.time === 'string' && typeof entry.level === 'string')).toBe(true);
    expect(stderr).not.toContain(TOKEN);
  });

  it('bizon run --metrics-port host:port serves its worker\'s counters while the sync runs', async () => {
    const dir = tempDir();
    const port = await freePort();
    const name = unique('run-metrics');
    const config = writeConfig(dir, {
      name,
      source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10, authentication: { type: 'api_key', params: { token: 'BIZON_ENV_METRICS_TOKEN' } } },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('run-metrics') }, retry: { initial_interval: '100ms' } },
    });
    // Page 2 waits while the test scrapes: page 1 is counted, the sync is running.
    const page2 = api.hold((request) => request.path === '/users' && request.query.page === '2');
    const run = followBizon(['run', config, '--custom-source', PAGE_SOURCE, '--metrics-port', `127.0.0.1:${port}`], { cwd: dir, env: cliEnv({ BIZON_ENV_METRICS_TOKEN: TOKEN }) });
    try {
      await page2.reached;
      const scrape = await waitForMetrics(`http://127.0.0.1:${port}/metrics`);
      expect(sample(scrape, 'bizon_pages_extracted_total', { pipeline: name, stream: 'users' })).toBe(1);
      expect(sample(scrape, 'bizon_syncs_total', { pipeline: name, outcome: 'started' })).toBe(1);
      page2.release();
      expect(await run.exited).toBe(0);
    } finally {
      page2.release();
      run.child.kill('SIGKILL');
    }
  });

  it('bizon run --log-format json: every line of its output is a JSON object, the verdict and its summary included; no progress display', async () => {
    const dir = tempDir();
    const metricsPort = String(await freePort());
    const config = writeConfig(dir, {
      name: unique('json-run'),
      source: { name: 'dummy', stream: 'creatures' },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('json-run') } },
    });
    const result = await runBizon(['run', config, '--log-format', 'json', '--log-level', 'INFO', '--metrics-port', metricsPort], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    const entries = result.stderr.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.every((entry) => typeof entry.time === 'string' && typeof entry.level === 'string' && typeof entry.message === 'string')).toBe(true);
    expect(entries[0]).toMatchObject({ message: `Metrics for Prometheus on http://127.0.0.1:${metricsPort}/metrics` });
    expect(entries.find((entry) => String(entry.message).startsWith('Started sync'))).toMatchObject({ level: 'INFO', details: [expect.stringMatching(/^workflow: bizon-sync:json-run-/)] });
    expect(entries.find((entry) => String(entry.message).startsWith('✔ Sync succeeded'))).toMatchObject({ level: 'INFO', details: [expect.stringMatching(/^pages: 3 · records: 12/), expect.stringContaining('(12 records)')] });
    expect(entries.some((entry) => entry.message === 'Worker state changed')).toBe(true);
    expect(entries.some((entry) => /page \d+ · \d+ records/.test(String(entry.message)))).toBe(false);

    // A bad input is an ERROR object too, and the exit code is unchanged.
    const missing = await runBizon(['run', path.join(dir, 'missing.yml'), '--log-format', 'json'], { cwd: dir });
    expect(missing.code).toBe(2);
    const errors = missing.stderr.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(errors).toEqual([expect.objectContaining({ level: 'ERROR', message: expect.stringMatching(/^Error: .*missing\.yml/) })]);
  });
});
