import { CancellationScope, ContinueAsNew, defineQuery, isCancellation, log, makeContinueAsNewFunc, ParentClosePolicy, setHandler, startChild, upsertMemo, workflowInfo } from '@temporalio/workflow';
import { alertWorkflow, alertWorkflowId } from './alert.ts';
import type { SyncMemo, SyncProgress, SyncResult, SyncWorkflowInput } from './types.ts';
import { requireInternalInput } from './input-check.ts';
import { chooseStart, rootMessage } from './sync-steps.ts';
import { activityInput, openRun, saveCheckpoint, type SyncRun } from './sync-run.ts';
import { readStream } from './sync-read.ts';
import { finishedPartitions, partitionIndex, partitionOf } from './partitions.ts';

export { chooseStart, type SyncStart } from './sync-steps.ts';

/** Answers where a running sync stands. */
export const progressQuery = defineQuery<SyncProgress>('progress');

/**
 * One sync of one stream, top-down: prepare (what earlier runs left, the source's check and total, the slices) →
 * read pages (or slices), one activity each, `nextPagination` the durable state → publish → commit the new
 * watermark. It continues as new every `continueAsNewEvery` page activities, or sooner when Temporal suggests it,
 * so each run's history stays small; it saves a checkpoint in its memo every `checkpointEvery` pages and when it
 * stops, so the next run of the same sync resumes there.
 */
export async function syncWorkflow(input: SyncWorkflowInput): Promise<SyncResult> {
  requireInternalInput('syncWorkflow', input, ['pipeline', 'plan']);
  const run = openRun(input);
  setHandler(progressQuery, () => ({ status: run.status, ...run.checkpoint }));
  try {
    if (!input.checkpoint) await prepare(run);
    const ended = await readStream(run);
    if (ended === 'continue_as_new') await continueAsNew(run);
    const outputs = await publish(run);
    await commitState(run);
    run.status = 'succeeded';
    await raiseAlert(run, 'succeeded', null);
    return resultOf(run, outputs, ended === 'max_iterations' ? 'max_iterations' : 'end_of_source');
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    await recordStop(run, error);
    throw error;
  }
}

/**
 * Where this sync starts — a failed sync's checkpoint, the last watermark, or page one — read while the source is
 * prepared (its connection check and total do not depend on it); then the slices of a sliced stream.
 */
async function prepare(run: SyncRun): Promise<void> {
  const { plan, pipeline } = run.input;
  const { checkpoint, calls } = run;
  const loading = calls.activities.loadSyncState({ workflowId: workflowInfo().workflowId, currentSyncRunId: checkpoint.syncRunId, streamState: plan.streamState });
  const preparing = calls.activities.prepareSync(activityInput(run));
  // Awaited below; a failure while the state loads must not count as unhandled meanwhile.
  preparing.catch(() => undefined);
  const loaded = await loading;
  const start = chooseStart(loaded, plan);
  if (start.kind === 'resume') {
    log.info('Resuming the failed sync from its checkpoint', { iteration: start.checkpoint.iteration, status: start.failedStatus });
    Object.assign(checkpoint, start.checkpoint);
  } else {
    // force_ignore_checkpoint / reset: the failed sync's staged pages are not wanted any more.
    if (start.discardStagedOf) {
      await calls.activities.abortSync({ pipeline, syncRunId: start.discardStagedOf });
      await calls.recordState({ kind: 'discarded', syncRunId: start.discardStagedOf, at: new Date().toISOString() });
    }
    checkpoint.incrementalState = start.incrementalState ? { ...start.incrementalState, runStartedAt: checkpoint.startedAt } : null;
  }
  checkpoint.total = (await preparing).total;
  if (plan.sliced && start.kind === 'fresh') {
    const slices = await calls.activities.planSlices({ ...activityInput(run), incrementalState: checkpoint.incrementalState, runStartedAt: checkpoint.startedAt });
    // A partition read before is read from its own watermark; one never read, whole.
    const since = checkpoint.incrementalState ? partitionIndex(loaded.partitions) : undefined;
    checkpoint.slices = slices.map((slice, index) => {
      const partition = since ? partitionOf(slice) : undefined;
      return { index, slice, iteration: 0, pagination: null, done: false, records: 0, ...(partition !== undefined ? { since: since!.get(partition) ?? null } : {}) };
    });
    checkpoint.done = slices.length === 0;
  }
  run.status = 'extracting';
  upsertMemo({ checkpoint, sync_mode: plan.syncMode } satisfies Partial<SyncMemo>);
}

/** Goes on in a new run with a fresh history, from the checkpoint. */
async function continueAsNew(run: SyncRun): Promise<never> {
  log.info('Continuing as new to keep the history small', { iteration: run.checkpoint.iteration });
  const next = { ...run.checkpoint, runs: run.checkpoint.runs + 1 };
  const continueWithMemo = makeContinueAsNewFunc<typeof syncWorkflow>({ memo: { ...workflowInfo().memo, checkpoint: next } });
  return continueWithMemo({ ...run.input, checkpoint: next });
}

