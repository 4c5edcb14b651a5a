import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { prepareSync } from '../../client.ts';
import { SYNC_WORKFLOW_TYPE } from '../../engine/constants.ts';
import { workflowBundle } from '../../engine/workflow-bundle.ts';
import { chooseStart } from '../../workflows/sync.ts';
import type { StreamStateEvent, SyncCheckpoint, SyncMemo, SyncResult, SyncState, SyncWorkflowInput } from '../../workflows/types.ts';
import type { ExtractPageInput, ExtractPagesInput, FinalizeSyncInput, SyncActivities } from '../../workflows/activity-types.ts';
import { unique } from '../helpers.ts';

// syncWorkflow on a real Temporal server with stubbed activities: no source, no destination, no HTTP.
Runtime.install({ logger: new DefaultLogger('ERROR') });

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});
afterAll(async () => env?.teardown());

/** A source of `pages` pages of 10 records, paged by `{ page: n }`, as the stub activities see it. */
interface StubOptions {
  pages: number;
  /** What `loadSyncState` answers (default: nothing before). */
  previous?: SyncState;
  /** Thrown by `extractPage` for this page, on every attempt. */
  failAt?: number;
  /** A batch (`extractPages`) ends after this page at the latest, as if its time budget ran out. */
  batchEndsAt?: number;
  /** What `planSlices` answers (each slice then has `pages` pages). */
  slices?: Array<Record<string, unknown>>;
}

/** Stub activities that record every call they get. */
function stubActivities(options: StubOptions) {
  const calls = { extracted: [] as ExtractPageInput[], batches: [] as ExtractPagesInput[], finalized: [] as FinalizeSyncInput[], aborted: [] as string[], recorded: [] as StreamStateEvent[], prepared: 0 };
  const activities: SyncActivities = {
    async sendAlert() {},
    async forgetPublishedRun() {},
    async loadSyncState() {
      return options.previous ?? { watermark: null, resumable: null, source: 'none' };
    },
    async prepareSync() {
      calls.prepared += 1;
      return { total: options.pages * 10 };
    },
    async extractPage(input) {
      calls.extracted.push(input);
      if (input.iteration === options.failAt) throw ApplicationFailure.nonRetryable(`page ${input.iteration} refused`, 'HttpClientError');
      return {
        nextPagination: input.iteration < options.pages ? { page: input.iteration + 1 } : null,
        recordCount: 10,
        maxCursorValue: null,
        calledAt: Date.now(),
      };
    },
    async extractPages(input) {
      calls.batches.push(input);
      const cutShort = options.batchEndsAt !== undefined && options.batchEndsAt >= input.iteration ? options.batchEndsAt : Infinity;
      const last = Math.min(input.iteration + input.maxPages - 1, options.pages, cutShort);
      return {
        firstIteration: input.iteration,
        lastIteration: last,
        nextPagination: last < options.pages ? { page: last + 1 } : null,
        recordCount: 10 * (last - input.iteration + 1),
        maxCursorValue: null,
        sourceMs: 1,
        done: last === options.pages,
      };
    },
    async planSlices() {
      return (options.slices ?? []).map((slice) => ({ ...slice }));
    },
    async finalizeSync(input) {
      calls.finalized.push(input);
      return [{ destinationId: 'stub', records: 0, location: 'nowhere' }];
    },
    async abortSync(input) {
      calls.aborted.push(input.syncRunId);
    },
    async recordStreamState(input) {
      calls.recorded.push(input.event);
    },
    async waitForSync() {},
  };
  return { activities, calls };
}

async function planFor(engine: Record<string, unknown> = {}, source: Record<string, unknown> = {}): Promise<SyncWorkflowInput> {
  const prepared = await prepareSync({
    config: { name: unique('wf'), source: { name: 'dummy', stream: 'creatures', ...source }, destination: { name: 'logger', config: {} }, engine },
    checkSecrets: false,
  });
  return prepared.input;
}

