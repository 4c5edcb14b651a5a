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

/**
 * The JSON Schema (draft 2020-12) of a pipeline file for the sources and destinations known here: the
 * built-in ones and those of the `--custom-source` files loaded. Editors validate and complete a config with
 * it; every key's description is the `.describe()` of its schema.
 */
export function pipelineJsonSchema(customSources: readonly CustomSource[]): Record<string, unknown> {
  const sources = [
    ...Object.entries(BUILTIN_SOURCES).map(([name, cls]) => sourceBlock(cls, [name])),
    ...customSources.map((source) => sourceBlock(source.cls, sourceNamesOf(source))),
  ];
  const destinations = [...BUILTIN_DESTINATION_NAMES, ...registeredDestinationNames()].map((name) =>
    z.strictObject({ name: z.literal(name).describe('Destination name'), config: destinationDefinition(name).config.optional().describe("The destination's own settings") }),
  );
  const file = PipelineConfig.extend({
    source: (sources.length === 1 ? sources[0]! : z.union(sources as [z.ZodType, z.ZodType, ...z.ZodType[]])).describe('Where records come from'),
    destination: (destinations.length === 1 ? destinations[0]! : z.union(destinations as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])).describe('Where records go'),
  });
  return { ...z.toJSONSchema(file, { io: 'input', unrepresentable: 'any' }), title: 'bizon-temporal pipeline' };
}