/**
 * Publishes the staged pages: readers see all of this sync's output or none, so a cancel never cuts it in half.
 * Only a sync that read from a watermark appends; one that read everything (first sync, reset, lost state) replaces,
 * unless `engine.publish: append` says every sync appends (a backfill).
 */
async function publish(run: SyncRun): Promise<SyncResult['outputs']> {
  run.status = 'finalizing';
  const mode = run.checkpoint.incrementalState !== null || run.input.plan.appendOnly ? 'append' : 'replace';
  const outputs = await CancellationScope.nonCancellable(() => run.calls.activities.finalizeSync({ ...activityInput(run), mode }));
  // finalize's result is in history now, so it never runs again: what made a retry of it safe can go.
  await CancellationScope.nonCancellable(() => run.calls.activities.forgetPublishedRun(activityInput(run))).catch(() => undefined);
  return outputs;
}

/** The new watermark: in the sync's memo (the Web UI) and in the stream's state workflow (beyond retention). */
async function commitState(run: SyncRun): Promise<void> {
  const { checkpoint } = run;
  upsertMemo({
    last_run: checkpoint.startedAt,
    cursor_field: run.input.plan.cursorField,
    max_cursor_value: checkpoint.maxCursorValue,
    records: checkpoint.records,
    pages: checkpoint.iteration,
    resumed_from_page: checkpoint.resumedFrom?.iteration ?? null,
    checkpoint: null,
  } satisfies Partial<SyncMemo>);
  const partitions = finishedPartitions(checkpoint.slices);
  await run.calls.recordState({
    kind: 'succeeded',
    ...(partitions.length > 0 ? { partitions: { keys: partitions, replace: checkpoint.incrementalState === null } } : {}),
    watermark: {
      lastRun: checkpoint.startedAt,
      maxCursorValue: checkpoint.maxCursorValue,
      records: checkpoint.records,
      pages: checkpoint.iteration,
      ...(checkpoint.nextState !== undefined ? { nextState: checkpoint.nextState } : {}),
    },
    at: new Date().toISOString(),
  });
}

/** A failed or cancelled sync keeps the exact place it stopped (and its staged pages) for the next run to resume. */
async function recordStop(run: SyncRun, error: unknown): Promise<void> {
  const ended = isCancellation(error) ? 'cancelled' : 'failed';
  run.status = ended;
  await CancellationScope.nonCancellable(async () => {
    saveCheckpoint(run);
    if (ended === 'failed') await raiseAlert(run, 'failed', rootMessage(error));
    if (run.checkpoint.iteration > 0) {
      await run.calls.recordState({ kind: 'checkpoint', checkpoint: run.checkpoint, status: ended, at: new Date().toISOString() }).catch((recordError: unknown) =>
        log.warn('Could not record the checkpoint in the stream state workflow', { error: String(recordError) }),
      );
    }
  });
}

/** Starts the delivery of an alert, when the pipeline asks for this event; never waits for it, never fails the sync. */
async function raiseAlert(run: SyncRun, event: 'failed' | 'succeeded', cause: string | null): Promise<void> {
  const { pipeline } = run.input;
  if (!pipeline.alerting?.on.includes(event)) return;
  const { workflowId, runId } = workflowInfo();
  try {
    await startChild(alertWorkflow, {
      workflowId: alertWorkflowId(workflowId, runId, event),
      args: [{ pipeline, event, workflowId, runId, cause, records: run.checkpoint.records, pages: run.checkpoint.iteration }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } catch (alertError) {
    log.warn('Could not start the alert', { event, error: String(alertError) });
  }
}

/** What the sync returns: counts, outputs, the watermark, and how it read. */
function resultOf(run: SyncRun, outputs: SyncResult['outputs'], stoppedBy: SyncResult['stoppedBy']): SyncResult {
  const { checkpoint } = run;
  const { pipeline, plan } = run.input;
  return {
    pipeline: pipeline.name,
    source: pipeline.source.name,
    stream: pipeline.source.stream,
    syncRunId: checkpoint.syncRunId,
    iterations: checkpoint.iteration,
    records: checkpoint.records,
    startedAt: checkpoint.startedAt,
    finishedAt: new Date().toISOString(),
    runs: checkpoint.runs,
    outputs,
    lastRun: checkpoint.startedAt,
    maxCursorValue: checkpoint.maxCursorValue,
    incrementalSince: checkpoint.incrementalState?.lastRun ?? null,
    incrementalFullRead: plan.syncMode === 'incremental' && checkpoint.incrementalState === null,
    resumedFrom: checkpoint.resumedFrom,
    stoppedBy,
    sourceMs: checkpoint.sourceMs ?? 0,
    pagesPerActivity: plan.pagesPerActivity ?? 1,
    ...(checkpoint.slices ? { slices: checkpoint.slices.length } : {}),
  };
}
