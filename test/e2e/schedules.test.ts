import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync, type SyncRequest } from '../../client.ts';
import { countSkippedRuns, scheduleSync, triggerSchedule, deleteSchedule, describeSchedule } from '../../schedules.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { PipelineResult, SyncResult } from '../../workflows/types.ts';

/** How a scheduled run (`bizonPipeline`) went for its one stream: ran (whatever the sync's outcome) or skipped, and the sync's result. */
function streamOf(run: PipelineResult): { outcome: 'ran' | 'skipped'; result: SyncResult | null } {
  const [stream] = run.streams;
  return { outcome: stream!.status === 'skipped' ? 'skipped' : 'ran', result: stream!.result };
}
import { quietWorkerLogs, readRows, REST_SOURCE, startTestEngine, tempDir, unique, waitForPendingActivity, type TestEngine } from '../helpers.ts';

quietWorkerLogs();

let engine: TestEngine;
let client: Client;
let api: ExampleApi;
const schedules: string[] = [];

beforeAll(async () => {
  engine = await startTestEngine([REST_SOURCE], 'schedules');
  client = engine.client;
  api = await startExampleApi({ datasets: { users: 200 } });
});
afterAll(async () => {
  for (const id of schedules) await deleteSchedule(client, id).catch(() => undefined);
  await engine?.stop();
  await api?.close();
});

function request(name: string, dir: string, pageSize = 20): SyncRequest {
  return {
    config: {
      name,
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: pageSize, sync_mode: 'incremental', cursor_field: 'updated_at' },
      destination: { name: 'file', config: { directory: dir } },
    },
    customSourceFiles: [REST_SOURCE],
    taskQueue: engine.taskQueue,
  };
}

/** Triggers the schedule and returns the launcher workflow it started. */
async function trigger(scheduleId: string): Promise<WorkflowHandle> {
  const before = (await describeSchedule(client, scheduleId)).info.recentActions.length;
  await triggerSchedule(client, scheduleId);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const actions = (await describeSchedule(client, scheduleId)).info.recentActions;
    if (actions.length > before) {
      const launched = actions.at(-1)!.action.workflow;
      return client.workflow.getHandle(launched.workflowId, launched.firstExecutionRunId);
    }
    if (Date.now() > deadline) throw new Error('the schedule did not start its action');
    await sleep(100);
  }
}

/** Triggers the schedule and returns how the run it started went. */
async function triggerAndFollow(scheduleId: string): Promise<ReturnType<typeof streamOf>> {
  return streamOf(await (await trigger(scheduleId)).result());
}

/** Holds every page after the first until released: the sync that asked for its first page stays running. */
const holdLaterPages = () => api.hold((request) => request.path === '/rest/users' && request.query.after !== undefined);

function updatedSinceOfRequests(from: number): Array<string | undefined> {
  return [...new Set(api.requests.slice(from).filter((r) => r.path === '/rest/users').map((r) => r.query.updated_since))];
}

describe('Schedules', () => {
  it('the watermark flows from a manual run to a scheduled run and back', async () => {
    const dir = tempDir();
    const name = unique('sched-watermark');
    const sync = request(name, dir);
    const handle = await scheduleSync(client, sync, { every: '1d', paused: true });
    schedules.push(handle.scheduleId);

    const manual = (await (await startSync(client, sync)).handle.result()) as SyncResult;
    expect(manual.records).toBe(200);

    api.touch('users', [3, 150]);
    let mark = api.requests.length;
    const scheduled = await triggerAndFollow(handle.scheduleId);
    expect(scheduled.outcome).toBe('ran');
    expect((scheduled.result as SyncResult).records).toBe(2);
    expect(updatedSinceOfRequests(mark)).toEqual([manual.lastRun]);

    api.touch('users', [77]);
    mark = api.requests.length;
    const manualAgain = (await (await startSync(client, sync)).handle.result()) as SyncResult;
    expect(manualAgain.records).toBe(1);
    expect(updatedSinceOfRequests(mark)).toEqual([(scheduled.result as SyncResult).lastRun]);
    expect(readRows(path.join(dir, 'rest_api_users.jsonl')).map((row) => Number(row.source_record_id)).slice(200)).toEqual([3, 150, 77]);
  });

  it('a manual run while a scheduled run is running attaches to it; a scheduled run while a manual one runs skips', async () => {
    const dir = tempDir();
    const name = unique('sched-overlap');
    const sync = request(name, dir, 10);
    const handle = await scheduleSync(client, sync, { every: '1d', paused: true });
    schedules.push(handle.scheduleId);

    // Scheduled first, manual second: the manual start attaches to the scheduled sync.
    const mark = api.requests.length;
    const scheduledRunning = holdLaterPages();
    try {
      const launcher = await trigger(handle.scheduleId);
      await scheduledRunning.reached;
      const manual = await startSync(client, sync);
      expect(manual.attached).toBe(true);
      scheduledRunning.release();
      expect(streamOf(await launcher.result()).outcome).toBe('ran');
      expect(((await manual.handle.result()) as SyncResult).records).toBe(200);
    } finally {
      scheduledRunning.release();
    }
    const pages = api.requests.slice(mark).filter((r) => r.path === '/rest/users').map((r) => r.query.after ?? 'first');
    expect(pages).toHaveLength(20);
    expect(new Set(pages).size).toBe(pages.length); // each page asked once: no second sync interleaved

    // Manual first, scheduled second: the scheduled run skips.
    api.touch('users', Array.from({ length: 60 }, (_, index) => index + 1));
    const manualRunning = holdLaterPages();
    try {
      const running = await startSync(client, sync);
      expect(running.attached).toBe(false);
      await manualRunning.reached;
      const skipped = await triggerAndFollow(handle.scheduleId);
      expect(skipped.outcome).toBe('skipped');
      expect(await countSkippedRuns(client, await describeSchedule(client, handle.scheduleId))).toBe(1);
      manualRunning.release();
      expect(((await running.handle.result()) as SyncResult).records).toBe(60);
    } finally {
      manualRunning.release();
    }
  });

  it("overlap: 'wait' runs after the running sync instead of beside it", async () => {
    const dir = tempDir();
    const name = unique('sched-wait');
    const sync = request(name, dir, 20);
    const handle = await scheduleSync(client, sync, { every: '1d', paused: true, overlap: 'wait' });
    schedules.push(handle.scheduleId);
    const manualRunning = holdLaterPages();
    try {
      const manual = await startSync(client, sync);
      await manualRunning.reached;
      const launcher = await trigger(handle.scheduleId);
      await waitForPendingActivity(launcher, 'waitForSync');
      manualRunning.release();
      const scheduled = streamOf(await launcher.result());
      const manualResult = (await manual.handle.result()) as SyncResult;
      expect(manualResult.records).toBe(200);
      expect(scheduled.outcome).toBe('ran');
      expect(Date.parse((scheduled.result as SyncResult).startedAt)).toBeGreaterThanOrEqual(Date.parse(manualResult.finishedAt));
      expect((scheduled.result as SyncResult).incrementalSince).toBe(manualResult.lastRun);
    } finally {
      manualRunning.release();
    }
  });
});

