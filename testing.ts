/**
 * bizon-temporal/testing: run a source page by page in a test — against
 * responses recorded with `bizon dry-run --record <dir>`, or a live API —
 * with every page validated exactly as a sync validates it.
 */
import { loadCustomCode } from './config/custom-code.ts';
import { parseWithSchema } from './config/pipeline.ts';
import { findSecretReferences, resolveSecretReferences } from './config/secrets.ts';
import type { ValidatedRecord } from './sources/iteration.ts';
import type { Pagination, SourceIncrementalState } from './sources/models.ts';
import { readSourcePages, type ReadSourcePage } from './sources/read-pages.ts';
import { readRecordings, replayResponses } from './sources/recording.ts';
import { resolveSourceClass } from './sources/registry.ts';
import type { SourceConfig } from './sources/config.ts';
import type { AbstractSource, SourceClass } from './sources/source.ts';

export type { ReadSourcePage } from './sources/read-pages.ts';
export type { ValidatedRecord } from './sources/iteration.ts';

/** Options of {@link testSource}. */
export interface TestSourceOptions {
  /** The source: its class, or the file that exports it (as given to `--custom-source`). */
  source: SourceClass | (Omit<SourceClass, 'prototype'> & { prototype: AbstractSource<SourceConfig> }) | string;
  /** The `source:` block of a pipeline (`name`, `stream`, the source's own keys); secret references resolved from `env`. */
  config: Record<string, unknown>;
  /** A directory of recordings (`bizon dry-run --record <dir>`): requests are answered from it, never the network. */
  recordings?: string;
  /** Read at most this many pages (default: until the source is exhausted). */
  pages?: number;
  /** Call `getRecordsAfter()` with this state instead of `get()`, as an incremental sync with a watermark does. */
  incrementalState?: SourceIncrementalState;
  /** Where secret references are resolved (default: `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** What {@link testSource} read. */
export interface TestSourceResult {
  pages: ReadSourcePage[];
  /** Every record of every page, in order. */
  records: ValidatedRecord[];
  /** The pagination of each page after the first, in order (what a sync would carry from page to page). */
  paginations: Array<Pagination | undefined>;
  /** The source instance, to look at its session or state. */
  instance: AbstractSource;
}

/**
 * Runs a source page by page without Temporal, as `bizon dry-run` does: the
 * config is checked by the source's config class, each page validated as a
 * sync validates it (a malformed page throws the sync's error).
 */
export async function testSource(options: TestSourceOptions): Promise<TestSourceResult> {
  const name = String(options.config.name ?? '');
  const stream = String(options.config.stream ?? '');
  const cls = typeof options.source === 'string' ? resolveSourceClass(name, stream, await loadCustomCode([options.source])) : (options.source as SourceClass);
  const env = options.env ?? process.env;
  const resolved = findSecretReferences(options.config).length > 0 ? resolveSecretReferences(options.config, env, 'source') : options.config;
  const config = parseWithSchema(cls.getConfigClass(), resolved, 'source config', ['source']);
  const instance = new (cls as unknown as new (config: unknown) => AbstractSource)(config);
  if (options.recordings) replayResponses(instance.session, readRecordings(options.recordings));
  const pages: ReadSourcePage[] = [];
  for await (const page of readSourcePages(instance, { source: name, stream, ...(options.pages ? { maxPages: options.pages } : {}), ...(options.incrementalState ? { incrementalState: options.incrementalState } : {}) })) {
    pages.push(page);
  }
  return { pages, records: pages.flatMap((page) => page.records), paginations: pages.slice(1).map((page) => page.pagination), instance };
}
