import { NonRetryableError } from '../errors.ts';
import { validateIteration, validateSlices, type ValidatedRecord } from './iteration.ts';
import type { Pagination, SourceIncrementalState, SourceSlice } from './models.ts';
import { slicingOf, type AbstractSource, type SourceClass } from './source.ts';

/** One page as a sync would see it: validated, with the pagination it was asked with. */
export interface ReadSourcePage {
  /** The page's number (within its slice, when `slice` is set), from 1. */
  iteration: number;
  /** The slice the page belongs to (its index and descriptor), for a source with `getSlices()`. */
  slice?: { index: number; slice: SourceSlice };
  /** The pagination `get()` was called with (`undefined` on a stream's or slice's first page). */
  pagination: Pagination | undefined;
  records: ValidatedRecord[];
  /** What the source returned for the next page; `null` ends the stream (or slice). */
  nextPagination: Pagination | null;
  /** How long the call took. */
  ms: number;
}

/** Options of {@link readSourcePages}. */
export interface ReadSourcePagesOptions {
  /** The source's name and stream, to name them in errors as a sync does. */
  source: string;
  stream: string;
  /** Stop after this many pages (all slices together); unset: until the source is exhausted. */
  maxPages?: number;
  /** Call `getRecordsAfter(state)` instead of `get()`, as an incremental sync with a watermark does. */
  incrementalState?: SourceIncrementalState;
}

/**
 * Pages a source directly, without Temporal: `get()` (or `getRecordsAfter()`)
 * once per page, each iteration validated exactly as a sync validates it, so
 * a malformed page throws the error a sync would fail with. Slices, when the
 * source has `getSlices()`, are read one after the other.
 */
export async function* readSourcePages(source: AbstractSource, options: ReadSourcePagesOptions): AsyncGenerator<ReadSourcePage> {
  const slices = typeof source.getSlices === 'function' && slicingOf(source.constructor as SourceClass, source.config)
    ? validateSlices(await source.getSlices(options.incrementalState ?? null, { runStartedAt: options.incrementalState?.runStartedAt ?? new Date() }), { source: options.source, stream: options.stream }).map((slice, index) => ({ index, slice }))
    : [undefined];
  let pages = 0;
  for (const slice of slices) {
    let pagination: Pagination | undefined;
    for (let iteration = 1; ; iteration++) {
      if (options.maxPages !== undefined && pages >= options.maxPages) return;
      const started = Date.now();
      const raw = options.incrementalState ? await callGetRecordsAfter(source, options.incrementalState, pagination, slice?.slice) : await source.get(pagination, slice?.slice);
      const page = validateIteration(raw, { source: options.source, stream: options.stream, iteration, ...(slice ? { slice: slice.index } : {}) });
      pages++;
      yield { iteration, ...(slice ? { slice } : {}), pagination, records: page.records, nextPagination: page.nextPagination, ms: Date.now() - started };
      if (!page.nextPagination) break;
      pagination = page.nextPagination;
    }
  }
}

/** `getRecordsAfter()` of a source, refused clearly (not retried) when the source has none. */
export async function callGetRecordsAfter(source: AbstractSource, state: SourceIncrementalState, pagination: Pagination | undefined, slice: SourceSlice | undefined) {
  if (typeof source.getRecordsAfter !== 'function') {
    throw new NonRetryableError(`${source.constructor.name} has no getRecordsAfter(); it cannot run with sync_mode: incremental`);
  }
  return source.getRecordsAfter(state, pagination, slice);
}
