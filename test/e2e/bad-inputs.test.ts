import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { cliEnv, PAGE_SOURCE, ROOT, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';

const TOKEN = 'right-token-5d2e';
let api: ExampleApi;

beforeAll(async () => {
  api = await startExampleApi({ token: TOKEN });
});
afterAll(async () => api?.close());

function pipeline(source: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    name: unique('bad-input'),
    source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 50, ...source },
    destination: { name: 'file', config: { directory: 'output' } },
    engine: { temporal: { task_queue: unique('bad-inputs') } },
    ...extra,
  };
}

async function run(config: unknown, options: { customSource?: string | null; env?: Record<string, string>; args?: string[] } = {}) {
  const dir = tempDir();
  const file = writeConfig(dir, config);
  const customSource = options.customSource === undefined ? PAGE_SOURCE : options.customSource;
  const args = ['run', file, ...(customSource ? ['--custom-source', customSource] : []), ...(options.args ?? [])];
  return { dir, ...(await runBizon(args, { cwd: dir, env: cliEnv(options.env) })) };
}

const QUICK_MS = 20_000;
const AWKWARD_SOURCE = path.join(ROOT, 'test', 'fixtures', 'awkward_source.ts');

describe('bad inputs end quickly with a message naming the problem', () => {
  it('an unknown source key, with the intended key', async () => {
    const result = await run(pipeline({ page_szie: 10 }));
    expect(result.stderr).toContain("source.page_szie: unknown key — did you mean 'page_size'?");
    expect(result.code).toBe(2);
    expect(result.durationMs).toBeLessThan(QUICK_MS);
  });

  it('an unknown top-level key', async () => {
    const config = pipeline({});
    const { destination, ...rest } = config;
    const result = await run({ ...rest, destinaton: destination });
    expect(result.stderr).toContain("destinaton: unknown key — did you mean 'destination'?");
    expect(result.stderr).toContain('destination: missing');
    expect(result.code).toBe(2);
  });

  it('a wrong type', async () => {
    const result = await run(pipeline({ page_size: 'ten' }));
    expect(result.stderr).toMatch(/source\.page_size: .*expected number, received string/);
    expect(result.code).toBe(2);
  });

  it('a missing required field', async () => {
    const result = await run(pipeline({ api_url: undefined }));
    expect(result.stderr).toContain('source.api_url: missing (required string)');
    expect(result.code).toBe(2);
  });

  it('an unknown stream lists the streams', async () => {
    const result = await run(pipeline({ stream: 'invoices' }));
    expect(result.stderr).toContain("Source 'my_source' has no stream 'invoices'. Available streams: users, orders.");
    expect(result.code).toBe(2);
  });

  it('a missing custom source file', async () => {
    const result = await run(pipeline({}), { customSource: './nowhere/my_source.ts' });
    expect(result.stderr).toMatch(/Custom source file not found: .*nowhere\/my_source\.ts/);
    expect(result.code).toBe(2);
  });

  it('an unknown source without --custom-source', async () => {
    const result = await run(pipeline({}), { customSource: null });
    expect(result.stderr).toContain("Unknown source 'my_source'. Built-in sources: dummy, rest. For your own source, pass its file: --custom-source ./my_source.ts");
    expect(result.code).toBe(2);
  });

  it('a missing environment variable names the variable', async () => {
    const result = await run(pipeline({ authentication: { type: 'api_key', params: { token: 'BIZON_ENV_NOT_SET_ANYWHERE' } } }));
    expect(result.stderr).toContain('Missing environment variable: BIZON_ENV_NOT_SET_ANYWHERE (used by source.authentication.params.token)');
    expect(result.code).toBe(2);
  });

  it('a literal credential in the config is refused, showing how to write a reference; --allow-literal-secrets starts it with a warning', async () => {
    const config = pipeline({ page_size: 100, authentication: { type: 'bearer', params: { token: TOKEN } } });
    const dir = tempDir();
    const file = writeConfig(dir, config);
    const refused = await runBizon(['run', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv() });
    expect(refused.stderr).toContain(
      "Error: source.authentication.params.token is written in the config: it would be stored in Temporal's history and memo. Write a reference instead — token: BIZON_ENV_TOKEN, with the value in that environment variable (or a line of ./.env), or ${env://NAME} inside a longer value — or, if it is not a secret, pass --allow-literal-secrets",
    );
    expect(refused.stderr).not.toContain(TOKEN);
    expect(refused.code).toBe(2);
    const checked = await runBizon(['check', file, '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv() });
    expect(checked.stdout).toContain('✖ credentials written literally: source.authentication.params.token');
    expect(checked.code).toBe(1);
    const allowed = await runBizon(['run', file, '--custom-source', PAGE_SOURCE, '--allow-literal-secrets'], { cwd: dir, env: cliEnv() });
    expect(allowed.stderr).toContain("Warning: source.authentication.params.token is written in the config: it would be stored in Temporal's history and memo.");
    expect(allowed.code).toBe(0);
  });

  it.each([
    ['an alerting webhook URL', { alerting: { config: { webhook_url: 'https://hooks.example.com/T000/B000/XXXX' } } }, 'alerting.config.webhook_url'],
  ])('%s written literally is refused too', async (_what, extra, path) => {
    const dir = tempDir();
    const refused = await runBizon(['run', writeConfig(dir, { ...pipeline({ page_size: 100 }), ...extra }), '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv() });
    expect(refused.stderr).toContain(`Error: ${path} is written in the config`);
    expect(refused.code).toBe(2);
  });

  it('a source that returns a malformed iteration', async () => {
    const config = pipeline({ name: 'malformed', stream: 'broken', api_url: undefined, page_size: undefined });
    const result = await run(config, { customSource: path.join(ROOT, 'test', 'fixtures', 'malformed_source.ts') });
    expect(result.stderr).toContain(
      "Source 'malformed' (stream 'broken') returned a malformed SourceIteration at iteration 2: records[0].id must be a non-empty string or a number, got undefined",
    );
    expect(result.stderr).toContain('not retried');
    expect(result.code).toBe(1);
    expect(result.durationMs).toBeLessThan(QUICK_MS);
  });

  it('a 401 from the API fails at once with the status and the body', async () => {
    const config = pipeline({ authentication: { type: 'bearer', params: { token: 'BIZON_ENV_WRONG_TOKEN' } } });
    const result = await run(config, { env: { BIZON_ENV_WRONG_TOKEN: 'wrong-token' } });
    expect(result.stderr).toContain(`HTTP 401 from GET ${api.url}/users?page=1&limit=50: {"error":"invalid or missing token"}`);
    expect(result.stderr).toContain('not retried');
    expect(result.code).toBe(1);
    expect(result.durationMs).toBeLessThan(QUICK_MS);
    expect(api.requests.filter((request) => request.path === '/users' && request.headers.authorization === 'Bearer wrong-token')).toHaveLength(1);
  });

  it('a circular nextPagination fails at once, naming the field, and is not retried', async () => {
    const config = { name: unique('circular'), source: { name: 'awkward', stream: 'circular' }, destination: { name: 'file', config: { directory: 'output' } }, engine: { temporal: { task_queue: unique('bad-inputs') } } };
    const result = await run(config, { customSource: AWKWARD_SOURCE });
    expect(result.stderr).toContain('nextPagination.parent (a circular reference) is not JSON');
    expect(result.stderr).not.toMatch(/attempt [2-9]/);
    expect(result.code).toBe(1);
    expect(result.durationMs).toBeLessThan(QUICK_MS);
  });

  it('a getTotalRecordsCount() that throws does not block the sync: the total is unknown', async () => {
    const config = { name: unique('uncounted'), source: { name: 'awkward', stream: 'uncounted' }, destination: { name: 'file', config: { directory: 'output' } }, engine: { temporal: { task_queue: unique('bad-inputs') } } };
    const result = await run(config, { customSource: AWKWARD_SOURCE, args: ['--log-level', 'WARN'] });
    expect(result.stderr).toContain('pages: 2 · records: 2');
    expect(result.stderr).toMatch(/\[WARN\] getTotalRecordsCount\(\) failed; the sync goes on with an unknown total/);
    // No progress line claims a total it does not have.
    expect(result.stderr).not.toMatch(/records of \d/);
    expect(result.code).toBe(0);
  });
});
