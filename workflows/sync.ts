import {
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  defineQuery,
  log,
  makeContinueAsNewFunc,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  startChild,
  setHandler,
  upsertMemo,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { alertWorkflow, alertWorkflowId } from './alert.ts';
import type {
  ExtractPageInput,
  ExtractPageResult,
  SyncActivities,
  SliceState,
  SyncCheckpoint,
  SyncMemo,
  SyncProgress,
  SyncResult,
  StreamStateEvent,
  SyncWorkflowInput,
} from './types.ts';
import { maxCursor } from './cursor.ts';
import { requireInternalInput } from './input-check.ts';
import { activityOptions, chooseStart, localActivityOptions, pageSummary, rootMessage, type PageStep, type SliceRef } from './sync-steps.ts';

export { chooseStart, type SyncStart } from './sync-steps.ts';


/** Answers where a running sync stands. */
export const progressQuery = defineQuery<SyncProgress>('progress');

/**
 * One sync of one stream: find what earlier runs left (watermark, checkpoint),
 * prepare, then one `extractPage` activity per page carrying `nextPagination`
 * as durable state, then finalize (publish) and record the new watermark in
 * the memo. It continues as new every `continueAsNewEvery` pages, or sooner
 * when Temporal suggests it, so each run's history stays small; it records a
 * checkpoint in its memo every `checkpointEvery` pages and when it fails, so
 * the next run of the same sync resumes there.
 */
export async function syncWorkflow(input: SyncWorkflowInput): Promise<SyncResult> {
  requireInternalInput('syncWorkflow', input, ['pipeline', 'plan']);
  const { pipeline, plan } = input;
  const activities = proxyActivities<SyncActivities>(activityOptions(input));
  // Paced pages wait for their slot anyway: any worker of the fleet may take them, not only this workflow's.
  const pageOptions: ActivityOptions = plan.rateLimit ? { ...activityOptions(input), allowEagerDispatch: false } : activityOptions(input);

  const localPages = plan.localPages ? proxyLocalActivities<Pick<SyncActivities, 'extractPage'>>(localActivityOptions(input)) : undefined;

  /** One page, as a regular activity or (`page_activity: local`) a local one, labelled with its page in the UI. */
  async function extractPage(args: ExtractPageInput): Promise<ExtractPageResult> {
    const summary = pageSummary(args.iteration, args.pagination, args.iteration, args.slice?.index);
    if (localPages) return localPages.extractPage.executeWithOptions({ ...localActivityOptions(input), summary }, [args]);
    return activities.extractPage.executeWithOptions({ ...pageOptions, summary }, [args]);
  }

  const checkpoint: SyncCheckpoint = input.checkpoint ?? {
    syncRunId: workflowInfo().runId,
    startedAt: new Date().toISOString(),
    iteration: 0,
    pagination: null,
    done: false,
    records: 0,
    total: null,
    runs: 1,
    incrementalState: null,
    maxCursorValue: null,
    resumedFrom: null,
  };
  let status: SyncProgress['status'] = input.checkpoint ? 'extracting' : 'preparing';
  setHandler(progressQuery, () => ({ status, ...checkpoint }));

  const activityInput = { pipeline, syncRunId: checkpoint.syncRunId };
  const pagesPerActivity = plan.pagesPerActivity ?? 1;

  // The stream's state workflow keeps watermark and checkpoints beyond history retention.
  const { streamState } = plan;
  /**
   * Tells the stream's state workflow how the sync ended (or a discarded checkpoint). While it runs, its checkpoints
   * stay in its own memo: a state-workflow task per checkpoint would cost the server more than the pages between them.
   */
  const recordState = async (event: StreamStateEvent): Promise<void> => {
    await activities.recordStreamState({ streamState, event, destination: pipeline.destination.name });
  };

  /** Starts the delivery of an alert, when the pipeline asks for this event; never waits for it, never fails the sync. */
  async function raiseAlert(event: 'failed' | 'succeeded', cause: string | null): Promise<void> {
    if (!pipeline.alerting?.on.includes(event)) return;
    const { workflowId, runId } = workflowInfo();
    try {
      await startChild(alertWorkflow, {
        workflowId: alertWorkflowId(workflowId, runId, event),
        args: [{ pipeline, event, workflowId, runId, cause, records: checkpoint.records, pages: checkpoint.iteration }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (alertError) {
      log.warn('Could not start the alert', { event, error: String(alertError) });
    }
  }

  let stoppedBy: SyncResult['stoppedBy'] = 'end_of_source';
  try {
    if (!input.checkpoint) {
      const loading = activities.loadSyncState({ workflowId: workflowInfo().workflowId, currentSyncRunId: checkpoint.syncRunId, streamState });
      // Preparing (checkConnection, the total) does not depend on what earlier runs left.
      const preparing = activities.prepareSync({ ...activityInput });
      // Awaited below; a failure while the state loads must not count as unhandled meanwhile.
      preparing.catch(() => undefined);
      const previous = await loading;
      const start = chooseStart(previous, plan);
      if (start.kind === 'resume') {
        log.info('Resuming the failed sync from its checkpoint', { iteration: start.checkpoint.iteration, status: start.failedStatus });
        Object.assign(checkpoint, start.checkpoint);
        activityInput.syncRunId = checkpoint.syncRunId;
      } else {
        // force_ignore_checkpoint / reset: the failed sync's staged pages are not wanted any more.
        if (start.discardStagedOf) {
          await activities.abortSync({ pipeline, syncRunId: start.discardStagedOf });
          await recordState({ kind: 'discarded', syncRunId: start.discardStagedOf, at: new Date().toISOString() });
        }
        checkpoint.incrementalState = start.incrementalState ? { ...start.incrementalState, runStartedAt: checkpoint.startedAt } : null;
      }
      const prepared = await preparing;
      checkpoint.total = prepared.total;
      if (plan.sliced && start.kind === 'fresh') {
        const slices = await activities.planSlices({ ...activityInput, incrementalState: checkpoint.incrementalState });
        checkpoint.slices = slices.map((slice, index) => ({ index, slice, iteration: 0, pagination: null, done: false, records: 0 }));
        checkpoint.done = slices.length === 0;
      }
      status = 'extracting';
      upsertMemo({ checkpoint, sync_mode: plan.syncMode } satisfies Partial<SyncMemo>);
    }

    // The source's pacer gives each get() a slot, fleet-wide, so no second holds more than requests_per_second calls.
    const pacer = plan.rateLimit ? { taskQueue: workflowInfo().taskQueue, requestsPerSecond: plan.rateLimit.requestsPerSecond } : undefined;

    /**
     * The next page from `pagination`, or with `pages_per_activity` the next batch of at most `maxPages` pages,
     * in one activity; `slice` names the slice they belong to.
     */
    async function nextPages(iteration: number, pagination: SyncCheckpoint['pagination'], maxPages: number, slice?: SliceRef): Promise<PageStep> {
      const source = { ...activityInput, iteration, pagination, incrementalState: checkpoint.incrementalState, cursorField: plan.cursorField, ...(slice ? { slice } : {}) };
      if (pagesPerActivity === 1) {
        const page = await extractPage({ ...source, ...(pacer ? { pacer } : {}) });
        return { ...page, lastIteration: iteration, sourceMs: page.sourceMs ?? 0 };
      }
      const summary = pageSummary(iteration, pagination, iteration + maxPages - 1, slice?.index);
      return activities.extractPages.executeWithOptions({ ...pageOptions, summary }, [
        { ...source, maxPages, timeBudgetMs: plan.activityTimeBudgetMs ?? 5000, ...(pacer ? { pacer } : {}) },
      ]);
    }

    /** Pages the next activity may read: `pages_per_activity`, less near `max_iterations` (`pagesInFlight` counted). */
    const pagesAllowed = (pagesInFlight = 0): number =>
      plan.maxIterations !== null ? Math.min(pagesPerActivity, plan.maxIterations - checkpoint.iteration - pagesInFlight) : pagesPerActivity;

    /** Adds what one page activity did to the sync's checkpoint; records a checkpoint when it crossed `checkpoint_every`. */
    function advance(step: PageStep, before: number): void {
      checkpoint.records += step.recordCount;
      checkpoint.maxCursorValue = maxCursor(checkpoint.maxCursorValue, step.maxCursorValue);
      checkpoint.sourceMs = (checkpoint.sourceMs ?? 0) + step.sourceMs;
      if (step.nextState !== undefined) checkpoint.nextState = step.nextState;
      activitiesThisRun += 1;
      if (!checkpoint.done && Math.floor(checkpoint.iteration / plan.checkpointEvery) > Math.floor(before / plan.checkpointEvery)) {
        upsertMemo({ checkpoint } satisfies Partial<SyncMemo>);
      }
    }

    /** Continues as new with the checkpoint: the next run goes on from it with a fresh history. */
    async function continueAsNew(): Promise<never> {
      log.info('Continuing as new to keep the history small', { iteration: checkpoint.iteration });
      const next = { ...checkpoint, runs: checkpoint.runs + 1 };
      const continueWithMemo = makeContinueAsNewFunc<typeof syncWorkflow>({ memo: { ...workflowInfo().memo, checkpoint: next } });
      return continueWithMemo({ ...input, checkpoint: next });
    }

    /**
     * A sliced stream: every slice not done is paged on its own, at most `max_parallel_slices` at once, each
     * from its own checkpoint. Stops at the end of every slice, at `max_iterations`, or (every lane finishing
     * its page first) when the run should continue as new.
     */
    async function readSlices(slices: SliceState[]): Promise<'end_of_source' | 'max_iterations' | 'continue_as_new'> {
      const queue = slices.filter((slice) => !slice.done);
      let next = 0;
      let pagesInFlight = 0;
      let stop: 'max_iterations' | 'continue_as_new' | null = null;
      const lane = async () => {
        while (stop === null && next < queue.length) {
          const slice = queue[next++]!;
          while (!slice.done && stop === null) {
            const maxPages = pagesAllowed(pagesInFlight);
            if (maxPages <= 0) {
              stop = 'max_iterations';
              break;
            }
            pagesInFlight += maxPages;
            const step = await nextPages(slice.iteration + 1, slice.pagination, maxPages, { index: slice.index, slice: slice.slice });
            pagesInFlight -= maxPages;
            const before = checkpoint.iteration;
            checkpoint.iteration += step.lastIteration - slice.iteration;
            slice.iteration = step.lastIteration;
            slice.pagination = step.nextPagination;
            slice.done = step.nextPagination === null;
            slice.records += step.recordCount;
            checkpoint.done = slices.every((candidate) => candidate.done);
            advance(step, before);
            if (activitiesThisRun >= plan.continueAsNewEvery || workflowInfo().continueAsNewSuggested) stop ??= 'continue_as_new';
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(plan.maxParallelSlices ?? 4, queue.length) }, lane));
      checkpoint.done = slices.every((slice) => slice.done);
      return checkpoint.done ? 'end_of_source' : (stop ?? 'end_of_source');
    }

    let activitiesThisRun = 0;
    if (checkpoint.slices) {
      const ended = await readSlices(checkpoint.slices);
      if (ended === 'continue_as_new') await continueAsNew();
      if (ended === 'max_iterations') stoppedBy = 'max_iterations';
    }
    // A resumed sync may be done already (it failed while publishing): then nothing is left to read.
    while (!checkpoint.slices && !checkpoint.done) {
      if (plan.maxIterations !== null && checkpoint.iteration >= plan.maxIterations) {
        stoppedBy = 'max_iterations';
        break;
      }
      const before = checkpoint.iteration;
      const step = await nextPages(before + 1, checkpoint.pagination, pagesAllowed());
      checkpoint.iteration = step.lastIteration;
      checkpoint.pagination = step.nextPagination;
      checkpoint.done = step.nextPagination === null;
      advance(step, before);
      if (checkpoint.done) break;
      if (activitiesThisRun >= plan.continueAsNewEvery || workflowInfo().continueAsNewSuggested) await continueAsNew();
    }

    status = 'finalizing';
    // Only a sync that read from a watermark appends; one that read everything (first sync, reset, lost state) replaces.
    const append = checkpoint.incrementalState !== null;
    // Publishing is never cut in half by a cancel: readers see all of this sync's output or none.
    const outputs = await CancellationScope.nonCancellable(() => activities.finalizeSync({ ...activityInput, mode: append ? 'append' : 'replace' }));
    // finalize's result is in history now, so it never runs again: what made a retry of it safe can go.
    await CancellationScope.nonCancellable(() => activities.forgetPublishedRun({ ...activityInput })).catch(() => undefined);
    upsertMemo({
      last_run: checkpoint.startedAt,
      cursor_field: plan.cursorField,
      max_cursor_value: checkpoint.maxCursorValue,
      records: checkpoint.records,
      pages: checkpoint.iteration,
      resumed_from_page: checkpoint.resumedFrom?.iteration ?? null,
      checkpoint: null,
    } satisfies Partial<SyncMemo>);
    await recordState({
      kind: 'succeeded',
      watermark: {
        lastRun: checkpoint.startedAt,
        maxCursorValue: checkpoint.maxCursorValue,
        records: checkpoint.records,
        pages: checkpoint.iteration,
        ...(checkpoint.nextState !== undefined ? { nextState: checkpoint.nextState } : {}),
      },
      at: new Date().toISOString(),
    });
    status = 'succeeded';
    await raiseAlert('succeeded', null);
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
      pagesPerActivity,
      ...(checkpoint.slices ? { slices: checkpoint.slices.length } : {}),
    };
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    const ended = isCancellation(error) ? 'cancelled' : 'failed';
    status = ended;
    // The exact place it stopped; the staged pages stay for the next run to resume from.
    await CancellationScope.nonCancellable(async () => {
      upsertMemo({ checkpoint } satisfies Partial<SyncMemo>);
      if (ended === 'failed') await raiseAlert('failed', rootMessage(error));
      if (checkpoint.iteration > 0) {
        await recordState({ kind: 'checkpoint', checkpoint, status: ended, at: new Date().toISOString() }).catch((recordError: unknown) =>
          log.warn('Could not record the checkpoint in the stream state workflow', { error: String(recordError) }),
        );
      }
    });
    throw error;
  }
}
