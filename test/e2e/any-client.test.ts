import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadCustomCode } from '../../config/custom-code.ts';
import { bizonPipelineJsonSchemas } from '../../config/json-schema.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { findTemporalBinary } from '../../engine/temporal-server.ts';
import { runSync } from '../../client.ts';
import type { PipelineResult } from '../../workflows/types.ts';
import { cliEnv, readRows, REST_SOURCE, spawnBizon, tempDir, testClient, unique } from '../helpers.ts';

const run = promisify(execFile);
const TOKEN = 'any-client-token-5d1e';
const PYTHON_CLIENT = path.join(process.env.BIZON_TEST_PYTHON_CLIENT_DIR ?? path.join(homedir(), '.cache', 'bizon-temporal', 'python-client'), 'bin', 'python');
const START_FROM_PYTHON = path.join(import.meta.dirname, '..', 'fixtures', 'any-client', 'start_pipeline.py');

interface PythonOutcome {
  result?: PipelineResult;
  failure?: string;
  type?: string;
  seconds?: number;
}

/** The declarative `rest` source (built in) reading the example API, with the worker's token reference. */
function restPipeline(name: string, api: ExampleApi, directory: string, streams = ['users', 'orders']): Record<string, unknown> {
  return {
    name,
    source: {
      name: 'rest',
      streams,
      base_url: api.url,
      authentication: { type: 'bearer', params: { token: 'BIZON_ENV_ANY_CLIENT_TOKEN' } },
      endpoints: {
        users: { path: '/rest/users', record_selector: 'data', paginator: { type: 'cursor', cursor_path: 'pagination.next_cursor', cursor_param: 'after', size_param: 'limit', page_size: 50 } },
        orders: { path: '/orders', record_selector: 'items', paginator: { type: 'page_number', page_param: 'page', size_param: 'limit', page_size: 25 } },
      },
    },
    destination: { name: 'file', config: { directory } },
  };
}

/** The worker's custom source (`examples/rest-api`, `--custom-source`), one stream. */
function customPipeline(name: string, baseUrl: string, directory: string): Record<string, unknown> {
  return {
    name,
    source: { name: 'rest_api', stream: 'users', base_url: `${baseUrl}/rest`, page_size: 50, authentication: { type: 'bearer', params: { token: 'BIZON_ENV_ANY_CLIENT_TOKEN' } } },
    destination: { name: 'file', config: { directory } },
  };
}

function ids(file: string): number[] {
  return readRows(file).map((row) => (row.source_data as { id: number }).id);
}

function oneToN(n: number): number[] {
  return Array.from({ length: n }, (_, index) => index + 1);
}

