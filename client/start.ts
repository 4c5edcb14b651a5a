import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, type Workflow } from '@temporalio/common';
import { syncConfigDifferences } from '../config/diff.ts';
import type { PipelineConfig } from '../config/pipeline.ts';
import { initialMemo, pipelineMemo, pipelineSearchAttributes, preparePipeline, prepareSync, type PreparedPipeline, type PreparedSync, type SyncRequest } from '../config/prepare.ts';
import { ConfigError } from '../errors.ts';
import { BIZON_PIPELINE_WORKFLOW_TYPE, STREAMS_STARTED_UPDATE } from '../engine/constants.ts';
import { ensureSearchAttributes, syncSearchAttributes } from '../engine/search-attributes.ts';
import type { BizonPipelineInput } from '../workflows/bizon-pipeline.ts';
import type { PipelineResult, PipelineStreamOutcome, SyncMemo, SyncResult } from '../workflows/types.ts';
import { waitForPipeline, waitForResult } from './observe.ts';

/** A sync started (or found running) on Temporal. */
export interface SyncHandle {
  /** The sync workflow (it exists once a worker has compiled the run: at once, unless started with `detach`). */
  workflowId: string;
  /** The `bizonPipeline` run that starts the sync as its child. */
  runWorkflowId: string;
  /** Run id of the first run of the sync (it changes at continue-as-new). */
  runId: string;
  taskQueue: string;
  /** True when a sync of the same (name, source, stream) was already running and this attached to it. */
  attached: boolean;
  handle: WorkflowHandle;
  pipeline: PipelineConfig;
}

/** Options of {@link startSync}. */
export interface StartSyncOptions {
  /**
   * When a sync of the same (name, source, stream) is already running with a
   * different config, follow it anyway instead of refusing (it keeps running
   * with its own config).
   */
  attach?: boolean;
  /** Return once the run is started, without waiting for a worker to start the sync (`bizon run --detach`). */
  detach?: boolean;
}

/**
 * Starts a sync: the `bizonPipeline` workflow any client starts, with the pipeline as written (the worker compiles
 * it), under the stream's run id; the sync itself runs as its child under the stream's sync id, and the handle is
 * the sync's. If a sync of the same (name, source, stream) is already running, it is not started twice: the handle
 * attaches to the running one — when that one runs the same config; otherwise a {@link ConfigError} names the keys
 * that differ, unless `options.attach` says to follow it anyway. Resolves once the sync has started (a worker has
 * compiled the pipeline), or at once with `options.detach`.
 */
export async function startSync(client: Client, request: SyncRequest | PreparedSync, options: StartSyncOptions = {}): Promise<SyncHandle> {
  const prepared = 'input' in request ? request : await prepareSync(request);
  const { pipeline, workflowId, taskQueue } = prepared;
  await ensureSearchAttributes(client);
  const start = {
    workflowId: prepared.runWorkflowId,
    taskQueue,
    args: [prepared.runInput] as [BizonPipelineInput],
    workflowIdConflictPolicy: 'FAIL' as const,
    memo: { ...initialMemo(prepared) },
    typedSearchAttributes: syncSearchAttributes(pipeline),
    staticSummary: `bizon run ${pipeline.name}: ${pipeline.source.name}/${pipeline.source.stream} → ${pipeline.destination.name}`,
  };
  // Started here, the handle follows this sync's chain of runs (continue-as-new), not a later sync of the stream.
  const syncHandle = (runId: string, attached: boolean): SyncHandle => ({
    workflowId,
    runWorkflowId: prepared.runWorkflowId,
    runId,
    taskQueue,
    attached,
    handle: client.workflow.getHandle(workflowId, undefined, runId && !attached ? { firstExecutionRunId: runId } : {}),
    pipeline,
  });
  if (options.detach) {
    try {
      // No worker may be up yet: the sync starts when one compiles the pipeline.
      await client.workflow.start(BIZON_PIPELINE_WORKFLOW_TYPE, start);
      return syncHandle('', false);
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      // A run of this stream is going on: its sync is followed (once it exists, its config compared).
      const running = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
      if (!running || running.status.name !== 'RUNNING') return syncHandle('', true);
      return followRunningSync(running);
    }
  }
  let outcome: PipelineStreamOutcome | undefined;
  let fresh = false;
  for (let attempt = 1; outcome === undefined; attempt++) {
    try {
      const operation = new WithStartWorkflowOperation(BIZON_PIPELINE_WORKFLOW_TYPE, start);
      [outcome] = await client.workflow.executeUpdateWithStart<Workflow, PipelineStreamOutcome[], []>(STREAMS_STARTED_UPDATE, { startWorkflowOperation: operation });
      fresh = true;
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError) || attempt === MAX_START_ATTEMPTS) throw runFailure(error);
      // A run of this stream is going on (an earlier `bizon run`): follow its sync while it runs; once it is over
      // (a run closes just after its sync ends), start this one.
      const existing = client.workflow.getHandle(prepared.runWorkflowId);
      const [current] = await existing.executeUpdate<PipelineStreamOutcome[], []>(STREAMS_STARTED_UPDATE).catch(() => [undefined]);
      // The run answers its update before it handles what came with it: a sync that has just ended may still read
      // as running there. Its own status says.
      if (current?.status === 'running' && (await isRunning(client, workflowId))) outcome = current;
      else await existing.result().catch(() => undefined);
    }
  }
  // Started by this run (it may even have ended already): follow it.
  if (fresh && outcome?.runId) return syncHandle(outcome.runId, false);
  if (outcome?.status === 'failed') throw new ConfigError(`The sync of ${workflowId} could not start: ${outcome.error}`);
  // Someone else's sync of this stream runs (another run, a Schedule, another client): follow it if its config is ours.
  return followRunningSync(await client.workflow.getHandle(workflowId).describe());

  function followRunningSync(description: WorkflowExecutionDescription): SyncHandle {
    const running = (description.memo as Partial<SyncMemo> | undefined)?.bizon_config;
    const differences = running ? syncConfigDifferences(running, prepared.input.pipeline) : [];
    if (differences.length > 0 && !options.attach) {
      throw new ConfigError(
        `A sync of pipeline '${pipeline.name}' (${pipeline.source.name}/${pipeline.source.stream}) is already running with another config: ${differences.join(', ')} differ. ` +
          `Wait for it (\`bizon status ${pipeline.name} --watch\`), cancel it (\`bizon cancel ${pipeline.name}\`), or follow it as it is (\`bizon run --attach\`).`,
      );
    }
    return syncHandle(description.runId, true);
  }
}

