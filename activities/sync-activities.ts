import { Context, log } from '@temporalio/activity';
import { referencedSecretValues, resolvePipeline } from '../config/resolve.ts';
import { compileTransforms } from '../transforms/steps.ts';
import { createDestination } from '../destinations/index.ts';
import { NonRetryableError } from '../errors.ts';
import { validateSlices } from '../sources/iteration.ts';
import type { CustomSource } from '../sources/registry.ts';
import { lastSessionError, redactSessionSpans } from '../sources/session.ts';
import type { AbstractSource } from '../sources/source.ts';
import type { SyncState, SyncWorkflowInput } from '../workflows/types.ts';
import { decodePayload } from '../engine/codec.ts';
import { configKey } from '../workflows/config-key.ts';
import type { ActivityInput, ExtractPageInput, PageActivityInput, ExtractPageResult, ExtractPagesInput, PageBatchProgress, PlanSlicesInput, FinalizeSyncInput, LoadSyncStateInput, RecordStreamStateInput, PrepareSyncResult, SyncActivities } from '../workflows/activity-types.ts';
import { raiseRetriedAlert, sendAlert } from './alerts.ts';
import { abortRequestsOnCancel } from './cancellation.ts';
import { bindSessionHosts } from './host-binding.ts';
import { checkSecretHosts, sourceHostBinding } from '../config/secrets.ts';
import type { SyncMetrics } from './metrics.ts';
import { batchStart, runPageBatch } from './page-batch.ts';
import { incrementalStateOf, readPage, stagePage, type PageWithPipeline, type SyncContext } from './page-io.ts';
import { loadSyncState, recordStreamState } from './sync-state.ts';
import { toApplicationFailure, withinRetryBudget } from './failures.ts';
import { redact } from '../sources/redaction.ts';

/** Options of {@link createSyncActivities}. */
export interface SyncActivitiesOptions {
  /** Source classes of the worker's `--custom-source` files. */
  customSources: readonly CustomSource[];
  /** Where secret references are resolved; the worker's environment by default. */
  env?: NodeJS.ProcessEnv;
  /** Environment variables besides `BIZON_ENV_…` that pipelines may read (names, or prefixes ending in `*`). */
  allowEnv?: readonly string[];
  /** Where the activities count what they do, for Prometheus (`bizon worker --metrics-port`). */
  metrics?: SyncMetrics;
}

const HEARTBEAT_EVERY_MS = 1000;
/**
 * Syncs whose source this worker keeps built, the least recently paged dropped first. A sync's are dropped when it
 * publishes or aborts; the bound only matters for syncs that stopped without either, so it is far above the syncs
 * a worker runs at once (a bound below them would rebuild sources — sessions, tokens — page after page).
 */
