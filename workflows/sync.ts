import {
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { SyncActivities, SyncCheckpoint, SyncProgress, SyncResult, SyncWorkflowInput } from './types.ts';

/** Answers where a running sync stands. */
export const progressQuery = defineQuery<SyncProgress>('progress');

function activityOptions(input: SyncWorkflowInput): { page: ActivityOptions; bookkeeping: ActivityOptions } {
  const { plan } = input;
  const retry = {
    initialInterval: plan.retry.initialInterval,
    backoffCoefficient: plan.retry.backoffCoefficient,
    maximumInterval: plan.retry.maximumInterval,
    maximumAttempts: plan.retryLimit,
    nonRetryableErrorTypes: plan.nonRetryableErrorTypes,
  };
  return {
    page: { startToCloseTimeout: plan.pageTimeout, heartbeatTimeout: plan.heartbeatTimeout, retry },
    bookkeeping: { startToCloseTimeout: plan.pageTimeout, heartbeatTimeout: plan.heartbeatTimeout, retry },
  };
}

/**
 * One sync of one stream: prepare, then one `extractPage` activity per page
 * carrying `nextPagination` as durable state, then finalize (publish). It
 * continues as new every `continueAsNewEvery` pages, or sooner when Temporal
 * suggests it, so each run's history stays small.
 */
export async function syncWorkflow(input: SyncWorkflowInput): Promise<SyncResult> {
  const { pipeline, plan } = input;
  const options = activityOptions(input);
  const pages = proxyActivities<SyncActivities>(options.page);
  const bookkeeping = proxyActivities<SyncActivities>(options.bookkeeping);

  const checkpoint: SyncCheckpoint = input.checkpoint ?? {
    syncRunId: workflowInfo().runId,
    startedAt: new Date().toISOString(),
    iteration: 0,
    pagination: null,
    records: 0,
    total: null,
    runs: 1,
  };
  let status: SyncProgress['status'] = input.checkpoint ? 'extracting' : 'preparing';
  setHandler(progressQuery, () => ({ status, ...checkpoint }));

  const activityInput = { pipeline, syncRunId: checkpoint.syncRunId };
  let stoppedBy: SyncResult['stoppedBy'] = 'end_of_source';
  try {
    if (!input.checkpoint) {
      const prepared = await bookkeeping.prepareSync(activityInput);
      checkpoint.total = prepared.total;
      status = 'extracting';
    }

    let pagesThisRun = 0;
    for (;;) {
      if (plan.maxIterations !== null && checkpoint.iteration >= plan.maxIterations) {
        stoppedBy = 'max_iterations';
        break;
      }
      const iteration = checkpoint.iteration + 1;
      const page = await pages.extractPage.executeWithOptions({ ...options.page, summary: pageSummary(iteration, checkpoint.pagination) }, [
        { ...activityInput, iteration, pagination: checkpoint.pagination, syncMode: plan.syncMode },
      ]);
      checkpoint.iteration += 1;
      checkpoint.records += page.recordCount;
      checkpoint.pagination = page.nextPagination;
      pagesThisRun += 1;
      if (page.nextPagination === null) break;
      if (pagesThisRun >= plan.continueAsNewEvery || workflowInfo().continueAsNewSuggested) {
        log.info('Continuing as new to keep the history small', { iteration: checkpoint.iteration });
        await continueAsNew<typeof syncWorkflow>({ ...input, checkpoint: { ...checkpoint, runs: checkpoint.runs + 1 } });
      }
    }

    status = 'finalizing';
    const outputs = await bookkeeping.finalizeSync({ ...activityInput, mode: plan.syncMode === 'incremental' ? 'append' : 'replace' });
    status = 'succeeded';
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
      stoppedBy,
    };
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    status = 'failed';
    // Staged pages of a failed sync are discarded; nothing published is touched.
    await CancellationScope.nonCancellable(() => bookkeeping.abortSync(activityInput)).catch((abortError: unknown) =>
      log.warn('Could not discard the staged output of the failed sync', { error: String(abortError) }),
    );
    throw error;
  }
}

/** The one-line label of a page in the Web UI's event history. */
function pageSummary(iteration: number, pagination: unknown): string {
  const text = `page ${iteration} · ${pagination === null ? 'first page' : JSON.stringify(pagination)}`;
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
