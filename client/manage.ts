import type { Client } from '@temporalio/client';
import type { PipelineConfig } from '../config/pipeline.ts';
import { BIZON_PIPELINE_WORKFLOW_TYPE, STREAM_STATE_WORKFLOW_TYPE, SYNC_WORKFLOW_TYPE } from '../engine/constants.ts';
import { parseSyncWorkflowId, pipelineKeyOf, pipelineWorkflowIdPrefix, streamStateWorkflowId, streamStateWorkflowIdPrefix, syncWorkflowId, syncWorkflowIdPrefix } from '../engine/ids.ts';
import { ConfigError } from '../errors.ts';
import { getProgress } from './observe.ts';
import { ensureSearchAttributes } from '../engine/search-attributes.ts';
import { settlesWithin } from '../engine/deadline.ts';
import { readStreamStateUpdate, recordStreamStateSignal } from '../workflows/state.ts';
import type { PartitionWatermarks, StreamStateInput, StreamStateMemo, SyncMemo } from '../workflows/types.ts';

/** One run of a sync, as `bizon status` lists it. */
export interface SyncRunSummary {
  workflowId: string;
  runId: string;
  /** The stream the run synced. */
  stream: string;
  status: string;
  startedAt: Date;
  closedAt: Date | undefined;
  pages: number | undefined;
  records: number | undefined;
  /** `last_run` of a successful run: the watermark the next incremental run starts from. */
  watermark: string | undefined;
  maxCursorValue: string | number | null | undefined;
  resumedFromPage: number | null | undefined;
}

/**
 * The latest runs of a pipeline's syncs, newest first: one line per sync
 * (the runs a sync continued as new through are folded into its last one).
 */
export async function listSyncRuns(client: Client, pipelineName: string, limit = 20): Promise<SyncRunSummary[]> {
  // Reading needs no attributes: without them (a caller that may not register them), runs are found by id.
  const bySearchAttribute = await ensureSearchAttributes(client).then(() => true, () => false);
  const query = bySearchAttribute ? `BizonPipeline = '${pipelineName}'` : `WorkflowId STARTS_WITH '${syncWorkflowIdPrefix(pipelineName)}'`;
  const runs: SyncRunSummary[] = [];
  for await (const run of client.workflow.list({ query, pageSize: limit })) {
    if (run.status.name === 'CONTINUED_AS_NEW' || run.type !== SYNC_WORKFLOW_TYPE) continue;
    const memo = (run.memo ?? {}) as Partial<SyncMemo>;
    const succeeded = run.status.name === 'COMPLETED';
    runs.push({
      workflowId: run.workflowId,
      runId: run.runId,
      stream: parseSyncWorkflowId(run.workflowId)?.stream ?? '?',
      status: run.status.name.toLowerCase(),
      startedAt: memo.checkpoint?.startedAt ? new Date(memo.checkpoint.startedAt) : succeeded && memo.last_run ? new Date(memo.last_run) : run.startTime,
      closedAt: run.closeTime,
      pages: succeeded ? memo.pages : memo.checkpoint?.iteration,
      records: succeeded ? memo.records : memo.checkpoint?.records,
      watermark: succeeded ? memo.last_run : undefined,
      maxCursorValue: succeeded ? memo.max_cursor_value : undefined,
      resumedFromPage: succeeded ? memo.resumed_from_page : memo.checkpoint?.resumedFrom?.iteration,
    });
    if (runs.length >= limit) break;
  }
  // A running sync's memo holds its last checkpoint; its progress query says where it is now.
  for (const run of runs.filter((candidate) => candidate.status === 'running')) {
    const progress = await getProgress(client, run.workflowId).catch(() => undefined);
    if (progress) Object.assign(run, { pages: progress.iteration, records: progress.records, resumedFromPage: progress.resumedFrom?.iteration });
  }
  return runs.sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
}

/**
 * Cancels a running sync. Its current page is abandoned (requests in flight are aborted), it publishes nothing,
 * and keeps its checkpoint: the next run resumes there.
 */
/** The running pipeline workflows (`source.streams`) of a pipeline name. */
export async function listRunningPipelines(client: Client, pipelineName: string): Promise<Array<{ workflowId: string; runId: string }>> {
  const running: Array<{ workflowId: string; runId: string }> = [];
  const query = `WorkflowId STARTS_WITH '${pipelineWorkflowIdPrefix(pipelineName)}' AND ExecutionStatus = 'Running'`;
  for await (const run of client.workflow.list({ query })) if (run.type === BIZON_PIPELINE_WORKFLOW_TYPE) running.push({ workflowId: run.workflowId, runId: run.runId });
  return running;
}

