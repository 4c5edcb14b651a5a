import { planSync, resolvePipeline, type ResolvedPipeline } from './resolve.ts';
import { parsePipelineConfig, parsePipelineDefinition, readPipelineConfig, readPipelineDefinition, type PipelineConfig } from './pipeline.ts';
import { checkSecretHosts, checkSecretReferences, findLiteralPipelineCredentials } from './secrets.ts';
import { loadCustomCode } from './custom-code.ts';
import { ConfigError } from '../errors.ts';
import { pipelineWorkflowId, syncWorkflowId } from '../engine/ids.ts';
import { BIZON_PIPELINE, BIZON_SOURCE, plainSyncSearchAttributes } from '../engine/search-attributes.ts';
import type { SearchAttributePair } from '@temporalio/common';
import type { CustomSource } from '../sources/registry.ts';
import type { PipelineWorkflowInput, SyncMemo, SyncWorkflowInput } from '../workflows/types.ts';

/** What to sync: a pipeline (a YAML file path, a parsed object) and the custom sources it needs. */
export interface SyncRequest {
  /** Path of a pipeline YAML file, or the pipeline as an object. */
  config: string | PipelineConfig | Record<string, unknown>;
  /** Files of custom sources (`--custom-source`), used to validate the source config. */
  customSourceFiles?: readonly string[];
  /** Already loaded custom sources. */
  customSources?: readonly CustomSource[];
  /**
   * Check that every secret reference's environment variable exists here
   * (default true). Turn off when only remote workers hold the secrets.
   */
  checkSecrets?: boolean;
  /** Overrides `engine.temporal.task_queue`. */
  taskQueue?: string;
  /** Same as `source.reset: true`: re-read everything, replace the destination, and become the new watermark. */
  reset?: boolean;
  /** Same as `source.force_ignore_checkpoint: true`: do not resume a failed sync, start from page one. */
  forceIgnoreCheckpoint?: boolean;
  /** Start even though credentials are written literally in the config (they are not secret): refused otherwise. */
  allowLiteralSecrets?: boolean;
  /** Where secret references are checked (default: this process's environment); a worker compiling a pipeline passes its own. */
  env?: NodeJS.ProcessEnv;
  /** Variables besides `BIZON_ENV_…` the pipeline may read, and the hosts a variable is bound to (`NAME=host`): the worker's `--allow-env`. */
  allowEnv?: readonly string[];
}

/** A validated sync, ready to start. */
export interface PreparedSync {
  pipeline: PipelineConfig;
  resolved: ResolvedPipeline;
  input: SyncWorkflowInput;
  workflowId: string;
  taskQueue: string;
  /** Problems that do not stop the sync (a literal credential in the config). */
  warnings: string[];
  /** The custom sources the request named, loaded (a worker in the same process can reuse them). */
  customSources: CustomSource[];
}

/** The memo a sync starts with: what a person browsing the Web UI needs to recognise it. */
export function initialMemo(prepared: Pick<PreparedSync, 'pipeline' | 'input'>): SyncMemo {
  return {
    bizon_pipeline: prepared.pipeline.name,
    bizon_source: prepared.pipeline.source.name,
    bizon_stream: prepared.pipeline.source.stream,
    sync_mode: prepared.input.plan.syncMode,
    bizon_config: prepared.input.pipeline,
  };
}

/** Reads and validates a sync request without starting anything: errors are thrown before Temporal sees it. */
export async function prepareSync(request: SyncRequest): Promise<PreparedSync> {
  const pipeline = typeof request.config === 'string' ? await readPipelineConfig(request.config) : parsePipelineConfig(request.config);
  const customSources = [...(request.customSources ?? []), ...(await loadCustomCode(request.customSourceFiles ?? []))];
  return prepareStream(pipeline, request, customSources);
}

/** A validated pipeline with `source.streams`, ready to start: one prepared sync per stream. */
export interface PreparedPipeline {
  name: string;
  source: string;
  streams: PreparedSync[];
  workflowId: string;
  taskQueue: string;
  maxParallelStreams: number;
  warnings: string[];
  customSources: CustomSource[];
}

/**
 * Reads and validates a pipeline file of any kind: a {@link PreparedSync} for
 * one `source.stream`, a {@link PreparedPipeline} for `source.streams`.
 */
