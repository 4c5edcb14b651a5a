import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { STREAM_STATE_WORKFLOW_TYPE } from '../engine/constants.ts';
import { NonRetryableError } from '../errors.ts';
import { readStreamStateUpdate, recordStreamStateSignal } from '../workflows/state.ts';
import type { StreamState, StreamStateInput, StreamStateMemo, SyncCheckpoint, SyncMemo, SyncState } from '../workflows/types.ts';
import type { LoadSyncStateInput, RecordStreamStateInput } from '../workflows/activity-types.ts';

/** How many closed runs of a sync are read, once, to migrate a pipeline that ran before state workflows existed. */
const RUNS_SCANNED = 100;
const INTERRUPTED: ReadonlyMap<string, NonNullable<StreamState['checkpointStatus']>> = new Map([
  ['FAILED', 'failed'],
  ['TERMINATED', 'failed'],
  ['TIMED_OUT', 'failed'],
  ['CANCELLED', 'cancelled'],
]);

/** A stream that has never synced. */
export const EMPTY_STREAM_STATE: StreamState = { watermark: null, checkpoint: null, checkpointStatus: null, updatedAt: null };

/**
 * Reads what the earlier syncs of a stream left, from its state workflow: a
 * running workflow, so Temporal's retention (which deletes closed runs) never
 * removes it, and read through an Update, so it holds every event recorded
 * before (visibility queries may lag). A stream that synced before state
 * workflows existed is migrated once from the memos of its closed runs.
 */
export async function loadSyncState(client: Client, input: LoadSyncStateInput): Promise<SyncState> {
  const { taskQueue } = Context.current().info;
  let source: SyncState['source'] = 'state-workflow';
  const stream = input.streamState;
  if (stream) await bringStateWorkflowHere(client, stream, taskQueue);
  let state = stream ? await readStreamState(client, stream.workflowId, input.currentSyncRunId) : undefined;
  if (!state) {
    const legacy = await stateFromClosedRuns(client, input.workflowId);
    source = legacy.watermark || legacy.checkpoint ? 'closed-runs' : 'none';
    if (stream) {
      await startStreamStateWorkflow(client, stream, taskQueue, legacy);
      state = (await readStreamState(client, stream.workflowId, input.currentSyncRunId)) ?? legacy;
    } else {
      state = legacy;
    }
  } else if (state.runningSyncRunId && state.runningSyncRunId !== input.currentSyncRunId) {
    // The sync before never said how it ended (terminated): its last checkpoint is in the memo of its last run.
    const unrecorded = await checkpointOfUnrecordedEnd(client, input.workflowId, state.runningSyncRunId);
    if (unrecorded && unrecorded.checkpoint.iteration > (state.checkpoint?.iteration ?? 0)) state = { ...state, ...unrecorded };
  }
  const { checkpoint, checkpointStatus } = state;
  const resumable =
    checkpoint && checkpoint.iteration > 0 && checkpoint.syncRunId !== input.currentSyncRunId
      ? { ...checkpoint, status: (checkpointStatus ?? 'failed').toUpperCase(), runId: checkpoint.syncRunId }
      : null;
  return { watermark: state.watermark, resumable, source, ...(state.partitions ? { partitions: state.partitions } : {}) };
}

/**
 * The checkpoint in the memo of the last run of the sync that started as run `firstRunId` and closed without
 * recording how it ended (terminated, timed out), followed through its continue-as-new runs. Read with describe and
 * the last history event of each run, which are current at once (a visibility list may lag behind a termination).
 */
async function checkpointOfUnrecordedEnd(
  client: Client,
  workflowId: string,
  firstRunId: string,
): Promise<{ checkpoint: SyncCheckpoint; checkpointStatus: NonNullable<StreamState['checkpointStatus']> } | undefined> {
  for (let runId = firstRunId; ; ) {
    const description = await client.workflow
      .getHandle(workflowId, runId)
      .describe()
      .catch((error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return undefined; // removed by retention: nothing to resume
        throw error;
      });
    if (!description) return undefined;
    if (description.status.name !== 'CONTINUED_AS_NEW') {
      const checkpointStatus = INTERRUPTED.get(description.status.name);
      const checkpoint = (description.memo as Partial<SyncMemo> | undefined)?.checkpoint;
      return checkpointStatus && checkpoint ? { checkpoint, checkpointStatus } : undefined;
    }
    const { history } = await client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    const next = history?.events?.[0]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (!next) return undefined;
    runId = next;
  }
}

/**
 * A state workflow runs on the task queue of the sync that started it. When a
 * pipeline's `task_queue` changes, no worker may poll the old one any more:
 * the state workflow moves to this queue, carrying the state its memo holds
 * (current, since it has no event left to handle).
 */