/** Whether the latest run of a workflow id is running. */
async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  const description = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
  return description?.status.name === 'RUNNING';
}

/** An update that failed with the run's own failure (an input or pipeline its worker cannot run) becomes a {@link ConfigError}. */
function runFailure(error: unknown): unknown {
  const cause = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? new ConfigError(cause.message) : error;
}

/** Starts tried while earlier runs of the stream are closing, before giving up. */
const MAX_START_ATTEMPTS = 5;

/** A pipeline with `source.streams` started (or found running) on Temporal. */
export interface PipelineHandle {
  workflowId: string;
  runId: string;
  /** True when the pipeline was already running and this attached to it. */
  attached: boolean;
  handle: WorkflowHandle;
}

/**
 * Starts a pipeline of several streams: `bizonPipeline` with the pipeline as written, every stream's sync its child
 * under the stream's own sync id (a stream whose sync already runs is waited for). If the pipeline is already
 * running, this attaches to it — when it runs the same config; otherwise a {@link ConfigError} names what differs,
 * unless `options.attach` says to follow it anyway.
 */
export async function startPipeline(client: Client, prepared: PreparedPipeline, options: StartSyncOptions = {}): Promise<PipelineHandle> {
  await ensureSearchAttributes(client);
  const streamNames = prepared.streams.map((stream) => stream.pipeline.source.stream);
  try {
    const handle = await client.workflow.start(BIZON_PIPELINE_WORKFLOW_TYPE, {
      workflowId: prepared.workflowId,
      taskQueue: prepared.taskQueue,
      args: [prepared.runInput],
      workflowIdConflictPolicy: 'FAIL',
      memo: pipelineMemo(prepared),
      typedSearchAttributes: pipelineSearchAttributes(prepared),
      staticSummary: `bizon pipeline ${prepared.name}: ${prepared.source}/${streamNames.join(', ')}`,
    });
    return { workflowId: prepared.workflowId, runId: handle.firstExecutionRunId, attached: false, handle };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    const handle = client.workflow.getHandle(prepared.workflowId);
    const description = await handle.describe();
    const running = description.memo as { bizon_config?: PipelineConfig; bizon_streams?: string[] } | undefined;
    const differences = running?.bizon_config ? syncConfigDifferences(running.bizon_config, prepared.streams[0]!.input.pipeline) : [];
    if (running?.bizon_streams && running.bizon_streams.join() !== streamNames.join()) differences.push('source.streams');
    if (differences.length > 0 && !options.attach) {
      throw new ConfigError(
        `Pipeline '${prepared.name}' (${prepared.source}) is already running with another config: ${differences.join(', ')} differ. ` +
          `Wait for it (\`bizon status ${prepared.name} --watch\`), cancel it (\`bizon cancel ${prepared.name}\`), or follow it as it is (\`bizon run --attach\`).`,
      );
    }
    return { workflowId: prepared.workflowId, runId: description.runId, attached: true, handle };
  }
}

/** Starts a pipeline with `source.streams` (or attaches to it) and waits for every stream. */
export async function runPipeline(client: Client, request: SyncRequest | PreparedPipeline): Promise<PipelineResult> {
  const prepared = 'streams' in request ? request : await preparePipeline(request);
  if (!('streams' in prepared)) throw new ConfigError(`Pipeline '${prepared.pipeline.name}' has one stream (source.stream): run it with runSync()`);
  const started = await startPipeline(client, prepared);
  return waitForPipeline(client, started.workflowId);
}

/** Starts a sync (or attaches to the running one) and waits for its result. */
export async function runSync(client: Client, request: SyncRequest | PreparedSync, options: StartSyncOptions = {}): Promise<SyncResult> {
  const started = await startSync(client, request, options);
  return waitForResult(client, started.workflowId);
}
