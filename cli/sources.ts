import { writeFileSync } from 'node:fs';
import { loadCustomCode } from '../config/custom-code.ts';
import { bizonPipelineJsonSchemas, pipelineJsonSchema } from '../config/json-schema.ts';
import { ANY_STREAM, BUILTIN_SOURCES, resolveSourceClass, sourceNamesOf, supportsIncremental } from '../sources/registry.ts';

const streamsText = (streams: string[]) => (streams.includes(ANY_STREAM) ? 'the endpoints of its config' : streams.join(', '));

/** `bizon source list` */
export async function sourceListCommand(options: { customSource: string[] }): Promise<number> {
  for (const [name, cls] of Object.entries(BUILTIN_SOURCES)) process.stdout.write(`${name}\tbuilt-in\tstreams: ${streamsText(cls.streams())}\n`);
  for (const source of await loadCustomCode(options.customSource)) {
    process.stdout.write(`${sourceNamesOf(source).join(' | ')}\t${source.exportName} in ${source.file}\tstreams: ${streamsText(source.cls.streams())}\n`);
  }
  return 0;
}

/** `bizon stream list <source>` */
export async function streamListCommand(sourceName: string, options: { customSource: string[] }): Promise<number> {
  const customSources = await loadCustomCode(options.customSource);
  const candidates = customSources.length ? customSources.map((source) => source.cls) : [resolveSourceClass(sourceName, BUILTIN_SOURCES[sourceName]?.streams()[0] ?? '', [])];
  for (const cls of candidates) {
    if (cls.streams().includes(ANY_STREAM)) process.stdout.write(`(the endpoints of its config)\t${supportsIncremental(cls) ? 'full_refresh, incremental' : 'full_refresh'}\n`);
    else for (const stream of cls.streams()) process.stdout.write(`${stream}\t${supportsIncremental(cls) ? 'full_refresh, incremental' : 'full_refresh'}\n`);
  }
  return 0;
}


/** Which schema `bizon schema` prints. */
export type SchemaKind = 'pipeline' | 'workflow-input' | 'workflow-result';

/**
 * `bizon schema`: the JSON Schema of a pipeline file, for editors (YAML completion and validation); or of the
 * `bizonPipeline` workflow's input or result, for a client in any language.
 */
export async function schemaCommand(what: SchemaKind, options: { customSource: string[]; output?: string }): Promise<number> {
  const customSources = await loadCustomCode(options.customSource);
  const json = what === 'pipeline' ? pipelineJsonSchema(customSources) : bizonPipelineJsonSchemas(customSources)[what === 'workflow-input' ? 'input' : 'result'];
  const schema = `${JSON.stringify(json, null, 2)}\n`;
  if (options.output) {
    writeFileSync(options.output, schema);
    process.stderr.write(what === 'pipeline' ? `Wrote ${options.output}: put "# yaml-language-server: $schema=${options.output}" as the first line of a pipeline file\n` : `Wrote ${options.output}\n`);
  } else process.stdout.write(schema);
  return 0;
}
