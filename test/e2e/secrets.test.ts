import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { request as httpRequest } from 'node:http';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncWorkflowId } from '../../engine/ids.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { freePort } from '../../engine/temporal-server.ts';
import { cliEnv, PAGE_SOURCE, runBizon, spawnBizon, tempDir, testClient, unique, writeConfig } from '../helpers.ts';

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

/**
 * Everything Temporal stores about a sync, as text: the history of every run of its chain (continue-as-new
 * included), and the memo and search attributes of each, their payloads decoded.
 */
async function storedText(workflowId: string): Promise<string> {
  const client = await testClient();
  try {
    const texts: string[] = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      const handle = client.workflow.getHandle(workflowId, run.runId);
      const description = await handle.describe();
      const history = await handle.fetchHistory();
      texts.push(Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1'));
      texts.push(JSON.stringify(description.memo ?? {}));
      const indexed = description.raw.workflowExecutionInfo?.searchAttributes?.indexedFields ?? {};
      for (const [key, payload] of Object.entries(indexed)) texts.push(`${key}=${Buffer.from(payload.data ?? []).toString()}`);
    }
    return texts.join('\n');
  } finally {
    await client.connection.close();
  }
}

async function runWithToken(stream: string, extraEnv: Record<string, string> = {}) {
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
  const result = await runBizon(['run', writeConfig(dir, config), '--custom-source', PAGE_SOURCE], {
    cwd: dir,
    env: cliEnv({ BIZON_ENV_SECRET_TOKEN: TOKEN, ...extraEnv }),
  });
  return { result, workflowId: syncWorkflowId(config) };
}

