/**
 * The reading step of a sync: pages one after the other, or the slices of a sliced stream side by side, each page
 * (or batch of pages) one activity whose `nextPagination` is the sync's durable state. Deterministic.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { SliceState, SyncCheckpoint } from './types.ts';
import { maxCursor } from './cursor.ts';
import { pageSummary, sliceLabel, type PageStep } from './sync-steps.ts';
import { pageInput, saveCheckpoint, type SyncRun } from './sync-run.ts';

/** Why reading stopped: the source has no more pages, `max_iterations` was reached, or the run should continue as new. */
export type ReadEnd = 'end_of_source' | 'max_iterations' | 'continue_as_new';

/** Reads from where the run stands until one of {@link ReadEnd}. */
export function readStream(run: SyncRun): Promise<ReadEnd> {
  return run.checkpoint.slices ? readSlices(run, run.checkpoint.slices) : readPages(run);
}

/** Pages one after the other. A resumed sync may be done already (it failed while publishing): nothing is read then. */
async function readPages(run: SyncRun): Promise<ReadEnd> {
  const { checkpoint } = run;
  const { plan } = run.input;
  while (!checkpoint.done) {
    if (plan.maxIterations !== null && checkpoint.iteration >= plan.maxIterations) return 'max_iterations';
    const before = checkpoint.iteration;
    const step = await nextPages(run, before + 1, checkpoint.pagination, pagesAllowed(run));
    checkpoint.iteration = step.lastIteration;
    checkpoint.pagination = step.nextPagination;
    checkpoint.done = step.nextPagination === null;
    advance(run, step, before);
    if (!checkpoint.done && shouldContinueAsNew(run)) return 'continue_as_new';
  }
  return 'end_of_source';
}

/**
 * A sliced stream: every slice not done is paged on its own, at most `max_parallel_slices` at once, each from its
 * own checkpoint. Stops at the end of every slice, at `max_iterations`, or (every lane finishing its page first)
 * when the run should continue as new.
 */
async function readSlices(run: SyncRun, slices: SliceState[]): Promise<ReadEnd> {
  const { checkpoint } = run;
  const queue = slices.filter((slice) => !slice.done);
  let next = 0;
  let pagesInFlight = 0;
  let stop: 'max_iterations' | 'continue_as_new' | null = null;
  const lane = async () => {
    while (stop === null && next < queue.length) {
      const slice = queue[next++]!;
      while (!slice.done && stop === null) {
        const maxPages = pagesAllowed(run, pagesInFlight);
        if (maxPages <= 0) {
          stop = 'max_iterations';
          break;
        }
        pagesInFlight += maxPages;
        const step = await nextPages(run, slice.iteration + 1, slice.pagination, maxPages, slice);
        pagesInFlight -= maxPages;
        const before = checkpoint.iteration;
        checkpoint.iteration += step.lastIteration - slice.iteration;
        slice.iteration = step.lastIteration;
        slice.pagination = step.nextPagination;
        slice.done = step.nextPagination === null;
        slice.records += step.recordCount;
        checkpoint.done = slices.every((candidate) => candidate.done);
        advance(run, step, before);
        if (shouldContinueAsNew(run)) stop ??= 'continue_as_new';
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(run.input.plan.maxParallelSlices ?? 4, queue.length) }, lane));
  checkpoint.done = slices.every((slice) => slice.done);
  return checkpoint.done ? 'end_of_source' : (stop ?? 'end_of_source');
}

/**
 * The next page from `pagination`, or with `pages_per_activity` the next batch of at most `maxPages` pages, in one
 * activity; `slice` names the slice they belong to. The source's pacer gives each get() a slot, fleet-wide.
 */
async function nextPages(run: SyncRun, iteration: number, pagination: SyncCheckpoint['pagination'], maxPages: number, slice?: SliceState): Promise<PageStep> {
  const { plan } = run.input;
  const pacer = plan.rateLimit ? { pacer: { taskQueue: workflowInfo().taskQueue, requestsPerSecond: plan.rateLimit.requestsPerSecond } } : {};
  const source = { ...pageInput(run), iteration, pagination, incrementalState: incrementalStateOf(run, slice), cursorField: plan.cursorField, ...(slice ? { slice: { index: slice.index, slice: slice.slice } } : {}) };
  if ((plan.pagesPerActivity ?? 1) === 1) {
    const page = await run.calls.extractPage({ ...source, ...pacer });
    return { ...page, lastIteration: iteration, sourceMs: page.sourceMs ?? 0 };
  }
  const summary = pageSummary(iteration, pagination, iteration + maxPages - 1, slice && sliceLabel(slice));
  return run.calls.activities.extractPages.executeWithOptions({ ...run.calls.pageOptions, summary }, [
    { ...source, maxPages, timeBudgetMs: plan.activityTimeBudgetMs ?? 5000, ...pacer },
  ]);
}

/** The state a page starts from: the sync's, or for a partition read before, the same from the partition's watermark. */
function incrementalStateOf(run: SyncRun, slice: SliceState | undefined): SyncCheckpoint['incrementalState'] {
  const state = run.checkpoint.incrementalState;
  if (!state || slice?.since === undefined) return state;
  return slice.since === null ? null : { ...state, lastRun: slice.since };
}

/** Pages the next activity may read: `pages_per_activity`, less near `max_iterations` (`pagesInFlight` counted). */
function pagesAllowed(run: SyncRun, pagesInFlight = 0): number {
  const { plan } = run.input;
  const perActivity = plan.pagesPerActivity ?? 1;
  return plan.maxIterations !== null ? Math.min(perActivity, plan.maxIterations - run.checkpoint.iteration - pagesInFlight) : perActivity;
}

/** Adds what one page activity did to the checkpoint; saves the checkpoint when it crossed `checkpoint_every`. */
function advance(run: SyncRun, step: PageStep, before: number): void {
  const { checkpoint } = run;
  checkpoint.records += step.recordCount;
  checkpoint.maxCursorValue = maxCursor(checkpoint.maxCursorValue, step.maxCursorValue);
  checkpoint.sourceMs = (checkpoint.sourceMs ?? 0) + step.sourceMs;
  if (step.nextState !== undefined) checkpoint.nextState = step.nextState;
  run.activitiesThisRun += 1;
  const every = run.input.plan.checkpointEvery;
  if (!checkpoint.done && Math.floor(checkpoint.iteration / every) > Math.floor(before / every)) saveCheckpoint(run);
}

/** After `continue_as_new_every` page activities, or sooner when Temporal suggests it. */
function shouldContinueAsNew(run: SyncRun): boolean {
  return run.activitiesThisRun >= run.input.plan.continueAsNewEvery || workflowInfo().continueAsNewSuggested;
}
