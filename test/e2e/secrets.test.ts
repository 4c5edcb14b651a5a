import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncWorkflowId } from '../../config/resolve.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { ROOT, cliEnv, runBizon, tempDir, testClient, unique, writeConfig } from '../helpers.ts';

const PAGE_SOURCE = path.join(ROOT, 'examples', 'page', 'source.ts');
const TOKEN = `tok-${randomUUID()}`;
let api: ExampleApi;

beforeAll(async () => {
  api = await startExampleApi({
    token: TOKEN,
    // Page 3 of the `orders` stream answers 400 and echoes the credential, as careless APIs do.
    fault: (request) =>
      request.path === '/orders' && request.query.page === '3' ? { status: 400, body: { error: `bad request for ${request.headers.authorization}` } } : undefined,
  });
});
afterAll(async () => api?.close());

/** Everything Temporal stores about a sync: every run's history (as bytes), memo and search attributes. */
async function storedText(workflowId: string): Promise<string> {
  const client = await testClient();
  try {
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const history = await handle.fetchHistory();
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
    return [bytes, JSON.stringify(description.memo ?? {}), JSON.stringify(description.raw.workflowExecutionInfo?.searchAttributes ?? {})].join('\n');
  } finally {
    await client.connection.close();
  }
}

async function runWithToken(stream: string) {
  const dir = tempDir();
  const config = {
    name: unique('secrets'),
    source: {
      name: 'my_source',
      stream,
      api_url: api.url,
      page_size: 20,
      authentication: { type: 'api_key', params: { token: 'BIZON_ENV_SECRET_TOKEN' } },
    },
    destination: { name: 'file', config: { directory: dir } },
    engine: { temporal: { task_queue: unique('secrets') } },
  };
  const result = await runBizon(['run', writeConfig(dir, config), '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv({ BIZON_ENV_SECRET_TOKEN: TOKEN }) });
  return { result, workflowId: syncWorkflowId(config) };
}

describe('a token given through BIZON_ENV_... never reaches Temporal', () => {
  it('a successful sync: the history holds the reference, never the value', async () => {
    const { result, workflowId } = await runWithToken('users');
    expect(result.code).toBe(0);
    expect(api.requests.some((request) => request.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const stored = await storedText(workflowId);
    expect(stored).toContain('BIZON_ENV_SECRET_TOKEN');
    expect(stored).not.toContain(TOKEN);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it('a failed sync: an API error echoing the token is redacted before it becomes a failure', async () => {
    const { result, workflowId } = await runWithToken('orders');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('{"error":"bad request for Bearer ***"}');
    const stored = await storedText(workflowId);
    expect(stored).toContain('bad request for Bearer ***');
    expect(stored).not.toContain(TOKEN);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });
});