describe('a token given through BIZON_ENV_... never reaches Temporal', () => {
  it('a successful sync: the history holds the reference, never the value', async () => {
    const { result, workflowId } = await runWithToken('users');
    expect(result.code).toBe(0);
    expect(api.requests.some((request) => request.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const stored = await storedText(workflowId);
    expect(stored).toContain('BIZON_ENV_SECRET_TOKEN');
    // Positive control: the pipeline's name is found where a leaked value would be (history, memo, search attributes).
    const pipelineName = workflowId.split(':')[1]!;
    expect(stored).toContain(`BizonPipeline="${pipelineName}"`);
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

/** How axios writes a query parameter (its params serializer): `: $ ,` kept, spaces as `+`. */
const axiosParamForm = (value: string) => encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%24/g, '$').replace(/%2C/gi, ',').replace(/%20/g, '+');

describe('a token of every character class echoed in encoded forms', () => {
  const ODD_TOKEN = `t+k/${randomUUID().slice(0, 8)}=="q" a:b$c,[d]é`;
  const forms = [ODD_TOKEN, encodeURIComponent(ODD_TOKEN), axiosParamForm(ODD_TOKEN), new URLSearchParams({ t: ODD_TOKEN }).toString().slice(2), Buffer.from(ODD_TOKEN).toString('base64'), JSON.stringify(ODD_TOKEN).slice(1, -1)];
  let echoing: ExampleApi;
  beforeAll(async () => {
    echoing = await startExampleApi({
      token: ODD_TOKEN,
      // Echoes the credential URL-encoded (as in a query string), base64 (as in Basic auth) and JSON-escaped.
      fault: (request) => {
        if (request.path !== '/orders' || request.query.page !== '2') return undefined;
        const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
        return { status: 400, body: { url: `/orders?token=${encodeURIComponent(token)}`, axios: axiosParamForm(token), basic: Buffer.from(token).toString('base64'), raw: token } };
      },
    });
  });
  afterAll(async () => echoing?.close());

  it('is redacted in every form: CLI (text and JSON lines), the result file, history, memo, search attributes, recordings', async () => {
    const dir = tempDir();
    const config = {
      name: unique('odd-secret'),
      source: { name: 'my_source', stream: 'orders', api_url: echoing.url, page_size: 20, authentication: { type: 'api_key', params: { token: 'BIZON_ENV_ODD_TOKEN' } } },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: unique('secrets') } },
    };
    const file = writeConfig(dir, config);
    const env = cliEnv({ BIZON_ENV_ODD_TOKEN: ODD_TOKEN });
    const resultFile = path.join(dir, 'result.json');
    const result = await runBizon(['run', file, '--custom-source', PAGE_SOURCE, '--result-json', resultFile, '--log-format', 'json', '--log-level', 'DEBUG'], { cwd: dir, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('token=***');
    expect(result.stderr).toContain('\\"basic\\":\\"***\\"');
    const stored = await storedText(syncWorkflowId(config));
    expect(stored).toContain('token=***'); // the failure is there, redacted
    const recordings = path.join(dir, 'recorded');
    const dryRun = await runBizon(['dry-run', file, '--custom-source', PAGE_SOURCE, '--pages', '3', '--record', recordings], { cwd: dir, env });
    expect(dryRun.code).toBe(1);
    const recorded = readdirSync(recordings).map((name) => readFileSync(path.join(recordings, name), 'utf8')).join('\n');
    expect(recorded).toContain('***');
    const outputs = { stored, cli: result.stdout + result.stderr, resultFile: readFileSync(resultFile, 'utf8'), dryRun: dryRun.stdout + dryRun.stderr, recorded };
    for (const [where, text] of Object.entries(outputs)) for (const form of forms) expect(text, `${where} holds ${form}`).not.toContain(form);
  });
});

describe('with the payload codec on (BIZON_CODEC_KEY)', () => {
  it('failure messages are encrypted too, and the CLI still shows them', async () => {
    const key = randomBytes(32).toString('base64');
    const { result, workflowId } = await runWithToken('orders', { BIZON_CODEC_KEY: key });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('{"error":"bad request for Bearer ***"}');
    const client = await testClient();
    try {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const stored = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
      expect(stored).not.toContain('bad request for');
      expect(stored).not.toContain('HTTP 400');
    } finally {
      await client.connection.close();
    }
  });

  it('no payload in history is readable without the key, and the codec server decodes them', async () => {
    const key = randomBytes(32).toString('base64');
    const { result, workflowId } = await runWithToken('users', { BIZON_CODEC_KEY: key });
    expect(result.code).toBe(0);

    const client = await testClient(); // no codec: what anyone with access to the server sees
    let payloads: temporal.api.common.v1.IPayload[];
    let stored: string;
    try {
      const handle = client.workflow.getHandle(workflowId);
      const history = await handle.fetchHistory();
      stored = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      payloads = [...(started?.input?.payloads ?? []), ...Object.values(started?.memo?.fields ?? {})];
      const raw = await client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId } });
      const memoFields = Object.values(raw.workflowExecutionInfo?.memo?.fields ?? {});
      stored += memoFields.map((payload) => Buffer.from(payload.data ?? []).toString('latin1')).join('');
      expect(memoFields.length).toBeGreaterThan(0);
    } finally {
      await client.connection.close();
    }
    // Memo keys stay readable (they are map keys, not payloads); every value is encrypted.
    for (const readable of ['api_url', 'BIZON_ENV_SECRET_TOKEN', 'nextPagination', 'recordCount', 'stoppedBy', 'my_source_users.jsonl', TOKEN]) {
      expect(stored).not.toContain(readable);
    }
    expect(payloads.length).toBeGreaterThan(1);
    expect(payloads.every((payload) => Buffer.from(payload.metadata?.encoding ?? []).toString() === 'binary/encrypted')).toBe(true);

    const port = await freePort();
    const token = randomUUID();
    const server = spawnBizon(['codec-server', '--port', String(port)], { env: cliEnv({ BIZON_CODEC_KEY: key, BIZON_CODEC_SERVER_TOKEN: token }) });
    try {
      const body = JSON.stringify({
        payloads: payloads.map((payload) => ({
          metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(payload.data ?? []).toString('base64'),
        })),
      });
      let response: Response | undefined;
      for (let attempt = 0; attempt < 100 && !response; attempt++) {
        response = await fetch(`http://127.0.0.1:${port}/${token}/decode`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).catch(
          () => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)),
        );
      }
      const decoded = (await response!.json()) as { payloads: Array<{ data: string; metadata: Record<string, string> }> };
      const texts = decoded.payloads.map((payload) => Buffer.from(payload.data, 'base64').toString());
      expect(Buffer.from(decoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
      expect(texts.join('\n')).toContain('"api_url"');
      expect(texts.join('\n')).toContain('BIZON_ENV_SECRET_TOKEN');
      expect(texts.join('\n')).not.toContain(TOKEN);

      // Without the token, from another Host (DNS rebinding) or from a foreign page, it decrypts nothing.
      const ask = (path: string, headers: Record<string, string>) => post(port, path, body, headers);
      expect(await ask('/decode', {})).toMatchObject({ status: 401 });
      expect(await ask(`/${randomUUID()}/decode`, {})).toMatchObject({ status: 401 });
      expect(await ask('/decode', { authorization: `Bearer ${token}`, host: `attacker.example:${port}` })).toMatchObject({ status: 403 });
      expect(await ask('/decode', { authorization: `Bearer ${token}`, origin: 'https://attacker.example' })).toMatchObject({ status: 403 });
      const allowed = await ask('/decode', { authorization: `Bearer ${token}`, origin: 'http://127.0.0.1:8233' });
      expect(allowed.status).toBe(200);
      expect(allowed.body).toContain('payloads');
    } finally {
      server.kill('SIGTERM');
    }
  });
});

describe('${env://NAME}: a worker reads only the variables its operator allows', () => {
  it('a worker refuses a pipeline reading another variable at once, naming it and the flag; with --allow-env it syncs', async () => {
    const taskQueue = unique('allow-env');
    const secret = `s-${randomUUID()}`;
    const dir = tempDir();
    const config = {
      name: unique('allow-env'),
      // The credential rides in the URL's path: a worker that resolved it would send it to the API.
      source: { name: 'my_source', stream: 'users', api_url: `${api.url}/\${env://APP_SECRET}/..`, page_size: 50, authentication: { type: 'bearer', params: { token: 'BIZON_ENV_SECRET_TOKEN' } } },
      destination: { name: 'file', config: { directory: dir } },
      engine: { temporal: { task_queue: taskQueue }, retry: { initial_interval: '100ms' } },
    };
    const file = writeConfig(dir, config);
    const env = cliEnv({ BIZON_ENV_SECRET_TOKEN: TOKEN, APP_SECRET: secret });
    const since = api.requests.length;
    const refusing = spawnBizon(['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR'], { env });
    try {
      const refused = await runBizon(['run', file, '--no-worker', '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv() });
      // The worker compiles the run and refuses it: a config error (2), not a failed sync.
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(
        'Not allowed to read APP_SECRET (used by source.api_url): a pipeline reads the environment variables named BIZON_ENV_<NAME>, and others only when the operator of the worker allows them — rename it BIZON_ENV_APP_SECRET, or start the worker with --allow-env APP_SECRET',
      );
      expect(refused.stderr).not.toContain(secret);
      // Failed at once: no request reached the API, and no retry was made.
      expect(api.requests.slice(since).filter((request) => request.path.includes(secret))).toHaveLength(0);
      expect(api.requests.length).toBe(since);
    } finally {
      refusing.kill('SIGTERM');
      await new Promise((resolve) => refusing.once('exit', resolve));
    }
    const allowing = spawnBizon(['worker', '--custom-source', PAGE_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR', '--allow-env', 'APP_*'], { env });
    try {
      const ran = await runBizon(['run', file, '--no-worker', '--custom-source', PAGE_SOURCE], { cwd: dir, env: cliEnv() });
      expect(ran.stderr).toContain('✔ Sync succeeded');
      expect(ran.code).toBe(0);
      expect(api.requests.slice(since).some((request) => request.path.includes(secret))).toBe(false);
    } finally {
      allowing.kill('SIGTERM');
    }
  });
});

/** A POST with any headers (fetch will not set Host or Origin). */
function post(port: number, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}
