import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodePayload } from '../engine/codec.ts';
import { PIPELINE_PROGRESS_QUERY, PROGRESS_QUERY, STREAMS_FAILED } from '../engine/constants.ts';
import type { PipelineResult, SyncProgress, SyncResult } from '../workflows/types.ts';
import type { PageBatchProgress } from '../workflows/activity-types.ts';

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** Whether an error means "the Temporal server cannot be reached right now". */
function isServerUnreachable(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) return true;
  }
  return false;
}

/**
 * Waits for a sync's result, through restarts of the Temporal server: while
 * the server is unreachable it retries (for up to `patienceMs`, 30 minutes by
 * default); the sync itself is durable and goes on when the server is back.
 */
export async function waitForResult(
  client: Client,
  workflowId: string,
  options: { patienceMs?: number; onUnreachable?: (error: unknown) => void } = {},
): Promise<SyncResult> {
  let unreachableSince: number | undefined;
  for (;;) {
    try {
      return (await client.workflow.getHandle(workflowId).result()) as SyncResult;
    } catch (error) {
      if (!isServerUnreachable(error)) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > (options.patienceMs ?? 30 * 60_000)) throw error;
      options.onUnreachable?.(error);
      await sleep(1000);
    }
  }
}

/** Where each stream of a running (or ended) pipeline stands. */
export async function getPipelineProgress(client: Client, workflowId: string): Promise<PipelineResult> {
  return client.workflow.getHandle(workflowId).query<PipelineResult>(PIPELINE_PROGRESS_QUERY);
}

/**
 * Waits for a pipeline: its result when every stream succeeded; when one did
 * not, a {@link PipelineFailedError} carrying every stream's outcome (the
 * others finished and published).
 */
export async function waitForPipeline(client: Client, workflowId: string, options: { patienceMs?: number; onUnreachable?: (error: unknown) => void } = {}): Promise<PipelineResult> {
  try {
    return (await waitForResult(client, workflowId, options)) as unknown as PipelineResult;
  } catch (error) {
    const failure = error instanceof WorkflowFailedError ? error.cause : undefined;
    if (failure instanceof ApplicationFailure && failure.type === STREAMS_FAILED && failure.details?.[0]) {
      throw new PipelineFailedError(failure.message, failure.details[0] as PipelineResult);
    }
    throw error;
  }
}

/** A pipeline in which at least one stream did not succeed; `outcome` has every stream's. */
export class PipelineFailedError extends Error {
  override readonly name = 'PipelineFailedError';
  constructor(
    message: string,
    readonly outcome: PipelineResult,
  ) {
    super(message);
  }
}

/** A page activity Temporal is retrying, as `describe()` reports it. */
export interface RetryingPage {
  activity: string;
  attempt: number;
  lastFailure: string | undefined;
}

/** Where a running sync stands, with what its activity in flight reports. */
export interface LiveSyncProgress extends SyncProgress {
  /** The page activity being retried, if one is. */
  retrying?: RetryingPage;
  /**
   * With `pages_per_activity`: the batch in flight, from its last heartbeat. Its staged pages and
   * records are already counted in `iteration` and `records`.
   */
  batch?: { firstIteration: number; lastIteration: number };
}

/**
 * Where a running sync stands, by workflow id: the workflow's `progress`
 * query, advanced by the checkpoint its batch in flight last heartbeated.
 */
export async function getProgress(client: Client, workflowId: string): Promise<LiveSyncProgress> {
  const handle = client.workflow.getHandle(workflowId);
  const [progress, description] = await Promise.all([handle.query<SyncProgress>(PROGRESS_QUERY), handle.describe().catch(() => undefined)]);
  const live: LiveSyncProgress = { ...progress };
  const pending = description?.raw.pendingActivities ?? [];
  const retried = pending.find((activity) => (activity.attempt ?? 1) > 1);
  if (retried) live.retrying = { activity: retried.activityType?.name ?? 'activity', attempt: retried.attempt ?? 2, lastFailure: retried.lastFailure?.message ?? undefined };
  const batch = pending.find((activity) => activity.activityType?.name === 'extractPages' && activity.heartbeatDetails?.payloads?.length);
  if (batch && progress.status === 'extracting') {
    const details = await decodePayload<PageBatchProgress>(client, batch.heartbeatDetails!.payloads![0]!).catch(() => undefined);
    // Only the batch that starts after the workflow's checkpoint (a finished one may still be listed a moment).
    if (details && details.firstIteration === progress.iteration + 1 && details.lastIteration >= details.firstIteration) {
      live.iteration = details.lastIteration;
      live.records = progress.records + details.recordCount;
      live.batch = { firstIteration: details.firstIteration, lastIteration: details.lastIteration };
    }
  }
  return live;
}
