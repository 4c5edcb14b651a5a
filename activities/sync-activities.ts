import { setTimeout as sleep } from 'node:timers/promises';
import { Context, log, type Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { durationToMs, type Duration } from '../config/pipeline.ts';
import { resolvePipeline, type ResolvedPipeline } from '../config/resolve.ts';
import { createDestination, type Destination } from '../destinations/index.ts';
import { FileDestination } from '../destinations/file.ts';
import { NonRetryableError } from '../errors.ts';
import { validateIteration } from '../sources/iteration.ts';
import type { CustomSource } from '../sources/registry.ts';
import { lastSessionError } from '../sources/session.ts';
import type { AbstractSource } from '../sources/source.ts';
import { maxCursor } from '../workflows/cursor.ts';
import type {
  ActivityInput,
  CursorValue,
  ExtractPageInput,
  ExtractPageResult,
  FinalizeSyncInput,
  IncrementalStateJson,
  LoadSyncStateInput,
  PrepareSyncResult,
  SyncActivities,
  SyncState,
} from '../workflows/types.ts';
import type { ValidatedRecord } from '../sources/iteration.ts';
import type { Pagination } from '../sources/models.ts';
import { abortRequestsOnCancel } from './cancellation.ts';
import { loadSyncState } from './sync-state.ts';
import { RETRY_BUDGET_SPENT, toApplicationFailure } from './failures.ts';

/** Options of {@link createSyncActivities}. */
export interface SyncActivitiesOptions {
  /** Source classes of the worker's `--custom-source` files. */
  customSources: readonly CustomSource[];
  /** Where secret references are resolved; the worker's environment by default. */
  env?: NodeJS.ProcessEnv;
  /** Starts polling a rate-limited page queue on this worker (the worker provides it). */
  ensureRateLimitedQueue?: (taskQueue: string, requestsPerSecond: number) => Promise<void>;
}

interface SyncContext {
  resolved: ResolvedPipeline;
  source: AbstractSource;
  destination: Destination;
}

const HEARTBEAT_EVERY_MS = 1000;
const CACHED_SYNCS = 32;
const FINISHED_STAGING_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * The activities of the sync workflow. They are the only code that touches
 * sources and destinations; records are written here and never returned.
 */
export function createSyncActivities(options: SyncActivitiesOptions): SyncActivities {
  const env = options.env ?? process.env;
  // One source instance per sync on this worker, so sessions (and tokens) are reused across pages.
  const contexts = new Map<string, SyncContext>();

  function contextFor(input: ActivityInput): SyncContext {
    const cached = contexts.get(input.syncRunId);
    if (cached) return cached;
    const resolved = resolvePipeline(input.pipeline, options.customSources, env);
    const SourceCtor = resolved.sourceClass as unknown as new (config: unknown) => AbstractSource;
    const source = new SourceCtor(resolved.sourceConfig);
    abortRequestsOnCancel(source.session);
    const context: SyncContext = {
      resolved,
      source,
      destination: createDestination(input.pipeline.destination.name, resolved.destinationConfig, resolved.destinationId),
    };
    contexts.set(input.syncRunId, context);
    if (contexts.size > CACHED_SYNCS) contexts.delete(contexts.keys().next().value!);
    return context;
  }

  /** Runs `work` with heartbeats, and maps any error to a Temporal failure. */
  async function guarded<T>(input: ActivityInput, work: (context: SyncContext) => Promise<T>): Promise<T> {
    const activity = Context.current();
    const heartbeat = setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
    let secrets: readonly string[] = [];
    try {
      const context = contextFor(input);
      secrets = context.resolved.secretValues;
      return await work(context);
    } catch (error) {
      throw withinRetryBudget(toApplicationFailure(error, secrets), input.pipeline, activity.info);
    } finally {
      clearInterval(heartbeat);
    }
  }

  return {
    async prepareSync(input) {
      return guarded(input, async ({ source, destination, resolved }): Promise<PrepareSyncResult> => {
        const [ok, reason] = await source.checkConnection();
        if (!ok) {
          const cause = lastSessionError(source.session);
          const message = `checkConnection() of source '${input.pipeline.source.name}' failed: ${reason ?? cause?.message ?? 'no reason given'}`;
          // A failed check is permanent unless the API's last answer says otherwise (5xx, network, rate limit).
          if (cause && toApplicationFailure(cause).nonRetryable === false) throw new Error(message, { cause });
          throw new NonRetryableError(message);
        }
        await destination.checkConnection();
        if (destination instanceof FileDestination) await destination.pruneStaging(FINISHED_STAGING_TTL_MS);
        const total = await source.getTotalRecordsCount();
        log.info('Sync prepared', { pipeline: input.pipeline.name, stream: resolved.sourceConfig.stream, total });
        return { total: typeof total === 'number' && Number.isFinite(total) ? total : null };
      });
    },

    async extractPage(input: ExtractPageInput): Promise<ExtractPageResult> {
      return guarded(input, async ({ source, destination, resolved }) => {
        if (input.notBefore !== null && input.notBefore > Date.now()) await sleep(input.notBefore - Date.now());
        const extractedAt = new Date();
        const pagination = input.pagination ?? undefined;
        const raw = input.incrementalState
          ? await callGetRecordsAfter(source, input.incrementalState, pagination)
          : await source.get(pagination);
        const page = validateIteration(raw, {
          source: input.pipeline.source.name,
          stream: resolved.sourceConfig.stream,
          iteration: input.iteration,
        });
        await destination.write({ syncRunId: input.syncRunId, iteration: input.iteration, extractedAt, records: page.records });
        return {
          nextPagination: page.nextPagination,
          recordCount: page.records.length,
          maxCursorValue: input.cursorField ? pageMaxCursor(page.records, input.cursorField) : null,
          calledAt: extractedAt.getTime(),
        };
      });
    },

    async loadSyncState(input: LoadSyncStateInput): Promise<SyncState> {
      return loadSyncState(Context.current().client, input);
    },

    async ensureRateLimitedQueue(input: { taskQueue: string; requestsPerSecond: number }): Promise<void> {
      if (!options.ensureRateLimitedQueue) throw new NonRetryableError('This worker cannot poll rate-limited queues (requests_per_second)');
      await options.ensureRateLimitedQueue(input.taskQueue, input.requestsPerSecond);
    },

    async waitForSync(input: { workflowId: string }): Promise<void> {
      const activity = Context.current();
      const heartbeat = setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        await activity.client.workflow
          .getHandle(input.workflowId)
          .result()
          .catch(() => undefined);
      } finally {
        clearInterval(heartbeat);
      }
    },

    async finalizeSync(input: FinalizeSyncInput) {
      return guarded(input, async ({ destination }) => {
        const outputs = await destination.finalize({ syncRunId: input.syncRunId, mode: input.mode });
        contexts.delete(input.syncRunId);
        return outputs;
      });
    },

    async abortSync(input: ActivityInput) {
      return guarded(input, async ({ destination }) => {
        await destination.abort({ syncRunId: input.syncRunId });
        contexts.delete(input.syncRunId);
      });
    },
  };
}


