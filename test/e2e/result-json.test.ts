import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { RunResultFile } from '../../cli/result-file.ts';
import { cliEnv, REST_SOURCE, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';

let api: ExampleApi;
let failing: ExampleApi;
beforeAll(async () => {
  api = await startExampleApi({ datasets: { users: 120, orders: 40, products: 10 } });
  failing = await startExampleApi({ token: 'a-token-nobody-sends' });
});
afterAll(async () => {
  await api?.close();
  await failing?.close();
});

/** Runs `bizon run … --result-json` on a config; returns the exit code and the file. */
async function runWithResult(config: Record<string, unknown>): Promise<{ code: number | null; result: RunResultFile }> {
  const dir = tempDir();
  const file = path.join(dir, 'result.json');
  const run = await runBizon(['run', writeConfig(dir, config), '--custom-source', REST_SOURCE, '--result-json', file], { cwd: dir, env: cliEnv() });
  return { code: run.code, result: JSON.parse(readFileSync(file, 'utf8')) as RunResultFile };
}

const pipeline = (source: Record<string, unknown>, url = api.url) => ({
  name: unique('result-json'),
  source: { name: 'rest_api', base_url: `${url}/rest`, page_size: 50, ...source },
  destination: { name: 'file', config: { directory: 'output' } },
  engine: { temporal: { task_queue: unique('result-json') }, retry: { initial_interval: '100ms' } },
});

describe('bizon run --result-json', () => {
  it('a sync that succeeded: status, records, pages, outputs, duration', async () => {
    const { code, result } = await runWithResult(pipeline({ stream: 'users' }));
    expect(code).toBe(0);
    expect(result).toMatchObject({ status: 'succeeded', records: 120, pages: 3, failure_class: null, error: null });
    expect(result.workflow_id).toMatch(/^bizon-sync:result-json-.*:rest_api:users$/);
    expect(result.outputs).toEqual([{ destination_id: 'rest_api_users', records: 120, location: expect.stringMatching(/rest_api_users\.jsonl$/) }]);
    expect(result.duration_ms).toBeGreaterThan(0);
  });

  it('a sync that failed: the failure class and the message', async () => {
    const { code, result } = await runWithResult(pipeline({ stream: 'users' }, failing.url));
    expect(code).toBe(1);
    expect(result).toMatchObject({ status: 'failed', failure_class: 'HttpClientError', records: null });
    expect(result.error).toMatch(/^HTTP 401 from GET .*\/rest\/users/);
  });

  it('a config that is wrong: invalid, nothing started', async () => {
    const { code, result } = await runWithResult(pipeline({ stream: 'users', page_sise: 5 }));
    expect(code).toBe(2);
    expect(result).toMatchObject({ status: 'invalid', failure_class: 'ConfigError', workflow_id: null });
    expect(result.error).toContain("source.page_sise: unknown key — did you mean 'page_size'?");
  });

  it('a pipeline of several streams: each stream, and the totals', async () => {
    const { code, result } = await runWithResult(pipeline({ streams: ['users', 'orders', 'products'] }));
    expect(code).toBe(0);
    expect(result).toMatchObject({ status: 'succeeded', records: 170, pages: 5 });
    expect(result.streams).toEqual([
      { stream: 'users', status: 'succeeded', records: 120, pages: 3, error: null },
      { stream: 'orders', status: 'succeeded', records: 40, pages: 1, error: null },
      { stream: 'products', status: 'succeeded', records: 10, pages: 1, error: null },
    ]);
  });
});