const CACHED_SYNCS = 512;
const PUBLISHED_STAGING_TTL_MS = 7 * 24 * 3600 * 1000;

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
    // A page's pipeline is the cached context's own object (withPipeline): no JSON to compare.
    const pipelineJson = cached?.pipeline === input.pipeline ? cached.pipelineJson : JSON.stringify(input.pipeline);
    if (cached?.pipelineJson === pipelineJson) {
      contexts.delete(input.syncRunId);
      contexts.set(input.syncRunId, cached);
      return cached;
    }
    if (cached) forget(input.syncRunId);
    // Also here, not only where the pipeline is compiled: any client may start a sync with an input of its making.
    checkSecretHosts(input.pipeline, env, options.allowEnv);
    const resolved = resolvePipeline(input.pipeline, options.customSources, env, options.allowEnv);
    const SourceCtor = resolved.sourceClass as unknown as new (config: unknown) => AbstractSource;
    const source = new SourceCtor(resolved.sourceConfig);
    abortRequestsOnCancel(source.session);
    const binding = sourceHostBinding(input.pipeline, env, options.allowEnv);
    if (binding) bindSessionHosts(source.session, binding);
    redactSessionSpans(source.session, (text) => redact(text, resolved.secretValues));
    const context: SyncContext = {
      resolved,
      source,
      destination: createDestination(input.pipeline.destination.name, resolved.destinationConfig, resolved.destinationId),
      pipeline: input.pipeline,
      pipelineJson,
      configKey: configKey(input.pipeline),
      ...(resolved.transforms.length > 0 ? { transform: compileTransforms(resolved.transforms) } : {}),
    };
    contexts.set(input.syncRunId, context);
    if (contexts.size > CACHED_SYNCS) forget(contexts.keys().next().value!);
    return context;
  }

  /**
   * A page's input with its sync's pipeline: the one this worker built the sync's source from when the key matches
   * (every page but a worker's first of a sync), a local page's own, else the sync's input, read from the first event
   * of its history — the server answers it, whichever worker (alive or not) runs the workflow.
   */
  async function withPipeline<T extends PageActivityInput>(input: T): Promise<T & ActivityInput> {
    const cached = contexts.get(input.syncRunId);
    if (cached?.configKey === input.configKey) return { ...input, pipeline: cached.pipeline };
    if (input.pipeline) return { ...input, pipeline: input.pipeline };
    const activity = Context.current();
    const { client, info } = activity;
    const sync = info.workflowExecution;
    if (!sync) throw new NonRetryableError(`A page activity outside a sync workflow needs its pipeline in its input (sync run ${input.syncRunId})`);
    // Alive all along (a batch's keep-alive repeating the checkpoint its last attempt left): no second attempt meanwhile.
    const heartbeat = setInterval(() => activity.heartbeat(info.heartbeatDetails), HEARTBEAT_EVERY_MS);
    try {
      const { history } = await client.workflowService.getWorkflowExecutionHistory({ namespace: info.workflowNamespace, execution: sync, maximumPageSize: 1 });
      const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      if (!payload) throw new Error(`The history of sync ${sync.workflowId} (run ${sync.runId}) does not start with its input`);
      const { pipeline } = await decodePayload<SyncWorkflowInput>(client, payload);
      return { ...input, pipeline };
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Drops a sync's source and destination from this worker, letting go of the destination's connections. */
  function forget(syncRunId: string): void {
    const context = contexts.get(syncRunId);
    contexts.delete(syncRunId);
    void context?.destination.close?.().catch(() => undefined);
  }

  /**
   * Runs one activity's `work` for a sync: heartbeats while it runs, and any
   * error it throws becomes a Temporal failure (secrets redacted, retry budget applied).
   */
  async function runForSync<T>(input: ActivityInput, work: (context: SyncContext) => Promise<T>, heartbeatDetails?: () => unknown): Promise<T> {
    const activity = Context.current();
    // A heartbeat replaces the details of the one before: a batch's keep-alive repeats its last checkpoint.
    // A local activity cannot heartbeat: its worker's workflow task keeps it alive.
    const heartbeat = activity.info.isLocal ? undefined : setInterval(() => activity.heartbeat(heartbeatDetails?.()), HEARTBEAT_EVERY_MS);
    let secrets: readonly string[] = [];
    try {
      const context = contextFor(input);
      secrets = context.resolved.secretValues;
      return await work(context);
    } catch (error) {
      // An error while the context is built (a config the worker resolved) is redacted with the referenced values.
      if (secrets.length === 0) secrets = referencedSecretValues(input.pipeline, env);
      const failure = withinRetryBudget(toApplicationFailure(error, secrets), input.pipeline.engine.retry, activity.info);
      const attempts = contexts.get(input.syncRunId)?.resolved.sourceConfig.api_config.retry_limit;
      // Retried, or final: a page, a prepare or a publish that fails for good fails its sync.
      const retried = !failure.nonRetryable && (attempts === undefined || activity.info.attempt < attempts);
      if (retried) options.metrics?.attemptRetried(input.pipeline, failure, error);
      else options.metrics?.syncOutcome(input.pipeline, 'failed');
      const alerting = input.pipeline.alerting;
      if (retried && alerting?.on.includes('retried') && activity.info.attempt === alerting.retries_above) {
        const { workflowExecution, activityId, taskQueue } = activity.info;
        await raiseRetriedAlert(
          activity.client,
          { pipeline: input.pipeline, workflowId: workflowExecution?.workflowId ?? '', runId: workflowExecution?.runId ?? '', cause: failure.message },
          activityId,
          taskQueue,
        );
      }
      throw failure;
    } finally {
      clearInterval(heartbeat);
    }
  }

  return {
    async sendAlert(input) {
      // The namespace the alert's workflow (and so the sync) runs in, for the Web UI link.
      await sendAlert(input, env, Context.current().info.workflowNamespace);
    },

    async prepareSync(input) {
      return runForSync(input, async ({ source, destination, resolved }): Promise<PrepareSyncResult> => {
        const [ok, reason] = await source.checkConnection();
        if (!ok) {
          const cause = lastSessionError(source.session);
          const message = `checkConnection() of source '${input.pipeline.source.name}' failed: ${reason ?? cause?.message ?? 'no reason given'}`;
          // A failed check is permanent unless the API's last answer says otherwise (5xx, network, rate limit).
          if (cause && toApplicationFailure(cause).nonRetryable === false) throw new Error(message, { cause });
          throw new NonRetryableError(message);
        }
        await destination.checkConnection();
        await destination.prune?.(PUBLISHED_STAGING_TTL_MS);
        const total = await countRecords(source, resolved.secretValues);
        options.metrics?.syncOutcome(input.pipeline, 'started');
        log.info('Sync prepared', { pipeline: input.pipeline.name, stream: resolved.sourceConfig.stream, total });
        return { total: typeof total === 'number' && Number.isFinite(total) ? total : null };
      });
    },

    async extractPage(pageInput: ExtractPageInput): Promise<ExtractPageResult> {
      const input: PageWithPipeline = await withPipeline(pageInput);
      return runForSync(input, async (context) => {
        const read = await readPage(options.metrics, context, input, input.iteration, input.pagination);
        await stagePage(options.metrics, context, input, read);
        return {
          nextPagination: read.nextPagination,
          recordCount: read.recordCount,
          maxCursorValue: read.maxCursorValue,
          calledAt: read.page.extractedAt.getTime(),
          sourceMs: read.sourceMs,
          ...(read.nextState !== undefined ? { nextState: read.nextState } : {}),
        };
      });
    },

    async extractPages(pageInput: ExtractPagesInput): Promise<PageBatchProgress> {
      const input: PageWithPipeline<ExtractPagesInput> = await withPipeline(pageInput);
      const activity = Context.current();
      const start = batchStart(input, activity.info.heartbeatDetails);
      if (start.lastIteration >= input.iteration) log.info('Resuming the batch after its last checkpoint', { page: start.lastIteration });
      let latest = start;
      return runForSync(
        input,
        (context) =>
          runPageBatch(input, start, {
            read: (iteration, pagination) => readPage(options.metrics, context, input, iteration, pagination),
            stage: (read) => stagePage(options.metrics, context, input, read),
            checkpoint: (progress) => {
              latest = progress;
              activity.heartbeat(progress);
            },
            now: Date.now,
          }),
        () => latest,
      );
    },

    async planSlices(input: PlanSlicesInput): Promise<Array<Record<string, unknown>>> {
      return runForSync(input, async ({ source, resolved }) => {
        if (typeof source.getSlices !== 'function') throw new NonRetryableError(`${source.constructor.name} has no getSlices()`);
        const state = input.incrementalState ? incrementalStateOf(input.incrementalState) : null;
        return validateSlices(await source.getSlices(state, { runStartedAt: input.runStartedAt ? new Date(input.runStartedAt) : new Date() }), { source: input.pipeline.source.name, stream: resolved.sourceConfig.stream });
      });
    },

    async loadSyncState(input: LoadSyncStateInput): Promise<SyncState> {
      return loadSyncState(Context.current().client, input);
    },

    async recordStreamState(input: RecordStreamStateInput): Promise<void> {
      await recordStreamState(Context.current().client, input);
      const { event } = input;
      if (event.kind === 'checkpoint' && event.status === 'cancelled' && input.destination) options.metrics?.syncCancelled(input.streamState.key, input.destination);
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
      return runForSync(input, async ({ destination }) => {
        const outputs = await destination.finalize({ syncRunId: input.syncRunId, mode: input.mode });
        forget(input.syncRunId);
        options.metrics?.syncOutcome(input.pipeline, 'succeeded');
        options.metrics?.rowsPublished(input.pipeline, outputs.reduce((sum, output) => sum + output.records, 0));
        for (const output of outputs) {
          if (output.discarded) log.warn('Records left out by schema_contract (discard_row)', { pipeline: input.pipeline.name, destinationId: output.destinationId, discarded: output.discarded });
        }
        return outputs;
      });
    },

    async forgetPublishedRun(input: ActivityInput) {
      let secrets: readonly string[] = [];
      try {
        const context = contextFor(input);
        secrets = context.resolved.secretValues;
        await context.destination.forgetPublished?.({ syncRunId: input.syncRunId });
      } catch (error) {
        // The output is published either way; what stays behind is pruned before a later sync of the destination.
        log.warn('Could not remove the bookkeeping of a published run', { pipeline: input.pipeline.name, error: redact(String(error), secrets) });
      } finally {
        forget(input.syncRunId);
      }
    },

    async abortSync(input: ActivityInput) {
      return runForSync(input, async ({ destination }) => {
        await destination.abort({ syncRunId: input.syncRunId });
        forget(input.syncRunId);
      });
    },
  };
}


/** The optional total, for the progress line: a failure to count never blocks the sync. */
async function countRecords(source: AbstractSource, secrets: readonly string[]): Promise<number | null> {
  try {
    return await source.getTotalRecordsCount();
  } catch (error) {
    // Logs reach places history does not: the message is redacted like a failure's.
    log.warn('getTotalRecordsCount() failed; the sync goes on with an unknown total', { source: source.constructor.name, error: redact(String(error), secrets) });
    return null;
  }
}
