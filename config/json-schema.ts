import { z } from 'zod';
import { BUILTIN_DESTINATION_NAMES, destinationDefinition, registeredDestinationNames } from '../destinations/index.ts';
import { ANY_STREAM, BUILTIN_SOURCES, sourceNamesOf, type CustomSource } from '../sources/registry.ts';
import type { SourceClass } from '../sources/source.ts';
import { PipelineConfig } from './pipeline.ts';

/** A source's config as a pipeline file writes it: its own keys, its names, and `stream` or `streams`. */
function sourceBlock(cls: SourceClass, names: readonly string[]): z.ZodType {
  const streams = cls.streams() as [string, ...string[]];
  const config = cls.getConfigClass() as unknown as z.ZodObject;
  // A source whose streams its config describes (ANY_STREAM) takes any name here; its config checks it.
  const stream = streams.includes(ANY_STREAM) ? z.string().min(1) : z.enum(streams);
  // safeExtend: a config with refinements (the rest source's) keeps them.
  return config.safeExtend({
    name: z.enum(names as [string, ...string[]]).describe('Source name'),
    stream: stream.optional().describe(`The stream to sync${streams.includes(ANY_STREAM) ? '' : `: ${streams.join(', ')}`} (or list several in streams)`),
    streams: z.array(stream).min(1).optional().describe('Several streams, synced in parallel, each the sync it would be alone'),
  });
}

/** The zod schema of a pipeline file for the sources and destinations known here (see {@link pipelineJsonSchema}). */
function pipelineFileSchema(customSources: readonly CustomSource[]): z.ZodType {
  const sources = [
    ...Object.entries(BUILTIN_SOURCES).map(([name, cls]) => sourceBlock(cls, [name])),
    ...customSources.map((source) => sourceBlock(source.cls, sourceNamesOf(source))),
  ];
  const destinations = [...BUILTIN_DESTINATION_NAMES, ...registeredDestinationNames()].map((name) =>
    z.strictObject({ name: z.literal(name).describe('Destination name'), config: destinationDefinition(name).config.optional().describe("The destination's own settings") }),
  );
  return PipelineConfig.extend({
    source: (sources.length === 1 ? sources[0]! : z.union(sources as [z.ZodType, z.ZodType, ...z.ZodType[]])).describe('Where records come from'),
    destination: (destinations.length === 1 ? destinations[0]! : z.union(destinations as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])).describe('Where records go'),
  });
}

/**
 * The JSON Schema (draft 2020-12) of a pipeline file for the sources and destinations known here: the
 * built-in ones and those of the `--custom-source` files loaded. Editors validate and complete a config with
 * it; every key's description is the `.describe()` of its schema.
 */
export function pipelineJsonSchema(customSources: readonly CustomSource[]): Record<string, unknown> {
  return { ...z.toJSONSchema(pipelineFileSchema(customSources), { io: 'input', unrepresentable: 'any' }), title: 'bizon-temporal pipeline' };
}

/** The input of the `bizonPipeline` workflow (workflows/bizon-pipeline.ts checks the same at its start). */
function bizonPipelineInputSchema(customSources: readonly CustomSource[]) {
  return z.strictObject({
    pipeline: pipelineFileSchema(customSources).describe('The pipeline file as JSON: exactly what the YAML says, secret references only'),
    reset: z.boolean().optional().describe('As bizon run --reset: re-read everything, replace the destination, make this run the new watermark'),
    force_ignore_checkpoint: z.boolean().optional().describe('As bizon run --force-ignore-checkpoint: start from page one even if the last run failed and left a checkpoint'),
    max_iterations: z.number().int().positive().optional().describe('Stop each stream after this many pages (overrides source.max_iterations)'),
    overlap: z.enum(['skip', 'wait']).optional().describe("When a stream's sync is already running: skip the stream (default), or wait for it and then run"),
    allow_literal_secrets: z.boolean().optional().describe('As bizon run --allow-literal-secrets: run although credentials are written literally (they are stored in history)'),
  });
}

const SyncResultSchema = z.object({
  pipeline: z.string(),
  source: z.string(),
  stream: z.string(),
  syncRunId: z.string().describe('Identifies the sync across continue-as-new'),
  iterations: z.number().int().describe('Pages read'),
  records: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string(),
  runs: z.number().int().describe('Workflow runs the sync used (continue-as-new)'),
  outputs: z.array(z.object({ destinationId: z.string(), records: z.number().int(), location: z.string() })).describe('What was published, per destination id'),
  lastRun: z.string().describe('The watermark this run leaves: its start time'),
  maxCursorValue: z.union([z.string(), z.number(), z.null()]),
  incrementalSince: z.string().nullable(),
  incrementalFullRead: z.boolean(),
  resumedFrom: z.object({ iteration: z.number().int(), syncRunId: z.string() }).nullable().describe('Set when this sync continued a failed or cancelled one'),
  stoppedBy: z.enum(['end_of_source', 'max_iterations']),
  sourceMs: z.number().optional(),
  pagesPerActivity: z.number().int().optional(),
  slices: z.number().int().optional(),
});

/** What `bizonPipeline` returns, and its `pipelineProgress` query answers (workflows/types.ts PipelineResult). */
const PipelineResultSchema = z.object({
  name: z.string().describe('The pipeline name'),
  source: z.string(),
  streams: z.array(
    z.object({
      stream: z.string(),
      workflowId: z.string().describe("The stream's sync workflow"),
      runId: z.string().optional().describe('Its first run, once this pipeline started it'),
      status: z.enum(['waiting', 'running', 'succeeded', 'failed', 'cancelled', 'skipped']),
      result: SyncResultSchema.nullable(),
      error: z.string().nullable().describe('Why it failed (the sync\'s own failure message)'),
    }),
  ),
});

/**
 * The JSON Schemas of the `bizonPipeline` workflow, for clients in any language: its input (with the pipeline file
 * of the sources known here) and its result (also the details of its failure when a stream did not succeed).
 */
export function bizonPipelineJsonSchemas(customSources: readonly CustomSource[]): { input: Record<string, unknown>; result: Record<string, unknown> } {
  return {
    input: { ...z.toJSONSchema(bizonPipelineInputSchema(customSources), { io: 'input', unrepresentable: 'any' }), title: 'bizonPipeline workflow input' },
    result: { ...z.toJSONSchema(PipelineResultSchema, { io: 'output', unrepresentable: 'any' }), title: 'bizonPipeline workflow result' },
  };
}
