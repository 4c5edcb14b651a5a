/**
 * The client side of bizon-temporal, by what a caller does: connect (client/connect.ts), start a sync or a pipeline
 * (client/start.ts), observe it (client/observe.ts: wait, progress), manage runs and streams (client/manage.ts:
 * list, cancel, reset). Preparing a pipeline lives below, in config/prepare.ts.
 */
export { connectClient, withClient, type ConnectOptions } from './client/connect.ts';
export { runPipeline, runSync, startPipeline, startSync, type PipelineHandle, type StartSyncOptions, type SyncHandle } from './client/start.ts';
export { getPipelineProgress, getProgress, PipelineFailedError, waitForPipeline, waitForResult, type LiveSyncProgress, type RetryingPage } from './client/observe.ts';
export {
  cancelSync,
  listPartitionWatermarks,
  listRunningPipelines,
  listSyncRuns,
  resetStream,
  settleStreamState,
  type ForgottenStreamState,
  type StreamPartitions,
  type SyncRunSummary,
} from './client/manage.ts';
export { initialMemo, pipelineMemo, pipelineSearchAttributes, pipelineWorkflowInput, preparePipeline, prepareSync } from './config/prepare.ts';
export type { PreparedPipeline, PreparedSync, SyncRequest } from './config/prepare.ts';