async function callGetRecordsAfter(source: AbstractSource, state: IncrementalStateJson, pagination: Pagination | undefined) {
  if (typeof source.getRecordsAfter !== 'function') {
    throw new NonRetryableError(`${source.constructor.name} has no getRecordsAfter(); it cannot run with sync_mode: incremental`);
  }
  return source.getRecordsAfter(
    { lastRun: new Date(state.lastRun), state: state.state, ...(state.cursorField ? { cursorField: state.cursorField } : {}) },
    pagination,
  );
}

/** Reads `a.b.c` from a record's data. */
function valueAt(data: Record<string, unknown>, path: string): unknown {
  let current: unknown = data;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function pageMaxCursor(records: readonly ValidatedRecord[], cursorField: string): CursorValue | null {
  let max: CursorValue | null = null;
  for (const record of records) {
    const value = valueAt(record.data, cursorField);
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) max = maxCursor(max, value);
  }
  return max;
}

/**
 * Applies `engine.retry.max_elapsed`: a retryable failure whose next attempt
 * would start after the budget is spent becomes final, keeping its message,
 * so the sync fails with the last real error (not a timeout).
 */
function withinRetryBudget(failure: ApplicationFailure, pipeline: ActivityInput['pipeline'], info: Info): ApplicationFailure {
  const { retry } = pipeline.engine;
  if (failure.nonRetryable || retry.max_elapsed === undefined) return failure;
  const budgetMs = durationToMs(retry.max_elapsed);
  const backoffMs = Math.min(durationToMs(retry.initial_interval) * retry.backoff_coefficient ** (info.attempt - 1), durationToMs(retry.maximum_interval));
  const nextDelayMs = failure.nextRetryDelay !== undefined && failure.nextRetryDelay !== null ? durationToMs(failure.nextRetryDelay as Duration) : backoffMs;
  if (Date.now() + nextDelayMs - info.scheduledTimestampMs < budgetMs) return failure;
  return ApplicationFailure.create({
    message: failure.message,
    type: RETRY_BUDGET_SPENT,
    nonRetryable: true,
    details: [{ lastErrorType: failure.type, attempts: info.attempt, maxElapsed: retry.max_elapsed }],
  });
}
