import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamRunWorkflowId, syncWorkflowId } from '../../engine/ids.ts';
import type { PipelineResult } from '../../workflows/types.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { PAGE_SOURCE, readRows, runBizon, spawnWorker, tempDir, testClient, unique, writeConfig } from '../helpers.ts';

// `bizon run a.yml b.yml …`: many pipelines started from one process over one connection.

let api: ExampleApi;
beforeAll(async () => {
  api = await startExampleApi();
});
afterAll(async () => api?.close());

/** A pipeline of the page source over one stream of the example API, into `dir`. */
function pipelineFile(dir: string, stream: string, taskQueue: string, extra: Record<string, unknown> = {}, apiUrl = api.url) {
  const config = {
    name: unique(`many-${stream}`),
    source: { name: 'my_source', stream, api_url: apiUrl, page_size: 50 },
    destination: { name: 'file', config: { directory: path.join(dir, 'output') } },
    engine: { temporal: { task_queue: taskQueue } },
    ...extra,
  };
  return { config, file: writeConfig(dir, config, `${config.name}.yml`) };
}

describe('bizon run with several config files', () => {
  it('starts them all from one process with one worker, prints each verdict, and exits 1 when one failed; the others are published', async () => {
    const dir = tempDir();
    const taskQueue = unique('many');
    const [users, orders] = ['users', 'orders'].map((stream) => pipelineFile(dir, stream, taskQueue));
    // An API path that does not exist: its first page answers 404, and that sync fails.
    const missing = pipelineFile(dir, 'users', taskQueue, { destination: { name: 'file', config: { directory: path.join(dir, 'missing') } } }, `${api.url}/gone`);
    const result = await runBizon(['run', users!.file, orders!.file, missing.file, '--custom-source', PAGE_SOURCE], { cwd: dir });
    expect(result.stderr.match(/^Started sync /gm)).toHaveLength(3);
    expect(result.stderr).toContain(`✔ Sync succeeded: ${users!.config.name} (my_source/users)`);
    expect(result.stderr).toContain(`✔ Sync succeeded: ${orders!.config.name} (my_source/orders)`);
    expect(result.stderr).toMatch(new RegExp(`✖ Sync failed: ${missing.config.name} \\(my_source/users\\)\\n  .*404`));
    expect(result.stderr).toContain('1 of 3 failed.');
    expect(result.code).toBe(1);
    expect(readRows(path.join(dir, 'output', 'my_source_users.jsonl'))).toHaveLength(250);
    expect(readRows(path.join(dir, 'output', 'my_source_orders.jsonl'))).toHaveLength(120);
  });

  it('an invalid file among them: exit 2 naming it, and nothing started', async () => {
    const dir = tempDir();
    const taskQueue = unique('many');
    const good = pipelineFile(dir, 'users', taskQueue);
    const bad = pipelineFile(dir, 'orders', taskQueue, { engine: { temporal: { task_queue: taskQueue }, pages_per_actvity: 5 } });
    const result = await runBizon(['run', good.file, bad.file, '--custom-source', PAGE_SOURCE], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("engine.pages_per_actvity: unknown key — did you mean 'pages_per_activity'?");
    const client = await testClient();
    try {
      const described = await client.workflow.getHandle(syncWorkflowId(good.config)).describe().catch((error: unknown) => error);
      expect(described).toBeInstanceOf(WorkflowNotFoundError);
    } finally {
      await client.connection.close();
    }
  });

  it('--detach --no-worker starts them all and returns; workers elsewhere run them', async () => {
    const dir = tempDir();
    const taskQueue = unique('many');
    const [users, orders] = ['users', 'orders'].map((stream) => pipelineFile(dir, stream, taskQueue));
    const worker = spawnWorker(taskQueue);
    const client = await testClient();
    try {
      const result = await runBizon(['run', users!.file, orders!.file, '--custom-source', PAGE_SOURCE, '--detach', '--no-worker'], { cwd: dir });
      expect(result.code).toBe(0);
      expect(result.stderr.match(/^Started sync /gm)).toHaveLength(2);
      // Detached, each started its run; the sync is the run's child, once a worker compiled it.
      for (const config of [users!.config, orders!.config]) {
        expect(result.stderr).toContain(`workflow: ${streamRunWorkflowId(config)} (its sync: ${syncWorkflowId(config)})`);
        const run = (await client.workflow.getHandle(streamRunWorkflowId(config)).result()) as PipelineResult;
        expect(run.streams.map((stream) => [stream.workflowId, stream.status])).toEqual([[syncWorkflowId(config), 'succeeded']]);
      }
      expect(readRows(path.join(dir, 'output', 'my_source_users.jsonl'))).toHaveLength(250);
      expect(readRows(path.join(dir, 'output', 'my_source_orders.jsonl'))).toHaveLength(120);
    } finally {
      worker.kill('SIGKILL');
      await client.connection.close();
    }
  });

  it('refuses --result-json with several files', async () => {
    const dir = tempDir();
    const taskQueue = unique('many');
    const [users, orders] = ['users', 'orders'].map((stream) => pipelineFile(dir, stream, taskQueue));
    const result = await runBizon(['run', users!.file, orders!.file, '--custom-source', PAGE_SOURCE, '--result-json', path.join(dir, 'r.json')], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--result-json writes the outcome of one pipeline');
  });
});
