import { log, proxyActivities, startChild, ParentClosePolicy } from '@temporalio/workflow';
import type { PipelineResult, ScheduledSyncInput, ScheduledSyncResult, SyncActivities, SyncResult } from './types.ts';
import { pipelineWorkflow } from './pipeline.ts';
import { syncWorkflow } from './sync.ts';
import { requireInternalInput } from './input-check.ts';

const { waitForSync } = proxyActivities<SyncActivities>({
  startToCloseTimeout: '30d',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

/**
 * What a Temporal Schedule starts. Schedules give each workflow a new id, so
 * this launcher starts the sync itself as a child under the sync's one fixed
 * id: a scheduled run and a manual run of the same (name, source, stream)
 * can never run at once. If one is running, the launcher skips (the default)
 * or waits for it and then runs, as `overlap` says.
 */
export async function scheduledSyncWorkflow(input: ScheduledSyncInput): Promise<ScheduledSyncResult> {
  requireInternalInput('scheduledSyncWorkflow', input, ['sync', 'memo']);
  for (;;) {
    try {
      const options = {
        workflowId: input.syncWorkflowId,
        memo: input.memo,
        typedSearchAttributes: input.searchAttributes,
        // The sync goes on if this launcher is terminated: it is the durable unit, not the launcher.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      };
      const result: SyncResult | PipelineResult = input.pipeline
        ? await (await startChild(pipelineWorkflow, { ...options, args: [input.pipeline] })).result()
        : await (await startChild(syncWorkflow, { ...options, args: [input.sync] })).result();
      return { outcome: 'ran', syncWorkflowId: input.syncWorkflowId, result };
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'WorkflowExecutionAlreadyStartedError') throw error;
      if (input.overlap === 'skip') {
        log.info('Skipped: a sync of this pipeline is already running', { workflowId: input.syncWorkflowId });
        return { outcome: 'skipped', syncWorkflowId: input.syncWorkflowId, result: null };
      }
      log.info('Waiting for the running sync of this pipeline to finish', { workflowId: input.syncWorkflowId });
      await waitForSync({ workflowId: input.syncWorkflowId });
    }
  }
}