/** Cancels a sync, or a pipeline workflow (which cancels its streams' syncs), and waits until it has stopped. */
export async function cancelSync(client: Client, workflowId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  // Already closed (its run cancelled it first): nothing left to do.
  if ((await handle.describe()).status.name !== 'RUNNING') return;
  await handle.cancel();
  await handle.result().catch(() => undefined);
}

/** What {@link resetStream} made the stream forget. */
export interface ForgottenStreamState {
  /** The watermark's time (`last_run`), if there was one. */
  lastRun: string | null;
  maxCursorValue: StreamStateMemo['max_cursor_value'];
  /** The page of the checkpoint a failed or cancelled sync left, if any. */
  checkpointPage: number | null;
}

/**
 * Forgets a stream's watermark and checkpoint (`bizon stream reset`): its next
 * sync reads the whole stream and replaces the output, as its first did. The
 * state workflow keeps running, so nothing older (closed runs' memos) comes
 * back. Refused while a sync of the stream runs: cancel it first.
 */
export async function resetStream(client: Client, pipeline: PipelineConfig): Promise<ForgottenStreamState> {
  const running = await client.workflow
    .getHandle(syncWorkflowId(pipeline))
    .describe()
    .then((description) => description.status.name === 'RUNNING')
    .catch(() => false);
  if (running) {
    throw new ConfigError(`A sync of pipeline '${pipeline.name}' (${pipeline.source.name}/${pipeline.source.stream}) is running: stop it first (bizon cancel ${pipeline.name}), or let it finish, then reset`);
  }
  const stateId = streamStateWorkflowId(pipeline);
  const memo = (await client.workflow
    .getHandle(stateId)
    .describe()
    .then((description) => description.memo as Partial<StreamStateMemo> | undefined)
    .catch(() => undefined)) ?? {};
  await client.workflow.signalWithStart(STREAM_STATE_WORKFLOW_TYPE, {
    workflowId: stateId,
    taskQueue: pipeline.engine.temporal.task_queue,
    args: [{ key: pipelineKeyOf(pipeline), state: { watermark: null, checkpoint: null, checkpointStatus: null, updatedAt: null } } satisfies StreamStateInput],
    signal: recordStreamStateSignal,
    signalArgs: [{ kind: 'reset', at: new Date().toISOString() }],
  });
  return { lastRun: memo.last_run ?? null, maxCursorValue: memo.max_cursor_value ?? null, checkpointPage: memo.checkpoint?.iteration ?? null };
}

/**
 * Waits (at most `timeoutMs`) until a stream's state workflow has handled every event recorded before — its
 * memo, what the Web UI and `bizon stream reset` read, then shows them. A process about to stop the only
 * worker of the queue calls it, so the last event is not left waiting for the next worker.
 */
export async function settleStreamState(client: Client, pipeline: PipelineConfig, timeoutMs = 5000): Promise<void> {
  await settlesWithin(client.workflow.getHandle(streamStateWorkflowId(pipeline)).executeUpdate(readStreamStateUpdate, { args: [null] }), timeoutMs);
}

/** The watermarks a stream keeps per partition (a dependent stream: one per parent), as {@link listPartitionWatermarks} reads them. */
export interface StreamPartitions {
  stream: string;
  /** The partitions under the start of the sync that last read each (ISO), newest first. */
  partitions: PartitionWatermarks;
}

/** The partition watermarks of a pipeline's streams, read from their state workflows' memos (current, not visibility's copy). */
export async function listPartitionWatermarks(client: Client, pipelineName: string): Promise<StreamPartitions[]> {
  const found: StreamPartitions[] = [];
  const query = `WorkflowType = '${STREAM_STATE_WORKFLOW_TYPE}' AND WorkflowId STARTS_WITH '${streamStateWorkflowIdPrefix(pipelineName)}' AND ExecutionStatus = 'Running'`;
  for await (const run of client.workflow.list({ query })) {
    const memo = ((await client.workflow.getHandle(run.workflowId).describe()).memo ?? {}) as Partial<StreamStateMemo>;
    if (!memo.partitions || Object.keys(memo.partitions).length === 0) continue;
    const partitions = Object.fromEntries(Object.entries(memo.partitions).sort(([a], [b]) => b.localeCompare(a)));
    found.push({ stream: memo.bizon_stream ?? run.workflowId.split(':').at(-1)!, partitions });
  }
  return found.sort((a, b) => a.stream.localeCompare(b.stream));
}
