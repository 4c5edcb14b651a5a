import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { readStreamStateUpdate } from '../../workflows/state.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync, startSync, type SyncRequest } from '../../client.ts';
import { streamStateWorkflowId, syncWorkflowId } from '../../engine/ids.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { StreamStateMemo, SyncResult } from '../../workflows/types.ts';
import { quietWorkerLogs, readRows, REST_SOURCE, startTestEngine, tempDir, unique, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

let engine: TestEngine;
let client: Client;
let api: ExampleApi;
beforeAll(async () => {
  engine = await startTestEngine([REST_SOURCE], 'stream-state');
  client = engine.client;
  api = await startExampleApi({ datasets: { users: 120 } });
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
});

function incrementalPipeline(dir: string): SyncRequest & { config: { name: string; source: { name: string; stream: string } } } {
  return {
    config: {
      name: unique('state'),
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, sync_mode: 'incremental', cursor_field: 'updated_at' },
      destination: { name: 'file', config: { directory: dir } },
    },
    customSourceFiles: [REST_SOURCE],
    taskQueue: engine.taskQueue,
  };
}

/** Deletes a workflow's run as Temporal's retention does, and waits until it is gone (from describe and from visibility). */
async function deleteRun(workflowId: string, runId?: string): Promise<void> {
  await client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId, runId } });
  for (;;) {
    const gone = await client.workflow
      .getHandle(workflowId, runId)
      .describe()
      .then(() => false)
      .catch((error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return true;
        throw error;
      });
    const listed = gone ? await countRuns(workflowId, runId) : 1;
    if (listed === 0) return;
    await sleep(200);
  }
}

async function countRuns(workflowId: string, runId?: string): Promise<number> {
  let count = 0;
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) if (!runId || run.runId === runId) count += 1;
  return count;
}

/** Every closed run of a sync, deleted (what 24 hours of retention does on the local server). */
async function deleteClosedRuns(workflowId: string): Promise<number> {
  const runIds: string[] = [];
  const { runId } = await client.workflow.getHandle(workflowId).describe();
  runIds.push(runId);
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) if (!runIds.includes(run.runId)) runIds.push(run.runId);
  // The dev server removes a closed run about 30 s after the request; both deletions wait together.
  await Promise.all(runIds.map((id) => deleteRun(workflowId, id)));
  return runIds.length;
}

const updatedSince = (from: number) => [...new Set(api.requests.slice(from).filter((r) => r.path === '/rest/users').map((r) => r.query.updated_since))];

describe("a stream's state lives in its state workflow", () => {
  it('the watermark outlives the deletion of every closed sync run; each sync reads the newest one', async () => {
    const dir = tempDir();
    const request = incrementalPipeline(dir);
    const output = () => readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => Number(row.source_record_id));
    const first = await runSync(client, request);
    expect(first.records).toBe(120);

    expect(await deleteClosedRuns(syncWorkflowId(request.config))).toBeGreaterThanOrEqual(1);
    api.touch('users', [7, 64]);
    let mark = api.requests.length;
    const second = await runSync(client, request);
    expect(updatedSince(mark)).toEqual([first.lastRun]);
    expect(second).toMatchObject({ records: 2, incrementalSince: first.lastRun, incrementalFullRead: false });
    expect(output()).toEqual([...Array.from({ length: 120 }, (_, index) => index + 1), 7, 64]);

    // Back to back, each sync starts from the one before it.
    let previous: SyncResult = second;
    for (const id of [3, 4]) {
      api.touch('users', [id]);
      mark = api.requests.length;
      const next = await runSync(client, request);
      expect(updatedSince(mark)).toEqual([previous.lastRun]);
      expect(next.records).toBe(1);
      previous = next;
    }

    const state = await describeSettled(streamStateWorkflowId(request.config));
    expect(state.status.name).toBe('RUNNING');
    expect(state.memo as Partial<StreamStateMemo>).toMatchObject({ last_run: previous.lastRun, records: 1, pages: 1 });
    expect((state.memo as Partial<StreamStateMemo>).checkpoint ?? null).toBeNull();
  });

  it('a stream that synced before state workflows existed is migrated from its closed runs once', async () => {
    const dir = tempDir();
    const request = incrementalPipeline(dir);
    const first = await runSync(client, request);
    await deleteRun(streamStateWorkflowId(request.config));

    api.touch('users', [11]);
    const mark = api.requests.length;
    const second = await runSync(client, request);
    expect(updatedSince(mark)).toEqual([first.lastRun]);
    expect(second.records).toBe(1);
    expect((await describeSettled(streamStateWorkflowId(request.config))).memo).toMatchObject({ last_run: second.lastRun });
  });

  it('an incremental sync whose state is gone reads everything and replaces the output: nothing twice', async () => {
    const dir = tempDir();
    const request = incrementalPipeline(dir);
    await runSync(client, request);
    await deleteClosedRuns(syncWorkflowId(request.config));
    await deleteRun(streamStateWorkflowId(request.config));

    const mark = api.requests.length;
    const again = await runSync(client, request);
    expect(updatedSince(mark)).toEqual([undefined]);
    expect(again).toMatchObject({ records: 120, incrementalSince: null, incrementalFullRead: true });
    const ids = readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => Number(row.source_record_id));
    expect(ids).toHaveLength(120);
    expect(new Set(ids).size).toBe(120);
  });

  it('a pipeline moved to another task queue takes its state along', async () => {
    const dir = tempDir();
    const request = incrementalPipeline(dir);
    const first = await runSync(client, request);
    const elsewhere = await startTestEngine([REST_SOURCE], 'stream-state-moved');
    try {
      api.touch('users', [21]);
      const mark = api.requests.length;
      const moved = await runSync(client, { ...request, taskQueue: elsewhere.taskQueue });
      expect(updatedSince(mark)).toEqual([first.lastRun]);
      expect(moved.records).toBe(1);
      const handle = client.workflow.getHandle(streamStateWorkflowId(request.config));
      expect((await handle.describe()).taskQueue).toBe(elsewhere.taskQueue);
      // Read through the Update, which comes after every event recorded before it (the memo may lag a task behind).
      expect((await handle.executeUpdate(readStreamStateUpdate, { args: [null] })).watermark?.lastRun).toBe(moved.lastRun);
    } finally {
      await elsewhere.stop();
    }
  });
});

