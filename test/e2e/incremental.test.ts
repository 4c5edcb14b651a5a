import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { cliEnv, PAGE_SOURCE, readRows, REST_SOURCE, ROOT, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';


describe('incremental syncs read their watermark from the memo of the last successful run', () => {
  let api: ExampleApi;
  /** While set, the REST users page after this cursor answers 400 (a failure no retry mends). */
  let refuseUsersAfter: string | undefined;
  beforeAll(async () => {
    api = await startExampleApi({
      datasets: { users: 120 },
      fault: (request) => (request.path === '/rest/users' && refuseUsersAfter !== undefined && request.query.after === refuseUsersAfter ? { status: 400 } : undefined),
    });
  });
  afterAll(async () => api?.close());

  function lastRunOf(stderr: string): string {
    const match = /watermark: last_run (\S+)/.exec(stderr);
    if (!match) throw new Error(`no watermark in:\n${stderr}`);
    return match[1]!;
  }

  it('run 1 reads everything, run 2 only the three changed records, run 3 nothing and moves the watermark; --reset starts over', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('incremental'),
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, sync_mode: 'incremental', cursor_field: 'updated_at' },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('incremental') } },
    });
    const run = () => runBizon(['run', config, '--custom-source', REST_SOURCE], { cwd: dir, env: cliEnv() });
    const output = () => readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => Number(row.source_record_id));
    const requestsSince = (index: number) => api.requests.slice(index).filter((request) => request.path === '/rest/users');

    let mark = api.requests.length;
    const first = await run();
    expect(first.code).toBe(0);
    expect(first.stderr).not.toContain('incremental: read what changed');
    expect(requestsSince(mark).every((request) => request.query.updated_since === undefined)).toBe(true);
    expect(output()).toEqual(Array.from({ length: 120 }, (_, index) => index + 1));
    const run1Start = lastRunOf(first.stderr);

    api.touch('users', [7, 64, 119]);
    mark = api.requests.length;
    const second = await run();
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`incremental: read what changed since ${run1Start}`);
    expect(requestsSince(mark).map((request) => request.query.updated_since)).toEqual([run1Start]);
    expect(second.stderr).toContain('pages: 1 · records: 3');
    expect(output().slice(120)).toEqual([7, 64, 119]);
    const run2Start = lastRunOf(second.stderr);
    expect(Date.parse(run2Start)).toBeGreaterThan(Date.parse(run1Start));

    mark = api.requests.length;
    const third = await run();
    expect(third.code).toBe(0);
    expect(requestsSince(mark).map((request) => request.query.updated_since)).toEqual([run2Start]);
    expect(third.stderr).toContain('pages: 1 · records: 0');
    expect(output()).toHaveLength(123);
    const run3Start = lastRunOf(third.stderr);
    expect(Date.parse(run3Start)).toBeGreaterThan(Date.parse(run2Start));

    // --reset: everything again, the file replaced, and the next run starts from the reset run's watermark.
    mark = api.requests.length;
    const reset = await runBizon(['run', config, '--custom-source', REST_SOURCE, '--reset'], { cwd: dir, env: cliEnv() });
    expect(reset.code).toBe(0);
    expect(requestsSince(mark).every((request) => request.query.updated_since === undefined)).toBe(true);
    expect(output()).toEqual(Array.from({ length: 120 }, (_, index) => index + 1));
    const resetStart = lastRunOf(reset.stderr);

    api.touch('users', [5]);
    mark = api.requests.length;
    const after = await run();
    expect(after.code).toBe(0);
    expect(requestsSince(mark).map((request) => request.query.updated_since)).toEqual([resetStart]);
    expect(output()).toHaveLength(121);
    expect(output().at(-1)).toBe(5);
  });

  it('bizon stream reset forgets the watermark: the next run reads everything and replaces the output, and incremental runs go on from it', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('stream-reset'),
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, sync_mode: 'incremental', cursor_field: 'updated_at' },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('stream-reset') } },
    });
    const run = () => runBizon(['run', config, '--custom-source', REST_SOURCE], { cwd: dir, env: cliEnv() });
    const output = () => readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => Number(row.source_record_id));
    const first = await run();
    expect(first.code).toBe(0);
    api.touch('users', [11]);
    expect((await run()).stderr).toContain('pages: 1 · records: 1');
    expect(output()).toHaveLength(121);

    const reset = await runBizon(['stream', 'reset', config], { cwd: dir, env: cliEnv() });
    expect(reset.code).toBe(0);
    expect(reset.stderr).toMatch(/^Reset stream-reset-\S+ \(rest_api\/users\): forgot the watermark \d{4}-\S+ \(max cursor \S+\); the next run reads the whole stream and replaces the output\.$/m);

    const mark = api.requests.length;
    const after = await run();
    expect(after.code).toBe(0);
    expect(after.stderr).toContain('incremental: no watermark yet');
    expect(api.requests.slice(mark).filter((request) => request.path === '/rest/users').every((request) => request.query.updated_since === undefined)).toBe(true);
    expect(output()).toEqual(Array.from({ length: 120 }, (_, index) => index + 1));

    api.touch('users', [12]);
    expect((await run()).stderr).toMatch(/incremental: read what changed since \d{4}-/);
    expect(output()).toHaveLength(121);
  });

  it('bizon stream reset --stream forgets one stream of a pipeline: it reads everything next, the other only what changed', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('stream-reset-one'),
      source: { name: 'rest_api', streams: ['users', 'orders'], base_url: `${api.url}/rest`, page_size: 50, sync_mode: 'incremental', cursor_field: 'updated_at' },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('stream-reset-one') } },
    });
    const run = () => runBizon(['run', config, '--custom-source', REST_SOURCE], { cwd: dir, env: cliEnv() });
    expect((await run()).code).toBe(0);

    const reset = await runBizon(['stream', 'reset', config, '--stream', 'users'], { cwd: dir, env: cliEnv() });
    expect(reset.code).toBe(0);
    expect(reset.stderr).toMatch(/^Reset stream-reset-one-\S+ \(rest_api\/users\): forgot the watermark/m);
    expect(reset.stderr).not.toContain('rest_api/orders');

    const mark = api.requests.length;
    expect((await run()).code).toBe(0);
    const asked = (stream: string) => api.requests.slice(mark).filter((request) => request.path === `/rest/${stream}` && request.query.after === undefined).map((request) => request.query.updated_since);
    // checkConnection's probe first (unfiltered), then the first page: users from the start, orders since its watermark.
    expect(asked('users').every((since) => since === undefined)).toBe(true);
    expect(asked('orders').at(-1)).toMatch(/^\d{4}-/);
  });

  it('nextState: the last one of a successful sync comes back as state.state, with runStartedAt, to the next incremental run', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('next-state'),
      source: { name: 'state_source', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, sync_mode: 'incremental' },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('next-state') } },
    });
    const source = path.join(ROOT, 'test', 'fixtures', 'state_source.ts');
    const run = () => runBizon(['run', config, '--custom-source', source], { cwd: dir, env: cliEnv() });
    const highWater = api.data.users!.map((user) => user.updated_at).sort().at(-1)!;
    expect((await run()).code).toBe(0);

    api.touch('users', [21, 22]);
    const mark = api.requests.length;
    const second = await run();
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('pages: 1 · records: 2');
    const [request] = api.requests.slice(mark).filter((entry) => entry.path === '/rest/users');
    expect(request!.query.updated_since).toBe(highWater);
    // The window ends where the run started: its own watermark, so the next run starts there.
    expect(request!.query.updated_until).toBe(lastRunOf(second.stderr));
  });

  it('nextState survives a failure, its resume and continue-as-new: the state of page 1 reaches the next run', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('next-state-kept'),
      // Only page 1 gives a state; pages 2 and 3 keep it. A continue-as-new after every page.
      source: { name: 'state_source', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, sync_mode: 'incremental', first_page_state_only: true },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('next-state-kept') }, continue_as_new_every: 1 },
    });
    const source = path.join(ROOT, 'test', 'fixtures', 'state_source.ts');
    const run = () => runBizon(['run', config, '--custom-source', source], { cwd: dir, env: cliEnv() });
    const pageOneHighWater = api.data.users!.slice(0, 50).map((user) => user.updated_at).sort().at(-1)!;
    refuseUsersAfter = '100'; // page 3
    try {
      expect((await run()).code).toBe(1);
    } finally {
      refuseUsersAfter = undefined;
    }
    const resumed = await run();
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('resumed the failed sync after page 2');

    const mark = api.requests.length;
    expect((await run()).code).toBe(0);
    const [request] = api.requests.slice(mark).filter((entry) => entry.path === '/rest/users');
    expect(request!.query.updated_since).toBe(pageOneHighWater);
  });

  it('a source without getRecordsAfter is refused for incremental before anything starts', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('no-incremental'),
      source: { name: 'my_source', stream: 'users', api_url: api.url, sync_mode: 'incremental' },
      destination: { name: 'logger' },
    });
    const result = await runBizon(['run', config, '--custom-source', PAGE_SOURCE], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Source 'my_source' (MySource) does not implement getRecordsAfter(), so it cannot run with sync_mode: incremental.");
  });
});

