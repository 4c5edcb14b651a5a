/**
 * Where the next `get()` call starts: any JSON object the source chooses
 * (`{ page: 2 }`, `{ cursor: 'abc' }`). It is kept as durable workflow state,
 * so it must be plain JSON. An empty value (`{}`, `null` or `undefined`)
 * returned as `nextPagination` means "no more pages".
 */
export type Pagination = Record<string, unknown>;

/** One record extracted from the API. */
export interface SourceRecord {
  /** The record's id in the source; numbers are stored as strings. */
  id: string | number;
  /** The record itself: a JSON object. */
  data: Record<string, unknown>;
  /** When the record was last changed in the source. Defaults to the extraction time. */
  timestamp?: Date | string;
  /** Route this record to another output (file name, table) than the configured `destination_id`. */
  destinationId?: string;
}

/** What one `get()` call returns: a page of records and where the next page starts. */
export interface SourceIteration {
  records: SourceRecord[];
  /** Where the next call starts; `{}`, `null` or `undefined` ends the sync. */
  nextPagination: Pagination | null | undefined;
  /**
   * Optional state for the next incremental sync (bizon's `next_state`): a JSON object, at most 64 KB. The
   * last one a successful sync returned is kept with its watermark and handed to the next sync's
   * `getRecordsAfter()` as `state.state`.
   */
  nextState?: Record<string, unknown> | undefined;
}

/**
 * One part of a stream that can be read on its own, in parallel with the
 * others: a date range, a partition, an id range — any JSON object the source
 * chooses (`{ from: '2024-01-01', to: '2024-01-02' }`). `getSlices()` returns
 * them; `get(pagination, slice)` pages within one.
 */
export type SourceSlice = Record<string, unknown>;

/** What an incremental sync hands to `getRecordsAfter()`. */
export interface SourceIncrementalState {
  /** Start time of the last successful sync of this pipeline. */
  lastRun: Date;
  /**
   * The last `nextState` the last successful sync returned; when it returned none, bizon's own:
   * `{ last_run, max_cursor_value, records, pages }`.
   */
  state: Record<string, unknown>;
  /** The configured `cursor_field`, if any. */
  cursorField?: string;
  /**
   * When this sync started: it becomes the next watermark, so asking for the window `[lastRun, runStartedAt)`
   * never misses nor doubles a record changed while a sync runs.
   */
  runStartedAt?: Date;
}
