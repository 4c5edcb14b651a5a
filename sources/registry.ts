import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { createJiti } from 'jiti';
import { DummySource } from './dummy.ts';
import { RestSource } from './rest.ts';
import { ConfigError } from '../errors.ts';
import type { SourceClass } from './source.ts';

/** The sources that ship with bizon-temporal, by name. */
export const BUILTIN_SOURCES: Readonly<Record<string, SourceClass>> = {
  dummy: DummySource as unknown as SourceClass,
  rest: RestSource as unknown as SourceClass,
};

/** In `streams()`: the source's streams are whatever its config describes (the `rest` source's endpoints). */
export const ANY_STREAM = '*';

/** A source class found in a `--custom-source` file. */
export interface CustomSource {
  file: string;
  exportName: string;
  cls: SourceClass;
}

const require = createRequire(import.meta.url);
/** The entry point of this copy of bizon-temporal: index.ts beside the sources, index.js in the compiled dist/. */
const SDK_ENTRY = fileURLToPath(new URL(`../index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url));

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

let loader: Promise<ReturnType<typeof createJiti>> | undefined;

/**
 * jiti loads `.ts` files from anywhere, with `bizon-temporal`, `zod` and `axios` mapped to this installation's copies.
 * Loaded on first use: a command with no custom code does not pay for it (~80 ms of CPU).
 */
function sourceLoader(): Promise<ReturnType<typeof createJiti>> {
  loader ??= import('jiti').then(({ createJiti }) => createJiti(import.meta.url, {
    interopDefault: true,
    moduleCache: true,
    alias: {
      'bizon-temporal': SDK_ENTRY,
      zod: packageDir('zod'),
      axios: packageDir('axios'),
    },
  }));
  return loader;
}

/** Duck-typed, because a custom file gets its own copy of the SDK classes through the loader. */
export function isSourceClass(value: unknown): value is SourceClass {
  if (typeof value !== 'function') return false;
  const candidate = value as unknown as { streams?: unknown; prototype?: { get?: unknown } };
  return typeof candidate.streams === 'function' && typeof candidate.prototype?.get === 'function';
}

/** Imports a custom file (`.ts`, `.mts`, `.js`, `.mjs`) given with `--custom-source`; returns its path and exports. */
export async function importCustomFile(file: string): Promise<{ file: string; exports: Record<string, unknown> }> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) {
    throw new ConfigError(`Custom source file not found: ${absolute} (given as --custom-source ${file})`);
  }
  try {
    return { file: absolute, exports: (await (await sourceLoader()).import(absolute)) as Record<string, unknown> };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`Could not load custom source file ${absolute}: ${reason}`, { cause: error });
  }
}

/** The source classes among a custom file's exports. */
export function customSourcesOf(file: string, exports: Record<string, unknown>): CustomSource[] {
  const found: CustomSource[] = [];
  for (const [exportName, value] of Object.entries(exports)) {
    if (isSourceClass(value) && !found.some((source) => source.cls === value)) found.push({ file, exportName, cls: value });
  }
  return found;
}

/** Refuses two custom sources that claim the same explicit `sourceName`. */
export function checkCustomSources(sources: readonly CustomSource[]): void {
  checkExplicitNames(sources);
}

function streamsOf(cls: SourceClass): string[] {
  const streams = cls.streams();
  if (!Array.isArray(streams) || streams.some((stream) => typeof stream !== 'string')) {
    throw new ConfigError(`${cls.name}.streams() must return an array of stream names`);
  }
  return streams;
}

/** File names that say nothing about the source (`examples/page/source.ts`), so they do not name it. */
const GENERIC_FILE_NAMES = new Set(['source', 'sources', 'index', 'main']);

function snakeCase(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')
    .toLowerCase();
}

/**
 * The names that choose a custom source in `source.name`: its static
 * `sourceName` alone when it has one; else its class name in snake_case, with
 * and without a `Source` suffix, and its file name.
 */
export function sourceNamesOf(source: CustomSource): string[] {
  if (typeof source.cls.sourceName === 'string' && source.cls.sourceName !== '') return [source.cls.sourceName];
  const className = snakeCase(source.cls.name);
  const fileName = snakeCase(path.basename(source.file).replace(/\.[^.]+$/, ''));
  const names = [className, className.replace(/_?source$/, ''), GENERIC_FILE_NAMES.has(fileName) ? '' : fileName];
  return [...new Set(names.filter(Boolean))];
}

/** Two custom sources may not claim the same explicit `sourceName`: reported when the files are loaded, not per sync. */
function checkExplicitNames(sources: readonly CustomSource[]): void {
  const byName = new Map<string, CustomSource[]>();
  for (const source of sources) {
    const name = source.cls.sourceName;
    if (typeof name === 'string' && name !== '') byName.set(name, [...(byName.get(name) ?? []), source]);
  }
  for (const [name, claimants] of byName) {
    if (claimants.length > 1) {
      const list = claimants.map((source) => `${source.exportName} (${source.file})`).join(', ');
      throw new ConfigError(`Several custom sources are named '${name}': ${list}. Give each its own static sourceName.`);
    }
  }
}

function describeCustom(source: CustomSource): string {
  return `${source.exportName} ('${sourceNamesOf(source)[0]}', streams: ${streamsOf(source.cls).join(', ')})`;
}

/**
 * Picks the class that serves `source.name` / `source.stream`: the custom
 * source of that name (see {@link sourceNamesOf}), else the built-in source of
 * that name, else — for configs written before sources had names — the one
 * custom source that offers the stream. Errors list what is available.
 */
export function resolveSourceClass(name: string, stream: string, customSources: readonly CustomSource[]): SourceClass {
  const named = customSources.filter((source) => sourceNamesOf(source).includes(name));
  if (named.length > 0) {
    const serving = named.filter((source) => streamsOf(source.cls).includes(stream));
    if (serving.length === 1) return serving[0]!.cls;
    if (serving.length === 0) {
      throw new ConfigError(`Source '${name}' has no stream '${stream}'. Available streams: ${named.map((source) => streamsOf(source.cls).join(', ')).join('; ')}.`);
    }
    throw new ConfigError(`Several custom sources are named '${name}' and offer stream '${stream}': ${serving.map(describeCustom).join(', ')}. Give each its own static sourceName.`);
  }
  const builtin = BUILTIN_SOURCES[name];
  if (builtin) {
    if (!streamsOf(builtin).includes(stream) && !streamsOf(builtin).includes(ANY_STREAM)) {
      throw new ConfigError(`Source '${name}' has no stream '${stream}'. Available streams: ${streamsOf(builtin).join(', ')}.`);
    }
    return builtin;
  }
  const offering = customSources.filter((source) => streamsOf(source.cls).includes(stream));
  if (offering.length === 1) return offering[0]!.cls;
  if (offering.length > 1) {
    throw new ConfigError(`No custom source is named '${name}', and several offer stream '${stream}': ${offering.map(describeCustom).join(', ')}. Set source.name to one of these names.`);
  }
  if (customSources.length > 0) {
    const available = customSources.map(describeCustom).join('; ');
    throw new ConfigError(`Source '${name}' has no stream '${stream}'. Available sources: ${available}.`);
  }
  throw new ConfigError(
    `Unknown source '${name}'. Built-in sources: ${Object.keys(BUILTIN_SOURCES).join(', ')}. For your own source, pass its file: --custom-source ./${name}.ts`,
  );
}

/** Whether a source class implements `getRecordsAfter` (supports incremental syncs). */
export function supportsIncremental(cls: SourceClass): boolean {
  return typeof (cls.prototype as { getRecordsAfter?: unknown }).getRecordsAfter === 'function';
}