export async function preparePipeline(request: SyncRequest): Promise<PreparedSync | PreparedPipeline> {
  const definition = typeof request.config === 'string' ? await readPipelineDefinition(request.config) : parsePipelineDefinition(request.config);
  const customSources = [...(request.customSources ?? []), ...(await loadCustomCode(request.customSourceFiles ?? []))];
  const streams = definition.pipelines.map((pipeline) => prepareStream(pipeline, request, customSources));
  if (definition.streams === null) return streams[0]!;
  const first = streams[0]!;
  return {
    name: definition.name,
    source: first.pipeline.source.name,
    streams,
    workflowId: pipelineWorkflowId(first.pipeline),
    taskQueue: first.taskQueue,
    maxParallelStreams: definition.engine.max_parallel_streams,
    warnings: [...new Set(streams.flatMap((stream) => stream.warnings))],
    customSources,
  };
}

function prepareStream(pipeline: PipelineConfig, request: SyncRequest, customSources: CustomSource[]): PreparedSync {
  if (request.reset) pipeline.source.reset = true;
  if (request.forceIgnoreCheckpoint) pipeline.source.force_ignore_checkpoint = true;
  const resolved = resolvePipeline(pipeline, customSources);
  const env = request.env ?? process.env;
  const referencing = { source: pipeline.source, destination: pipeline.destination, ...(pipeline.alerting ? { alerting: pipeline.alerting } : {}) };
  if (request.checkSecrets ?? true) checkSecretReferences(referencing, env, '', request.allowEnv);
  checkSecretHosts(referencing, env, request.allowEnv);
  const literal = findLiteralPipelineCredentials(pipeline, resolved.sourceClass.getConfigClass());
  const described = literal.map((path) => `${path} is written in the config: it would be stored in Temporal's history and memo.`);
  if (literal.length > 0 && !request.allowLiteralSecrets) {
    const variable = `BIZON_ENV_${literal[0]!.split('.').at(-1)!.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
    throw new ConfigError(
      `${described.join(' ')} Write a reference instead — ${literal[0]!.split('.').at(-1)}: ${variable}, with the value in that environment variable (or a line of ./.env), or \${env://NAME} inside a longer value — or, if it is not a secret, pass --allow-literal-secrets`,
    );
  }
  const warnings = described;
  return {
    warnings,
    customSources,
    pipeline,
    resolved,
    input: { pipeline, plan: planSync(resolved) },
    workflowId: syncWorkflowId(pipeline),
    taskQueue: request.taskQueue ?? pipeline.engine.temporal.task_queue,
  };
}


/** The memo of a pipeline workflow, as the Web UI shows it (and a second start compares its config with). */
export function pipelineMemo(prepared: PreparedPipeline): Record<string, unknown> {
  return {
    bizon_pipeline: prepared.name,
    bizon_source: prepared.source,
    bizon_streams: prepared.streams.map((stream) => stream.pipeline.source.stream),
    // Its first stream's config, as written (secret references, never values): every stream's differs only in `stream`.
    bizon_config: prepared.streams[0]!.input.pipeline,
  };
}

/** The search attributes of a pipeline workflow: its name and source (its streams' syncs carry their stream). */
export function pipelineSearchAttributes(prepared: PreparedPipeline): SearchAttributePair[] {
  return [
    { key: BIZON_PIPELINE, value: prepared.name },
    { key: BIZON_SOURCE, value: prepared.source },
  ];
}

/**
 * What a workflow needs to start every stream's sync as its child: each stream's input, memo and search
 * attributes. Plain JSON; a pipeline of one `source.stream` is a pipeline of that one stream.
 */
export function pipelineWorkflowInput(prepared: PreparedSync | PreparedPipeline): PipelineWorkflowInput {
  const streams = 'streams' in prepared ? prepared.streams : [prepared];
  return {
    name: streams[0]!.pipeline.name,
    source: streams[0]!.pipeline.source.name,
    maxParallelStreams: 'streams' in prepared ? prepared.maxParallelStreams : 1,
    streams: streams.map((stream) => ({
      stream: stream.pipeline.source.stream,
      workflowId: stream.workflowId,
      sync: stream.input,
      memo: { ...initialMemo(stream) },
      searchAttributes: plainSyncSearchAttributes(stream.pipeline),
    })),
  };
}