describe('any Temporal client starts a sync: the bizonPipeline workflow', () => {
  let api: ExampleApi;
  let stray: ExampleApi;
  let worker: ChildProcess;
  let client: Client;
  let taskQueue: string;
  let dir: string;
  let validInput: ValidateFunction;
  let validResult: ValidateFunction;
  const temporal = findTemporalBinary()!;

  /** `temporal <args>` against the suite's server; its stdout. */
  async function temporalCli(...args: string[]): Promise<string> {
    const { stdout } = await run(temporal, [...args, '--address', inject('temporalAddress')], { timeout: 60_000 });
    return stdout;
  }

  /** Starts bizonPipeline from the Temporal Python SDK and waits for it. */
  async function startFromPython(workflowId: string, input: unknown): Promise<PythonOutcome> {
    const file = path.join(dir, `${workflowId}.json`);
    writeFileSync(file, JSON.stringify(input));
    const { stdout } = await run(PYTHON_CLIENT, [START_FROM_PYTHON, inject('temporalAddress'), taskQueue, workflowId, file], { timeout: 120_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as PythonOutcome;
  }

  beforeAll(async () => {
    if (!existsSync(PYTHON_CLIENT)) throw new Error(`${PYTHON_CLIENT} is missing: run scripts/setup.sh --for-tests (it installs the Temporal Python SDK there)`);
    api = await startExampleApi({ token: TOKEN });
    stray = await startExampleApi();
    dir = tempDir('bizon-any-client-');
    taskQueue = unique('any-client');
    client = await testClient();
    // The schemas `bizon schema workflow-input|workflow-result` prints, for the worker's sources.
    const schemas = bizonPipelineJsonSchemas(await loadCustomCode([REST_SOURCE]));
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    validInput = ajv.compile(schemas.input);
    validResult = ajv.compile(schemas.result);
    // The operator binds the token to the API's host: no pipeline, whoever starts it, sends it anywhere else.
    worker = spawnBizon(['worker', '--custom-source', REST_SOURCE, '--task-queue', taskQueue, '--log-level', 'ERROR', '--allow-env', `BIZON_ENV_ANY_CLIENT_TOKEN=${new URL(api.url).host}`], {
      env: cliEnv({ BIZON_ENV_ANY_CLIENT_TOKEN: TOKEN }),
    });
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    await api?.close();
    await stray?.close();
    await client?.connection.close();
  });

  it('the Temporal Python SDK starts a pipeline of a built-in source and gets every stream outcome; each stream runs under its own sync id', async () => {
    const output = path.join(dir, 'python-builtin');
    const name = unique('py-builtin');
    const input = { pipeline: restPipeline(name, api, output) };
    expect(validInput(input), JSON.stringify(validInput.errors)).toBe(true);
    const outcome = await startFromPython(unique('from-python'), input);

    expect(outcome.failure).toBeUndefined();
    expect(validResult(outcome.result), JSON.stringify(validResult.errors)).toBe(true);
    expect(outcome.result!.streams.map((stream) => [stream.stream, stream.status, stream.result?.records])).toEqual([
      ['users', 'succeeded', 250],
      ['orders', 'succeeded', 120],
    ]);
    expect(ids(path.join(output, 'rest_users.jsonl'))).toEqual(oneToN(250));
    expect(ids(path.join(output, 'rest_orders.jsonl'))).toEqual(oneToN(120));
    const sync = await client.workflow.getHandle(`bizon-sync:${name}:rest:users`).describe();
    expect(sync.type).toBe('syncWorkflow');
    expect(sync.status.name).toBe('COMPLETED');
  });

  it('the Temporal Python SDK starts a pipeline of a custom source the worker was given', async () => {
    const output = path.join(dir, 'python-custom');
    const input = { pipeline: customPipeline(unique('py-custom'), api.url, output), max_iterations: 2 };
    expect(validInput(input), JSON.stringify(validInput.errors)).toBe(true);
    const outcome = await startFromPython(unique('from-python'), input);

    expect(outcome.failure).toBeUndefined();
    expect(validResult(outcome.result), JSON.stringify(validResult.errors)).toBe(true);
    expect(outcome.result!.streams.map((stream) => [stream.stream, stream.status, stream.result?.records, stream.result?.stoppedBy])).toEqual([['users', 'succeeded', 100, 'max_iterations']]);
    expect(ids(path.join(output, 'rest_api_users.jsonl'))).toEqual(oneToN(100));
  });

  it('the program API (runSync) goes the same way: its run is a bizonPipeline, the sync its child', async () => {
    const output = path.join(dir, 'program');
    const pipeline = customPipeline(unique('program'), api.url, output);
    // The secrets live with the worker only: this process does not check them.
    const result = await runSync(client, { config: pipeline, customSourceFiles: [REST_SOURCE], taskQueue, checkSecrets: false });
    expect(result.records).toBe(250);
    const run = await client.workflow.getHandle(`bizon-pipeline:${pipeline.name}:rest_api:users`).describe();
    expect(run.type).toBe('bizonPipeline');
    const sync = await client.workflow.getHandle(`bizon-sync:${pipeline.name}:rest_api:users`).describe();
    expect([sync.type, sync.parentExecution?.workflowId]).toEqual(['syncWorkflow', run.workflowId]);
    expect(ids(path.join(output, 'rest_api_users.jsonl'))).toEqual(oneToN(250));
  });

  it('`temporal workflow execute` runs one, and `temporal workflow query` reads its progress as JSON', async () => {
    const output = path.join(dir, 'cli');
    const workflowId = unique('from-cli');
    const input = path.join(dir, `${workflowId}.json`);
    writeFileSync(input, JSON.stringify({ pipeline: restPipeline(unique('cli'), api, output, ['orders']) }));

    const executed = JSON.parse(await temporalCli('workflow', 'execute', '--type', 'bizonPipeline', '--task-queue', taskQueue, '--workflow-id', workflowId, '--input-file', input, '-o', 'json'));
    expect(executed.status).toBe('COMPLETED');
    expect(ids(path.join(output, 'rest_orders.jsonl'))).toEqual(oneToN(120));

    const queried = JSON.parse(await temporalCli('workflow', 'query', '--workflow-id', workflowId, '--type', 'pipelineProgress', '-o', 'json'));
    const progress = (queried.queryResult ?? queried.result ?? queried)[0] as PipelineResult;
    expect(progress.streams.map((stream) => [stream.stream, stream.status, stream.result?.records, stream.result?.outputs[0]?.records])).toEqual([['orders', 'succeeded', 120, 120]]);
  });

  it('a Schedule made with `temporal schedule create` runs one when triggered', async () => {
    const output = path.join(dir, 'schedule');
    const scheduleId = unique('any-client-schedule');
    const input = path.join(dir, `${scheduleId}.json`);
    writeFileSync(input, JSON.stringify({ pipeline: restPipeline(unique('scheduled'), api, output, ['orders']) }));
    await temporalCli(
      'schedule', 'create', '--schedule-id', scheduleId, '--workflow-id', scheduleId, '--type', 'bizonPipeline', '--task-queue', taskQueue,
      '--input-file', input, '--interval', '24h', '--paused',
    );
    try {
      await temporalCli('schedule', 'trigger', '--schedule-id', scheduleId);
      let started: string | undefined;
      for await (const execution of client.workflow.list({ query: `WorkflowType = 'bizonPipeline' AND WorkflowId STARTS_WITH '${scheduleId}'` })) started = execution.workflowId;
      for (let attempt = 0; !started && attempt < 100; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const description = JSON.parse(await temporalCli('schedule', 'describe', '--schedule-id', scheduleId, '-o', 'json'));
        started = description.info?.recentActions?.[0]?.startWorkflowResult?.workflowId;
      }
      expect(started).toBeDefined();
      const result = (await client.workflow.getHandle(started!).result()) as PipelineResult;
      expect(result.streams.map((stream) => [stream.status, stream.result?.records])).toEqual([['succeeded', 120]]);
      expect(ids(path.join(output, 'rest_orders.jsonl'))).toEqual(oneToN(120));
    } finally {
      await temporalCli('schedule', 'delete', '--schedule-id', scheduleId);
    }
  });

  it('a broken pipeline started from Python fails its workflow in seconds, naming the missing key', async () => {
    const { destination: _missing, ...pipeline } = restPipeline(unique('broken'), api, path.join(dir, 'broken'));
    expect(validInput({ pipeline })).toBe(false);
    const outcome = await startFromPython(unique('broken'), { pipeline });

    expect(outcome.result).toBeUndefined();
    expect(outcome.type).toBe('InvalidPipeline');
    expect(outcome.failure).toContain('destination: missing');
    expect(outcome.seconds).toBeLessThan(10);
  });

  it('a pipeline aiming the worker secret at a host its operator did not allow fails before any request', async () => {
    const requestsBefore = api.requests.length;
    const outcome = await startFromPython(unique('stray'), { pipeline: customPipeline(unique('stray'), stray.url, path.join(dir, 'stray')) });

    expect(outcome.type).toBe('InvalidPipeline');
    expect(outcome.failure).toContain('BIZON_ENV_ANY_CLIENT_TOKEN (used by source.authentication.params.token) may be sent only to');
    expect(outcome.failure).toContain(`would send it to ${new URL(stray.url).host}`);
    expect(outcome.failure).toContain('--allow-env');
    expect(outcome.failure).not.toContain(TOKEN);
    expect(stray.requests).toEqual([]);
    expect(api.requests.length).toBe(requestsBefore);
  });

  it('a credential written literally fails the run before any request: it would be stored in history', async () => {
    const requestsBefore = api.requests.length;
    const pipeline = customPipeline(unique('literal'), api.url, path.join(dir, 'literal'));
    (pipeline.source as { authentication: { params: { token: string } } }).authentication.params.token = 'literal-token-7f3a';
    const outcome = await startFromPython(unique('literal'), { pipeline });

    expect(outcome.type).toBe('InvalidPipeline');
    expect(outcome.failure).toContain('source.authentication.params.token is written in the config');
    expect(api.requests.length).toBe(requestsBefore);
  });

  it('an internal workflow type started with a wrong input fails at once, pointing at bizonPipeline', async () => {
    const workflowId = unique('wrong-type');
    await temporalCli('workflow', 'start', '--type', 'syncWorkflow', '--task-queue', taskQueue, '--workflow-id', workflowId, '--input', JSON.stringify({ pipeline: customPipeline('x', api.url, dir) }));
    const error = await client.workflow.getHandle(workflowId).result().then(
      () => undefined,
      (failure: Error) => failure,
    );
    expect((error?.cause as Error | undefined)?.message).toMatch(/^syncWorkflow was started with an input it cannot run \(no plan\).*start the workflow type bizonPipeline/);
  });

  it('a second run of a running stream is skipped; `temporal workflow cancel` stops the first with nothing published, and the next run resumes', async () => {
    const output = path.join(dir, 'cancelled');
    const pipeline = customPipeline(unique('cancel'), api.url, output);
    const held = api.hold((request) => request.path === '/rest/users' && request.query.after === '50');
    const first = unique('first');
    const input = path.join(dir, `${first}.json`);
    writeFileSync(input, JSON.stringify({ pipeline }));
    await temporalCli('workflow', 'start', '--type', 'bizonPipeline', '--task-queue', taskQueue, '--workflow-id', first, '--input-file', input);
    await held.reached;

    const second = await startFromPython(unique('second'), { pipeline });
    expect(second.result!.streams.map((stream) => [stream.status, stream.workflowId])).toEqual([['skipped', `bizon-sync:${pipeline.name}:rest_api:users`]]);

    const running = JSON.parse(await temporalCli('workflow', 'query', '--workflow-id', first, '--type', 'pipelineProgress', '-o', 'json'));
    expect(((running.queryResult ?? running.result ?? running)[0] as PipelineResult).streams.map((stream) => stream.status)).toEqual(['running']);

    await temporalCli('workflow', 'cancel', '--workflow-id', first);
    held.release();
    const ended = await client.workflow.getHandle(first).result().then(
      () => 'completed',
      (error: Error) => error.cause?.constructor.name,
    );
    expect(ended).toBe('CancelledFailure');
    const sync = await client.workflow.getHandle(`bizon-sync:${pipeline.name}:rest_api:users`).describe();
    expect(sync.status.name).toBe('CANCELLED');
    expect(existsSync(path.join(output, 'rest_api_users.jsonl'))).toBe(false);
    // As `bizon cancel`: the page done stays staged with the checkpoint, for the next run to resume from.
    const staged = readdirSync(path.join(output, '.bizon-staging'), { recursive: true }).filter((entry) => String(entry).endsWith('.jsonl'));
    expect(staged.map((entry) => path.basename(String(entry)))).toContain('0000000001.jsonl');

    const again = await startFromPython(unique('again'), { pipeline });
    // It resumes after the last page the cancelled run finished (the held one may have ended before the cancel reached it).
    expect(again.result!.streams.map((stream) => stream.status)).toEqual(['succeeded']);
    expect(again.result!.streams[0]!.result!.resumedFrom!.iteration).toBeGreaterThanOrEqual(1);
    expect(ids(path.join(output, 'rest_api_users.jsonl'))).toEqual(oneToN(250));
  });
});