async function bringStateWorkflowHere(client: Client, stream: NonNullable<LoadSyncStateInput['streamState']>, taskQueue: string): Promise<void> {
  const handle = client.workflow.getHandle(stream.workflowId);
  const description = await handle.describe().catch((error: unknown) => {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  });
  if (!description || description.status.name !== 'RUNNING' || description.taskQueue === taskQueue) return;
  if (description.raw.pendingWorkflowTask) {
    throw new NonRetryableError(
      `The state of ${stream.key.name} (${stream.key.source}/${stream.key.stream}) is kept by ${stream.workflowId} on task queue '${description.taskQueue}', ` +
        `which has events no worker has handled. Run a worker on it once (bizon worker --task-queue ${description.taskQueue}), then sync again.`,
    );
  }
  const state = stateFromMemo((description.memo ?? {}) as Partial<StreamStateMemo>);
  await handle.terminate(`moved to task queue ${taskQueue}`);
  await startStreamStateWorkflow(client, stream, taskQueue, state);
}

/** Starts the stream's state workflow on `taskQueue` with `state` (or leaves the one already running). */
async function startStreamStateWorkflow(client: Client, stream: NonNullable<LoadSyncStateInput['streamState']>, taskQueue: string, state: StreamState): Promise<void> {
  await client.workflow.start(STREAM_STATE_WORKFLOW_TYPE, {
    workflowId: stream.workflowId,
    taskQueue,
    args: [{ key: stream.key, state } satisfies StreamStateInput],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `bizon stream state ${stream.key.name}: ${stream.key.source}/${stream.key.stream}`,
  });
}

function stateFromMemo(memo: Partial<StreamStateMemo>): StreamState {
  return {
    watermark: memo.last_run
      ? {
          lastRun: memo.last_run,
          maxCursorValue: memo.max_cursor_value ?? null,
          records: memo.records ?? 0,
          pages: memo.pages ?? 0,
          ...(memo.next_state ? { nextState: memo.next_state } : {}),
        }
      : null,
    checkpoint: memo.checkpoint ?? null,
    checkpointStatus: memo.checkpoint_status ?? null,
    updatedAt: null,
    runningSyncRunId: memo.running_sync_run_id ?? null,
    ...(memo.partitions ? { partitions: memo.partitions } : {}),
  };
}

/** The stream's state, or undefined when its state workflow does not exist. */
async function readStreamState(client: Client, workflowId: string, startingSyncRunId: string | null): Promise<StreamState | undefined> {
  const activity = Context.current();
  const handle = client.workflow.getHandle(workflowId);
  try {
    // Answered by a worker of the stream's task queue; heartbeats tell Temporal this page of waiting is alive.
    const reading = handle.executeUpdate(readStreamStateUpdate, { args: [startingSyncRunId] });
    for (;;) {
      const state = await Promise.race([reading, sleep(1000).then(() => undefined)]);
      if (state) return state;
      activity.heartbeat();
    }
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

/** Sends one event to the stream's state workflow, starting it first if it is missing. */
export async function recordStreamState(client: Client, input: RecordStreamStateInput): Promise<void> {
  await client.workflow.signalWithStart(STREAM_STATE_WORKFLOW_TYPE, {
    workflowId: input.streamState.workflowId,
    taskQueue: Context.current().info.taskQueue,
    args: [{ key: input.streamState.key, state: EMPTY_STREAM_STATE } satisfies StreamStateInput],
    signal: recordStreamStateSignal,
    signalArgs: [input.event],
  });
}

/**
 * The state as the memos of a sync's closed runs tell it (how bizon kept
 * state before the state workflow): the watermark of the most recent
 * successful run, and the checkpoint of the most recent run if it did not succeed.
 */
async function stateFromClosedRuns(client: Client, syncWorkflowId: string): Promise<StreamState> {
  const runs: WorkflowExecutionInfo[] = [];
  const query = `WorkflowId = '${syncWorkflowId}' AND ExecutionStatus != 'Running'`;
  for await (const run of client.workflow.list({ query, pageSize: RUNS_SCANNED })) {
    // Runs that continued as new are the middle of a sync; its last run tells how it ended.
    if (run.status.name !== 'CONTINUED_AS_NEW') runs.push(run);
    if (runs.length >= RUNS_SCANNED) break;
  }
  runs.sort((a, b) => (b.closeTime?.getTime() ?? 0) - (a.closeTime?.getTime() ?? 0));

  const state: StreamState = { ...EMPTY_STREAM_STATE };
  const latest = runs[0];
  const latestCheckpoint = (latest?.memo as Partial<SyncMemo> | undefined)?.checkpoint;
  const interrupted = latest ? INTERRUPTED.get(latest.status.name) : undefined;
  if (interrupted && latestCheckpoint) Object.assign(state, { checkpoint: latestCheckpoint, checkpointStatus: interrupted });
  const succeeded = runs.find((run) => run.status.name === 'COMPLETED' && (run.memo as Partial<SyncMemo> | undefined)?.last_run);
  const memo = succeeded?.memo as Partial<SyncMemo> | undefined;
  if (memo?.last_run) {
    state.watermark = { lastRun: memo.last_run, maxCursorValue: memo.max_cursor_value ?? null, records: memo.records ?? 0, pages: memo.pages ?? 0 };
  }
  return state;
}
