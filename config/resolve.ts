import { destinationDefinition } from '../destinations/index.ts';
import { ConfigError, NON_RETRYABLE_ERROR_TYPES } from '../errors.ts';
import type { SourceConfig } from '../sources/config.ts';
import { isReservedDestinationId, RESERVED_DESTINATION_IDS } from '../sources/iteration.ts';
import { resolveSourceClass, supportsIncremental, type CustomSource } from '../sources/registry.ts';
import { slicingOf, type SourceClass } from '../sources/source.ts';
import type { SyncPlan } from '../workflows/types.ts';
import { pipelineKeyOf, streamStateWorkflowId } from '../engine/ids.ts';
import type { PipelineConfig } from './pipeline.ts';
import { checkTransformFunctions, type TransformStep } from '../transforms/steps.ts';
import { durationToMs, parseWithSchema } from './pipeline.ts';
import { findSecretReferences, resolveSecretReferences, secretHoldingParts } from './secrets.ts';

/** A pipeline with its source class found and every block validated. */
export interface ResolvedPipeline {
  pipeline: PipelineConfig;
  sourceClass: SourceClass;
  sourceConfig: SourceConfig;
  destinationConfig: Record<string, unknown>;
  /** Output name used when a record has no `destinationId`. */
  destinationId: string;
  /** The values of the secret references, to redact from messages (empty when not resolved). */
  secretValues: string[];
  /** `transforms:`, secret references resolved (a hash's salt). */
  transforms: TransformStep[];
}

/**
 * Finds the source class and validates the source and destination blocks.
 * With `env`, secret references are replaced by their values first (on the
 * worker), those the operator allows only (`allowEnv`, see isAllowedVariable); without, they are validated as
 * written (on the client).
 */
export function resolvePipeline(pipeline: PipelineConfig, customSources: readonly CustomSource[], env?: NodeJS.ProcessEnv, allowEnv: readonly string[] = []): ResolvedPipeline {
  const sourceClass = resolveSourceClass(pipeline.source.name, pipeline.source.stream, customSources);
  // One resolution of every part (the references found once per pipeline), checked before any value is used.
  const parts = env ? resolveSecretReferences(secretHoldingParts(pipeline), env, '', allowEnv) : pipeline;
  const rawSource = parts.source;
  const sourceConfig = parseWithSchema(sourceClass.getConfigClass(), rawSource, 'source config', ['source']) as SourceConfig;
  if (sourceConfig.sync_mode === 'incremental' && !supportsIncremental(sourceClass)) {
    throw new ConfigError(
      `Source '${pipeline.source.name}' (${sourceClass.name}) does not implement getRecordsAfter(), so it cannot run with sync_mode: incremental. Use sync_mode: full_refresh or implement getRecordsAfter(state, pagination).`,
    );
  }
  const destinationSchema = destinationDefinition(pipeline.destination.name).config;
  const rawDestination = (parts.destination as PipelineConfig['destination']).config;
  const destinationConfig = parseWithSchema(destinationSchema, rawDestination, 'destination config', ['destination', 'config']);
  const secretValues = env ? referencedSecretValues(pipeline, env) : [];
  // Basic auth sends base64("username:password"): that pair is a secret of its own form.
  const basic = sourceConfig.authentication?.type === 'basic' ? sourceConfig.authentication.params : undefined;
  if (env && typeof basic?.username === 'string' && typeof basic.password === 'string') secretValues.push(`${basic.username}:${basic.password}`);
  const destinationId = destinationConfig.destination_id ?? destinationConfig.table ?? `${pipeline.source.name}_${pipeline.source.stream}`;
  if (isReservedDestinationId(String(destinationId))) {
    throw new ConfigError(`destination.config: the destination id '${destinationId}' is reserved: ${RESERVED_DESTINATION_IDS} (set destination.config.destination_id or table)`);
  }
  const transforms = ((parts as { transforms?: TransformStep[] }).transforms ?? []) as TransformStep[];
  checkTransformFunctions(transforms);
  return {
    pipeline,
    sourceClass,
    sourceConfig,
    destinationConfig: destinationConfig as Record<string, unknown>,
    destinationId,
    secretValues,
    transforms,
  };
}

/** The values of the environment variables a pipeline refers to, to redact from any text. */
export function referencedSecretValues(pipeline: PipelineConfig, env: NodeJS.ProcessEnv): string[] {
  return findSecretReferences(secretHoldingParts(pipeline))
    .map((reference) => env[reference.variable] ?? '')
    .filter((value) => value.length >= 4);
}

/** The plain-JSON settings the workflow needs, with every default applied. */
export function planSync(resolved: ResolvedPipeline): SyncPlan {
  const { engine } = resolved.pipeline;
  // A source may pace a stream of its own (the rest source's per-endpoint requests_per_second).
  const paced = resolved.sourceClass as { requestsPerSecond?: (config: SourceConfig) => number | undefined };
  const requestsPerSecond = resolved.sourceConfig.api_config.requests_per_second ?? paced.requestsPerSecond?.(resolved.sourceConfig);
  const slicing = slicingOf(resolved.sourceClass, resolved.sourceConfig);
  // A batch starts pages until its time budget is spent; the last one may still take a whole page_timeout.
  const batched = engine.pages_per_activity > 1;
  if (batched && engine.page_activity === 'local') {
    throw new ConfigError(
      `engine.page_activity: local reads each page in a local activity of its own and cannot batch them: remove engine.pages_per_activity (${engine.pages_per_activity}), or set page_activity: regular`,
    );
  }
  const activityTimeout = batched ? durationToMs(engine.activity_time_budget) + durationToMs(engine.page_timeout) : engine.page_timeout;
  return {
    syncMode: resolved.sourceConfig.sync_mode === 'incremental' ? 'incremental' : 'full_refresh',
    maxIterations: resolved.sourceConfig.max_iterations ?? null,
    retryLimit: resolved.sourceConfig.api_config.retry_limit,
    retry: {
      initialInterval: engine.retry.initial_interval,
      backoffCoefficient: engine.retry.backoff_coefficient,
      maximumInterval: engine.retry.maximum_interval,
    },
    activityDeadlineMs: engine.retry.max_elapsed !== undefined ? durationToMs(engine.retry.max_elapsed) + durationToMs(activityTimeout) : null,
    pageTimeout: activityTimeout,
    heartbeatTimeout: engine.heartbeat_timeout,
    continueAsNewEvery: engine.continue_as_new_every,
    pagesPerActivity: engine.pages_per_activity,
    ...(engine.page_activity === 'local' ? { localPages: true } : {}),
    ...(slicing ? { sliced: true, maxParallelSlices: slicing.maxParallel ?? engine.max_parallel_slices } : {}),
    activityTimeBudgetMs: durationToMs(engine.activity_time_budget),
    ...(engine.publish === 'append' ? { appendOnly: true } : {}),
    checkpointEvery: engine.checkpoint_every,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    cursorField: resolved.sourceConfig.cursor_field ?? null,
    reset: resolved.sourceConfig.reset,
    forceIgnoreCheckpoint: resolved.sourceConfig.force_ignore_checkpoint,
    streamState: { workflowId: streamStateWorkflowId(resolved.pipeline), key: pipelineKeyOf(resolved.pipeline) },
    rateLimit: requestsPerSecond ? { requestsPerSecond } : null,
  };
}