/** Runs syncWorkflow with `input` on a worker of its own whose activities are `activities`. */
async function runWorkflow(input: SyncWorkflowInput, activities: SyncActivities) {
  const taskQueue = unique('wf-test');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  const workflowId = unique('bizon-sync:wf-test');
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(SYNC_WORKFLOW_TYPE, { workflowId, taskQueue, args: [input] });
    const outcome = await handle.result().then(
      (result) => ({ result: result as SyncResult, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    const memo = (await handle.describe()).memo as Partial<SyncMemo> | undefined;
    // What the Web UI shows on each page activity of the last run.
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name?.startsWith('extractPage'))
      .map((event) => (event.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(event.userMetadata.summary as Payload) : undefined));
    // The iterations of the checkpoints the run put in its memo as it went (not the one its end leaves).
    const memoCheckpoints = (history.events ?? [])
      .map((event) => event.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.checkpoint)
      .filter((payload) => payload !== undefined && payload !== null)
      .map((payload) => defaultPayloadConverter.fromPayload<SyncCheckpoint | null>(payload as Payload))
      .flatMap((checkpoint) => (checkpoint ? [checkpoint.iteration] : []));
    return { ...outcome, memo, summaries, memoCheckpoints, mostPagesInFlight: mostPagesInFlight(history.events ?? []) };
  });
}

/**
 * The most page activities the workflow had scheduled and not yet seen end, at any point of its history: what it
 * asked for at once, whatever the worker's speed.
 */
function mostPagesInFlight(events: Array<{ eventId?: unknown; activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null; activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null; activityTaskFailedEventAttributes?: { scheduledEventId?: unknown } | null; activityTaskTimedOutEventAttributes?: { scheduledEventId?: unknown } | null; activityTaskCanceledEventAttributes?: { scheduledEventId?: unknown } | null }>): number {
  const inFlight = new Set<string>();
  let most = 0;
  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name?.startsWith('extractPage')) inFlight.add(String(event.eventId));
    const ended = event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes ?? event.activityTaskCanceledEventAttributes;
    if (ended) inFlight.delete(String(ended.scheduledEventId));
    most = Math.max(most, inFlight.size);
  }
  return most;
}

/** A checkpoint a failed sync left, with `fields` changed. */
function failedCheckpoint(fields: Partial<SyncCheckpoint>): SyncCheckpoint {
  return {
    syncRunId: 'failed-run',
    startedAt: '2026-01-01T00:00:00.000Z',
    iteration: 3,
    pagination: { page: 4 },
    done: false,
    records: 30,
    total: 50,
    runs: 1,
    incrementalState: null,
    maxCursorValue: null,
    resumedFrom: null,
    ...fields,
  };
}

const pagesSeen = (calls: { extracted: ExtractPageInput[] }) => calls.extracted.map((call) => [call.iteration, call.pagination]);

