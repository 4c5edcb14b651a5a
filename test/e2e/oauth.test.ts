import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { cliEnv, PAGE_SOURCE, readRows, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';

let api: ExampleApi;

beforeAll(async () => {
  api = await startExampleApi({
    datasets: { users: 295 },
    latencyMs: 150,
    oauth: { clientId: 'bizon', clientSecret: 'client-secret-9d1', refreshToken: 'refresh-77a', lifetimeSeconds: 2 },
  });
});
afterAll(async () => api?.close());

function config(dir: string, params: Record<string, unknown>) {
  return writeConfig(dir, {
    name: unique('oauth'),
    source: { name: 'my_source', stream: 'users', api_url: api.url, page_size: 10, authentication: { type: 'oauth', params } },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: unique('oauth') } },
  });
}

const env = () => cliEnv({ BIZON_ENV_CLIENT_SECRET: 'client-secret-9d1', BIZON_ENV_REFRESH_TOKEN: 'refresh-77a', BIZON_ENV_WRONG_SECRET: 'nope' });

describe('oauth authentication', () => {
  it.each([
    ['refresh_token', { refresh_token: 'BIZON_ENV_REFRESH_TOKEN' }],
    ['client_credentials', { grant_type: 'client_credentials' }],
  ])('%s: a 30-page sync renews 2-second tokens before they expire; the API never sees an expired one', async (_grant, grantParams) => {
    const dir = tempDir();
    const mark = api.requests.length;
    const result = await runBizon(
      ['run', config(dir, { token_url: `${api.url}/oauth/token`, client_id: 'bizon', client_secret: 'BIZON_ENV_CLIENT_SECRET', ...grantParams }), '--custom-source', PAGE_SOURCE],
      { cwd: dir, env: env() },
    );
    expect(result.stderr).toContain('✔ Sync succeeded');
    expect(readRows(path.join(dir, 'my_source_users.jsonl'))).toHaveLength(295);
    const seen = api.requests.slice(mark);
    const pages = seen.filter((request) => request.path === '/users');
    expect(pages).toHaveLength(30);
    expect(pages.every((request) => request.status === 200)).toBe(true);
    expect(new Set(pages.map((request) => request.headers.authorization)).size).toBeGreaterThanOrEqual(3);
    // Every token fetched was used, right away: by a page, or by checkConnection's /health probe (on a busy
    // machine that token may be near its expiry by the first page, which then gets a fresh one).
    const used = new Set(seen.filter((request) => request.path !== '/oauth/token' && request.headers.authorization).map((request) => request.headers.authorization));
    expect(seen.filter((request) => request.path === '/oauth/token').length).toBe(used.size);
  });

  it('a 400 from the token endpoint fails fast with the endpoint’s message', async () => {
    const dir = tempDir();
    const result = await runBizon(
      ['run', config(dir, { token_url: `${api.url}/oauth/token`, client_id: 'bizon', client_secret: 'BIZON_ENV_WRONG_SECRET', grant_type: 'client_credentials' }), '--custom-source', PAGE_SOURCE],
      { cwd: dir, env: env() },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `OAuth token endpoint refused the client_credentials grant: HTTP 400 from POST ${api.url}/oauth/token: {"error":"invalid_client","error_description":"client authentication failed"}`,
    );
    expect(result.stderr).toContain('not retried');
    expect(result.durationMs).toBeLessThan(20_000);
  });
});