describe('a failed sync resumes from its checkpoint', () => {
  const RECORDS = 595; // 60 pages of 10, the last one short
  let api: ExampleApi;
  let failPage50 = true;
  beforeAll(async () => {
    api = await startExampleApi({
      datasets: { users: RECORDS },
      fault: (request) => (failPage50 && request.path === '/users' && request.query.page === '50' ? { status: 400, body: { error: 'page 50 is broken today' } } : undefined),
    });
  });
  afterAll(async () => api?.close());

  async function failThenRun(extraSource: Record<string, unknown>) {
    const dir = tempDir();
    const config = writeConfig(dir, {
      name: unique('resume'),
      source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10, ...extraSource },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('resume') } },
    });
    const run = () => runBizon(['run', config, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv() });
    failPage50 = true;
    const failed = await run();
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('page 50 is broken today');
    failPage50 = false;
    const mark = api.requests.length;
    const second = await run();
    expect(second.code).toBe(0);
    const pagesRequested = api.requests.slice(mark).filter((request) => request.path === '/users').map((request) => Number(request.query.page));
    const ids = readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id));
    return { second, pagesRequested, ids };
  }

  it('the next run starts at page 50; pages 1 to 49 are not requested again; every record once', async () => {
    const { second, pagesRequested, ids } = await failThenRun({});
    expect(pagesRequested).toEqual(Array.from({ length: 11 }, (_, index) => 50 + index));
    expect(second.stderr).toContain('resumed the failed sync after page 49');
    expect(ids).toEqual(Array.from({ length: RECORDS }, (_, index) => index + 1));
  });

  it('a sync that failed while publishing is finished by the next run without reading a page again', async () => {
    failPage50 = false;
    const dir = tempDir();
    // A directory where the output file should go makes publishing fail.
    mkdirSync(path.join(dir, 'my_source_users.jsonl'));
    const config = writeConfig(dir, {
      name: unique('resume-publish'),
      source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 100, api_config: { retry_limit: 2 } },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('resume') }, retry: { initial_interval: '100ms' } },
    });
    const run = () => runBizon(['run', config, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv() });
    const failed = await run();
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('File destination could not publish');
    rmSync(path.join(dir, 'my_source_users.jsonl'), { recursive: true });

    const mark = api.requests.length;
    const second = await run();
    expect(second.code).toBe(0);
    expect(api.requests.slice(mark).filter((request) => request.path === '/users')).toHaveLength(0);
    expect(second.stderr).toContain('resumed the failed sync after page 6');
    expect(readRows(path.join(dir, 'my_source_users.jsonl')).map((row) => Number(row.source_record_id))).toEqual(
      Array.from({ length: RECORDS }, (_, index) => index + 1),
    );
  });

  it('force_ignore_checkpoint: true starts from page one, and the output still holds every record once', async () => {
    const { second, pagesRequested, ids } = await failThenRun({ force_ignore_checkpoint: true });
    expect(pagesRequested).toEqual(Array.from({ length: 60 }, (_, index) => 1 + index));
    expect(second.stderr).not.toContain('resumed');
    expect(ids).toEqual(Array.from({ length: RECORDS }, (_, index) => index + 1));
  });
});