/** The users of the REST example, 10 a page (12 pages), with a checkpoint every `checkpointEvery` pages. */
function pagedPipeline(dir: string, syncMode: 'incremental' | 'full_refresh', checkpointEvery: number, continueAsNewEvery = 250) {
  return {
    config: {
      name: unique('state'),
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 10, sync_mode: syncMode, cursor_field: 'updated_at' },
      destination: { name: 'file', config: { directory: dir } },
      engine: { checkpoint_every: checkpointEvery, continue_as_new_every: continueAsNewEvery },
    },
    customSourceFiles: [REST_SOURCE],
    taskQueue: engine.taskQueue,
  };
}

describe("checkpoints while a sync runs stay in its memo", () => {
  it('a sync records only its start and its end in the state workflow, however many checkpoints it passes', async () => {
    const request = pagedPipeline(tempDir(), 'incremental', 2);
    const result = await runSync(client, request);
    expect(result.iterations).toBe(12);
    const events = (await client.workflow.getHandle(streamStateWorkflowId(request.config)).fetchHistory()).events ?? [];
    // One Update (the sync loading its state and saying it starts), one signal (it succeeded): no checkpoint in between.
    expect(events.filter((event) => event.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
    expect(events.filter((event) => event.workflowExecutionSignaledEventAttributes)).toHaveLength(1);
  });

  it('a terminated sync (it never recorded its end) is resumed by the next run from the last checkpoint in its last run\'s memo; every record once', async () => {
    const dir = tempDir();
    // Continued as new after page 4: the checkpoint is in the memo of the sync's second run.
    const request = pagedPipeline(dir, 'full_refresh', 3, 4);
    const since = api.requests.length;
    // The 8th page (after id 70) is held: the memo's last checkpoint is page 6.
    const held = api.hold((request) => request.path === '/rest/users' && request.query.after === '70');
    try {
      const started = await startSync(client, request);
      await held.reached;
      await started.handle.terminate('stopped by an operator');
      held.release();
      const resumed = await runSync(client, request);
      expect(resumed.resumedFrom).toMatchObject({ iteration: 6 });
      expect(resumed.records).toBe(120);
      const ids = readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => Number(row.source_record_id));
      expect(ids).toHaveLength(120);
      expect(new Set(ids).size).toBe(120);
      // Pages 1–6 were read once: the resumed run began after its checkpoint.
      const afters = api.requests.slice(since).filter((r) => r.path === '/rest/users').map((r) => r.query.after ?? '0');
      for (const after of ['0', '10', '20', '30', '40', '50']) expect(afters.filter((value) => value === after)).toHaveLength(1);
    } finally {
      held.release();
    }
  });
});

/**
 * Describes a state workflow once it has handled every event recorded before: its Update is answered after
 * them, in a task that has upserted their memo (a describe alone may see the memo one task behind).
 */
async function describeSettled(workflowId: string) {
  const handle = client.workflow.getHandle(workflowId);
  await handle.executeUpdate(readStreamStateUpdate, { args: [null] });
  return handle.describe();
}