describe('syncWorkflow with stubbed activities', () => {
  it('carries each nextPagination to the next page and publishes once at the end', async () => {
    const { activities, calls } = stubActivities({ pages: 4 });
    const { result, memo } = await runWorkflow(await planFor(), activities);
    expect(pagesSeen(calls)).toEqual([
      [1, null],
      [2, { page: 2 }],
      [3, { page: 3 }],
      [4, { page: 4 }],
    ]);
    expect(result).toMatchObject({ iterations: 4, records: 40, runs: 1, stoppedBy: 'end_of_source', resumedFrom: null });
    expect(calls.finalized).toEqual([expect.objectContaining({ mode: 'replace', syncRunId: calls.extracted[0]!.syncRunId })]);
    expect(memo).toMatchObject({ pages: 4, records: 40, last_run: result!.startedAt });
    expect(memo?.checkpoint).toBeUndefined(); // a null memo value removes the key
    expect(calls.recorded).toEqual([expect.objectContaining({ kind: 'succeeded', watermark: { lastRun: result!.startedAt, maxCursorValue: null, records: 40, pages: 4 } })]);
  });

  it('continues as new every continue_as_new_every pages, the same sync across its runs', async () => {
    const { activities, calls } = stubActivities({ pages: 7 });
    const { result } = await runWorkflow(await planFor({ continue_as_new_every: 3 }), activities);
    expect(result).toMatchObject({ iterations: 7, records: 70, runs: 3 });
    expect(calls.extracted.map((call) => call.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(calls.extracted[3]!.pagination).toEqual({ page: 4 });
    expect(new Set(calls.extracted.map((call) => call.syncRunId)).size).toBe(1);
    expect(calls.prepared).toBe(1);
  });

  it('stops at max_iterations and says so', async () => {
    const { activities, calls } = stubActivities({ pages: 10 });
    const { result } = await runWorkflow(await planFor({}, { max_iterations: 3 }), activities);
    expect(calls.extracted).toHaveLength(3);
    expect(result).toMatchObject({ iterations: 3, records: 30, stoppedBy: 'max_iterations' });
  });

  it('a failed page leaves its checkpoint in the memo and publishes nothing', async () => {
    const { activities, calls } = stubActivities({ pages: 6, failAt: 4 });
    const { error, memo, memoCheckpoints } = await runWorkflow(await planFor({ checkpoint_every: 2 }), activities);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(calls.finalized).toHaveLength(0);
    expect(memo?.checkpoint).toMatchObject({ iteration: 3, pagination: { page: 4 }, done: false, records: 30 });
    // The memo had the start (0) and the periodic checkpoint (2), then the place of the failure (3).
    expect(memoCheckpoints).toEqual([0, 2, 3]);
    // The stream's state workflow gets only the checkpoint the failure left.
    expect(calls.recorded.map((event) => (event.kind === 'checkpoint' ? [event.status, event.checkpoint.iteration] : [event.kind]))).toEqual([
      ['failed', 3],
    ]);
  });

  it('with pages_per_activity, asks each batch for the pages after the last one and names them in its summary', async () => {
    const { activities, calls } = stubActivities({ pages: 10, batchEndsAt: 6 });
    const { result, summaries, memoCheckpoints } = await runWorkflow(await planFor({ pages_per_activity: 4, checkpoint_every: 5 }), activities);
    expect(calls.extracted).toHaveLength(0);
    expect(summaries).toEqual(['pages 1–4 · first page', 'pages 5–8 · {"page":5}', 'pages 7–10 · {"page":7}']);
    // 1–4, then 5–8 cut short after page 6 (its time budget), then 7–10.
    expect(calls.batches.map((batch) => [batch.iteration, batch.pagination, batch.maxPages])).toEqual([
      [1, null, 4],
      [5, { page: 5 }, 4],
      [7, { page: 7 }, 4],
    ]);
    expect(result).toMatchObject({ iterations: 10, records: 100, stoppedBy: 'end_of_source', pagesPerActivity: 4, sourceMs: 3 });
    // A checkpoint in the memo whenever a batch crosses a multiple of checkpoint_every (5; at 10 the sync is done);
    // the state workflow hears only the success.
    expect(memoCheckpoints).toEqual([0, 6]);
    expect(calls.recorded.map((event) => event.kind)).toEqual(['succeeded']);
  });

  it('with pages_per_activity, the last batch stops at max_iterations', async () => {
    const { activities, calls } = stubActivities({ pages: 20 });
    const { result } = await runWorkflow(await planFor({ pages_per_activity: 4 }, { max_iterations: 6 }), activities);
    expect(calls.batches.map((batch) => [batch.iteration, batch.maxPages])).toEqual([
      [1, 4],
      [5, 2],
    ]);
    expect(result).toMatchObject({ iterations: 6, records: 60, stoppedBy: 'max_iterations' });
  });

  it('a sliced stream pages every slice from its own first page, slices in parallel, and sums them', async () => {
    const slices = [{ day: '01' }, { day: '02' }, { day: '03' }];
    const { activities, calls } = stubActivities({ pages: 3, slices });
    const input = await planFor({ checkpoint_every: 4 });
    const { result, summaries, mostPagesInFlight } = await runWorkflow({ ...input, plan: { ...input.plan, sliced: true, maxParallelSlices: 2 } }, activities);
    expect(result).toMatchObject({ iterations: 9, records: 90, slices: 3, stoppedBy: 'end_of_source' });
    for (const [index, slice] of slices.entries()) {
      expect(calls.extracted.filter((call) => call.slice?.index === index).map((call) => [call.iteration, call.pagination, call.slice?.slice])).toEqual([
        [1, null, slice],
        [2, { page: 2 }, slice],
        [3, { page: 3 }, slice],
      ]);
    }
    // Two lanes, read from the history: two pages asked for at once (in parallel), never three (the cap).
    expect(mostPagesInFlight).toBe(2);
    expect(summaries).toContain('slice 1 · page 2 · {"page":2}');
  });

  it("slices with a partition key are read from each partition's own watermark (a new one whole), labelled with it, and the success records which were read", async () => {
    const slices = [
      { partition: '1', label: 'posts 1' },
      { partition: 2, label: 'posts 2' },
      { partition: '3', label: 'posts 3' },
      { day: 'no partition' },
    ];
    const watermark = { lastRun: '2026-01-03T00:00:00.000Z', maxCursorValue: null, records: 10, pages: 1 };
    const partitions = { '2026-01-01T00:00:00.000Z': ['1', '9'], '2026-01-02T00:00:00.000Z': ['2'] };
    const { activities, calls } = stubActivities({ pages: 1, slices, previous: { watermark, resumable: null, source: 'state-workflow', partitions } });
    const input = await planFor({}, { sync_mode: 'incremental' });
    const { result, summaries } = await runWorkflow({ ...input, plan: { ...input.plan, sliced: true, maxParallelSlices: 1 } }, activities);
    expect(result).toMatchObject({ slices: 4, records: 40 });
    expect(calls.extracted.map((call) => call.incrementalState?.lastRun ?? null)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', null, watermark.lastRun]);
    expect(summaries).toEqual(['slice 0 (posts 1) · page 1 · first page', 'slice 1 (posts 2) · page 1 · first page', 'slice 2 (posts 3) · page 1 · first page', 'slice 3 · page 1 · first page']);
    expect(calls.recorded.at(-1)).toMatchObject({ kind: 'succeeded', partitions: { keys: ['1', '2', '3'], replace: false } });
  });

  it.each([1, 3])('max_parallel_slices: %i asks for that many pages at once over four slices, no more', async (lanes) => {
    const { activities, calls } = stubActivities({ pages: 2, slices: [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }] });
    const input = await planFor();
    const { result, mostPagesInFlight } = await runWorkflow({ ...input, plan: { ...input.plan, sliced: true, maxParallelSlices: lanes } }, activities);
    expect(result).toMatchObject({ iterations: 8, slices: 4 });
    expect(calls.extracted).toHaveLength(8);
    expect(mostPagesInFlight).toBe(lanes);
  });

  it('a sliced stream continues as new with each slice where it stood', async () => {
    const { activities, calls } = stubActivities({ pages: 3, slices: [{ a: 1 }, { a: 2 }, { a: 3 }] });
    const input = await planFor({ continue_as_new_every: 2 });
    const { result } = await runWorkflow({ ...input, plan: { ...input.plan, sliced: true, maxParallelSlices: 2 } }, activities);
    expect(result).toMatchObject({ iterations: 9, records: 90, slices: 3 });
    expect(result!.runs).toBeGreaterThan(1);
    // Every page of every slice exactly once, across the runs.
    expect(calls.extracted.map((call) => `${call.slice?.index}:${call.iteration}`).sort()).toEqual(['0:1', '0:2', '0:3', '1:1', '1:2', '1:3', '2:1', '2:2', '2:3']);
  });

  it('a sliced stream stops at max_iterations pages in all', async () => {
    const { activities, calls } = stubActivities({ pages: 5, slices: [{ a: 1 }, { a: 2 }] });
    const input = await planFor({}, { max_iterations: 7 });
    const { result } = await runWorkflow({ ...input, plan: { ...input.plan, sliced: true, maxParallelSlices: 2 } }, activities);
    expect(calls.extracted).toHaveLength(7);
    expect(result).toMatchObject({ iterations: 7, records: 70, stoppedBy: 'max_iterations' });
  });

  it('a sliced stream with no slices publishes an empty output', async () => {
    const { activities, calls } = stubActivities({ pages: 5, slices: [] });
    const input = await planFor();
    const { result } = await runWorkflow({ ...input, plan: { ...input.plan, sliced: true } }, activities);
    expect(calls.extracted).toHaveLength(0);
    expect(calls.finalized).toHaveLength(1);
    expect(result).toMatchObject({ iterations: 0, records: 0, slices: 0 });
  });

  it('resumes a failed sync after its checkpoint, in its staging', async () => {
    const failed = failedCheckpoint({ runs: 2 });
    const { activities, calls } = stubActivities({ pages: 5, previous: { watermark: null, resumable: { ...failed, status: 'FAILED', runId: 'r1' }, source: 'state-workflow' } });
    const { result } = await runWorkflow(await planFor(), activities);
    expect(pagesSeen(calls)).toEqual([
      [4, { page: 4 }],
      [5, { page: 5 }],
    ]);
    expect(calls.extracted.every((call) => call.syncRunId === 'failed-run')).toBe(true);
    expect(result).toMatchObject({ iterations: 5, records: 50, resumedFrom: { iteration: 3, syncRunId: 'failed-run' }, startedAt: failed.startedAt });
  });

  it('a sync that failed while publishing is published by the next run without reading a page', async () => {
    const failed = failedCheckpoint({ syncRunId: 'publish-failed', iteration: 5, pagination: null, done: true, records: 50 });
    const { activities, calls } = stubActivities({ pages: 5, previous: { watermark: null, resumable: { ...failed, status: 'FAILED', runId: 'r1' }, source: 'state-workflow' } });
    const { result } = await runWorkflow(await planFor(), activities);
    expect(calls.extracted).toHaveLength(0);
    expect(calls.finalized.map((call) => call.syncRunId)).toEqual(['publish-failed']);
    expect(result).toMatchObject({ iterations: 5, records: 50 });
  });
});

describe('chooseStart', () => {
  const watermark = { lastRun: '2026-01-02T00:00:00.000Z', maxCursorValue: 42, records: 7, pages: 1 };
  const resumable = { ...failedCheckpoint({ syncRunId: 'failed', iteration: 2, pagination: { cursor: 'c' } }), status: 'CANCELLED', runId: 'r' };

  it('resumes a failed sync unless told to start over, and then discards its staging', async () => {
    const plan = (await planFor({}, {})).plan;
    expect(chooseStart({ watermark: null, resumable, source: 'state-workflow' }, plan)).toMatchObject({ kind: 'resume', failedStatus: 'CANCELLED', checkpoint: { iteration: 2, resumedFrom: { iteration: 2, syncRunId: 'failed' } } });
    expect(chooseStart({ watermark: null, resumable, source: 'state-workflow' }, { ...plan, forceIgnoreCheckpoint: true })).toEqual({ kind: 'fresh', discardStagedOf: 'failed', incrementalState: null });
    expect(chooseStart({ watermark: null, resumable, source: 'state-workflow' }, { ...plan, reset: true })).toEqual({ kind: 'fresh', discardStagedOf: 'failed', incrementalState: null });
  });

  it('an incremental sync reads from the last watermark; a full refresh and a reset read everything', async () => {
    const plan = (await planFor({}, { sync_mode: 'incremental', cursor_field: 'updated_at' })).plan;
    expect(chooseStart({ watermark, resumable: null, source: 'state-workflow' }, plan)).toEqual({
      kind: 'fresh',
      discardStagedOf: null,
      incrementalState: { lastRun: watermark.lastRun, cursorField: 'updated_at', state: { last_run: watermark.lastRun, max_cursor_value: 42, records: 7, pages: 1 } },
    });
    expect(chooseStart({ watermark, resumable: null, source: 'state-workflow' }, { ...plan, reset: true })).toMatchObject({ incrementalState: null });
    expect(chooseStart({ watermark, resumable: null, source: 'state-workflow' }, { ...plan, syncMode: 'full_refresh' })).toMatchObject({ incrementalState: null });
  });

  it('reads a checkpoint written before `done` existed: a null pagination after page one meant done', async () => {
    const plan = (await planFor()).plan;
    const { done: _done, ...old } = resumable;
    const start = chooseStart({ watermark: null, resumable: { ...old, pagination: null } as unknown as typeof resumable, source: 'closed-runs' }, plan);
    expect(start).toMatchObject({ kind: 'resume', checkpoint: { done: true } });
  });
});
