/**
 * The pieces of the sync workflow that are not its loop: activity options from the plan, a page's label in the Web
 * UI, where a sync starts (chooseStart), a failure's root message. Deterministic; types only from outside.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import type { IncrementalStateJson, SyncCheckpoint, SyncPlan, SyncState, SyncWorkflowInput } from './types.ts';
import type { ExtractPageResult } from './activity-types.ts';

export function activityOptions(input: SyncWorkflowInput): ActivityOptions {
  const { plan } = input;
  return {
    startToCloseTimeout: plan.pageTimeout,
    heartbeatTimeout: plan.heartbeatTimeout,
    // A hard cap on one activity with all its attempts; the retry budget itself is applied by the activity.
    ...(plan.activityDeadlineMs !== null ? { scheduleToCloseTimeout: plan.activityDeadlineMs } : {}),
    retry: {
      initialInterval: plan.retry.initialInterval,
      backoffCoefficient: plan.retry.backoffCoefficient,
      maximumInterval: plan.retry.maximumInterval,
      maximumAttempts: plan.retryLimit,
      nonRetryableErrorTypes: plan.nonRetryableErrorTypes,
    },
  };
}

/**
 * A page as a local activity (`engine.page_activity: local`): the same bounds and retries as a regular one; a hung
 * get() ends at `page_timeout` (a local activity cannot heartbeat), and a retry waiting longer than a minute waits
 * on a durable timer.
 */
export function localActivityOptions(input: SyncWorkflowInput): LocalActivityOptions {
  const { startToCloseTimeout, scheduleToCloseTimeout, retry } = activityOptions(input);
  return { startToCloseTimeout, ...(scheduleToCloseTimeout !== undefined ? { scheduleToCloseTimeout } : {}), retry };
}

/** The one-line label of a page (or a batch of pages) in the Web UI's event history. */
export function pageSummary(iteration: number, pagination: unknown, lastIteration = iteration, slice?: string): string {
  const pages = lastIteration > iteration ? `pages ${iteration}–${lastIteration}` : `page ${iteration}`;
  const text = `${slice === undefined ? '' : `${slice} · `}${pages} · ${pagination === null ? 'first page' : JSON.stringify(pagination)}`;
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** How a page's slice is named in the Web UI: `slice 3`, or with its partition (a parent's id) `slice 3 (posts 17)`. */
export function sliceLabel(slice: { index: number; slice: Record<string, unknown> }): string {
  const { partition, label } = slice.slice;
  const named = typeof label === 'string' ? label : typeof partition === 'string' || typeof partition === 'number' ? `partition ${partition}` : undefined;
  return named === undefined ? `slice ${slice.index}` : `slice ${slice.index} (${named.slice(0, 60)})`;
}


/** What one page activity (one page, or a batch) did. */
export interface PageStep {
  lastIteration: number;
  nextPagination: ExtractPageResult['nextPagination'];
  recordCount: number;
  maxCursorValue: ExtractPageResult['maxCursorValue'];
  sourceMs: number;
  nextState?: Record<string, unknown>;
}

/** Where a new sync starts, decided from what the earlier runs of the same pipeline left. */
export type SyncStart =
  | { kind: 'resume'; checkpoint: SyncCheckpoint; failedStatus: string }
  | { kind: 'fresh'; incrementalState: IncrementalStateJson | null; discardStagedOf: string | null };

/**
 * A failed sync's checkpoint is resumed, unless `force_ignore_checkpoint` or
 * `reset` says to start over (its staged pages are then discarded). A fresh
 * incremental sync reads from the watermark of the last success; a reset, a
 * full refresh or a first run reads everything.
 */
export function chooseStart(previous: SyncState, plan: SyncPlan): SyncStart {
  if (previous.resumable && !plan.forceIgnoreCheckpoint && !plan.reset) {
    const { status, runId: _runId, ...failed } = previous.resumable;
    // Checkpoints written before `done` existed: a null pagination after page one meant "done".
    const done = failed.done ?? (failed.iteration > 0 && failed.pagination === null);
    return {
      kind: 'resume',
      failedStatus: status,
      checkpoint: { ...failed, done, runs: 1, resumedFrom: { iteration: failed.iteration, syncRunId: failed.syncRunId } },
    };
  }
  const watermark = plan.syncMode === 'incremental' && !plan.reset ? previous.watermark : null;
  return {
    kind: 'fresh',
    discardStagedOf: previous.resumable?.syncRunId ?? null,
    incrementalState: watermark
      ? {
          lastRun: watermark.lastRun,
          cursorField: plan.cursorField,
          // The source's own nextState when it kept one; bizon's fields otherwise.
          state: watermark.nextState ?? { last_run: watermark.lastRun, max_cursor_value: watermark.maxCursorValue, records: watermark.records, pages: watermark.pages },
        }
      : null,
  };
}

/** The message at the bottom of a failure's cause chain (an activity's own error), for an alert. */
export function rootMessage(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  while (current && typeof current === 'object' && current.cause && typeof current.cause === 'object') current = current.cause as typeof current;
  return String(current?.message ?? error);
}
