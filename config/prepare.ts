import { planSync, resolvePipeline, type ResolvedPipeline } from './resolve.ts';
import { parsePipelineConfig, parsePipelineDefinition, readPipelineYaml, type PipelineConfig } from './pipeline.ts';
import { ALLOW_ENV_VARIABLE, checkSecretHosts, checkSecretReferences, findLiteralPipelineCredentials, findSecretReferences, secretHoldingParts } from './secrets.ts';
import { BoundedCache, compileWork } from './compile-work.ts';
import { loadCustomCode } from './custom-code.ts';
import { ConfigError } from '../errors.ts';
import { pipelineWorkflowId, streamRunWorkflowId, syncWorkflowId } from '../engine/ids.ts';
import { BIZON_PIPELINE, BIZON_SOURCE, plainSyncSearchAttributes } from '../engine/search-attributes.ts';
import type { SearchAttributePair } from '@temporalio/common';
import type { CustomSource } from '../sources/registry.ts';
import type { PipelineWorkflowInput, SyncMemo, SyncWorkflowInput } from '../workflows/types.ts';
import type { BizonPipelineInput } from '../workflows/bizon-pipeline.ts';

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
  /** The stream's sync workflow. */
  workflowId: string;
  /** What bizon starts: `bizonPipeline` with the pipeline as written and the run's options, under `runWorkflowId`. */
  runInput: BizonPipelineInput;
  runWorkflowId: string;
  taskQueue: string;
  /** Problems that do not stop the sync (a literal credential in the config). */
  warnings: string[];
  /** Paths of the credentials written literally (refused unless `allowLiteralSecrets`). */
  literalCredentials: string[];
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
  const written = await pipelineAsWritten(request);
  const pipeline = parsePipelineConfig(written, typeof request.config === 'string' ? `config file ${request.config}` : undefined);
  const customSources = [...(request.customSources ?? []), ...(await loadCustomCode(request.customSourceFiles ?? []))];
  return prepareStream(pipeline, written, request, customSources);
}

/** The pipeline as the request gives it, not validated: a YAML file's content, or the object itself. */
async function pipelineAsWritten(request: SyncRequest): Promise<Record<string, unknown>> {
  return (typeof request.config === 'string' ? await readPipelineYaml(request.config) : request.config) as Record<string, unknown>;
}

/** The input of `bizonPipeline` for this request: the pipeline as written, and the options the request sets. */
function runInputOf(written: Record<string, unknown>, request: SyncRequest): BizonPipelineInput {
  return {
    pipeline: written,
    ...(request.reset ? { reset: true } : {}),
    ...(request.forceIgnoreCheckpoint ? { force_ignore_checkpoint: true } : {}),
    ...(request.allowLiteralSecrets ? { allow_literal_secrets: true } : {}),
  };
}

/** A validated pipeline with `source.streams`, ready to start: one prepared sync per stream. */
export interface PreparedPipeline {
  name: string;
  source: string;
  streams: PreparedSync[];
  /** The `bizonPipeline` run of all the streams. */
  workflowId: string;
  runInput: BizonPipelineInput;
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
  const written = await pipelineAsWritten(request);
  const customSources = [...(request.customSources ?? []), ...(await loadCustomCode(request.customSourceFiles ?? []))];
  const env = request.env ?? process.env;
  const key = JSON.stringify([
    written,
    request.taskQueue ?? null,
    request.reset === true,
    request.forceIgnoreCheckpoint === true,
    request.allowLiteralSecrets === true,
    request.checkSecrets ?? true,
    request.allowEnv ?? [],
  ]);
  const known = preparedPipelines.get(key);
  if (known && known.env === env && sameSources(known.customSources, customSources) && known.envSeen === envFingerprint(known.variables, env)) return known.prepared;
  const prepared = prepareDefinition(written, request, customSources);
  const streams = 'streams' in prepared ? prepared.streams : [prepared];
  const variables = [...new Set(streams.flatMap((stream) => findSecretReferences(secretHoldingParts(stream.pipeline)).map((reference) => reference.variable)))];
  preparedPipelines.set(key, { prepared, env, customSources, variables, envSeen: envFingerprint(variables, env) });
  return prepared;
}

/**
 * Pipelines this process prepared, by what they were prepared from: `bizon run`'s worker compiles the run the
 * command prepared a moment before, and a long-running worker the same scheduled pipeline every time, without
 * doing it again. An entry holds while the code, the environment object and what of it the pipeline reads stay.
 */
const preparedPipelines = new BoundedCache<string, { prepared: PreparedSync | PreparedPipeline; env: NodeJS.ProcessEnv; customSources: readonly CustomSource[]; variables: string[]; envSeen: string }>(64);

function sameSources(a: readonly CustomSource[], b: readonly CustomSource[]): boolean {
  return a.length === b.length && a.every((source, index) => source.cls === b[index]!.cls);
}

/** What of the environment a prepared pipeline depends on: which of its variables are set, and the allow-list. */
function envFingerprint(variables: readonly string[], env: NodeJS.ProcessEnv): string {
  return JSON.stringify([env[ALLOW_ENV_VARIABLE] ?? null, variables.map((variable) => env[variable] !== undefined)]);
}

function prepareDefinition(written: Record<string, unknown>, request: SyncRequest, customSources: CustomSource[]): PreparedSync | PreparedPipeline {
  compileWork.pipelinePreparations += 1;
  const definition = parsePipelineDefinition(written, typeof request.config === 'string' ? `config file ${request.config}` : undefined);
  const streams = definition.pipelines.map((pipeline) => prepareStream(pipeline, definition.streams === null ? written : oneStreamOf(written, pipeline.source.stream), request, customSources));
  if (definition.streams === null) return streams[0]!;
  const first = streams[0]!;
  return {
    name: definition.name,
    source: first.pipeline.source.name,
    streams,
    workflowId: pipelineWorkflowId(first.pipeline),
    runInput: { ...runInputOf(written, request), overlap: 'wait' },
    taskQueue: first.taskQueue,
    maxParallelStreams: definition.engine.max_parallel_streams,
    warnings: [...new Set(streams.flatMap((stream) => stream.warnings))],
    customSources,
  };
}

/** A pipeline file of several streams, as written, narrowed to one of them. */
function oneStreamOf(written: Record<string, unknown>, stream: string): Record<string, unknown> {
  const { streams: _streams, ...source } = written.source as Record<string, unknown>;
  return { ...written, source: { ...source, stream } };
}

function prepareStream(pipeline: PipelineConfig, written: Record<string, unknown>, request: SyncRequest, customSources: CustomSource[]): PreparedSync {
  if (request.reset) pipeline.source.reset = true;
  if (request.forceIgnoreCheckpoint) pipeline.source.force_ignore_checkpoint = true;
  const resolved = resolvePipeline(pipeline, customSources);
  const env = request.env ?? process.env;
  if (request.checkSecrets ?? true) checkSecretReferences(secretHoldingParts(pipeline), env, '', request.allowEnv);
  checkSecretHosts(pipeline, env, request.allowEnv);
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
    literalCredentials: literal,
    customSources,
    pipeline,
    resolved,
    input: { pipeline, plan: planSync(resolved) },
    workflowId: syncWorkflowId(pipeline),
    runInput: runInputOf(written, request),
    runWorkflowId: streamRunWorkflowId(pipeline),
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
