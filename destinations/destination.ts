import { createHash } from 'node:crypto';
import type { ValidatedRecord } from '../sources/iteration.ts';

/** The columns every table gets, whatever the record schema: a field may not take one of these names. */
export const BIZON_COLUMNS = ['bizon_id', 'bizon_extracted_at', 'bizon_loaded_at', 'source_record_id', 'source_timestamp', 'source_data', 'destination_id'] as const;

/** One output row, with bizon's columns. */
export interface DestinationRow {
  bizon_id: string;
  bizon_extracted_at: string;
  bizon_loaded_at: string;
  source_record_id: string;
  source_timestamp: string;
  source_data: Record<string, unknown>;
  destination_id: string;
}

/** One page to write: identified by (sync run, iteration), which makes the write idempotent. */
export interface WriteBatch {
  syncRunId: string;
  /** The page's number (within its slice, when `slice` is set). */
  iteration: number;
  /** The slice the page belongs to, for a source with `getSlices()`: pages are identified by (slice, iteration). */
  slice?: number;
  extractedAt: Date;
  records: readonly ValidatedRecord[];
}

/** What staging a page wrote. */
export interface WriteResult {
  /** Bytes written for the page (files, COPY data, lines), counted by `bizon_bytes_written_total`. */
  bytes: number;
}

/** How `finalize` publishes: a full refresh replaces the output, an incremental sync appends to it. */
export type PublishMode = 'replace' | 'append';

/** What a finalized sync published, per output. */
export interface PublishedOutput {
  destinationId: string;
  records: number;
  location: string;
  /** Staged records the destination's `schema_contract` left out (discard_row); absent when none. */
  discarded?: number;
}

/**
 * A place records go. Every method may be called more than once for the same
 * sync run (activities are retried), and must give the same result.
 */
export interface Destination {
  /** Fails when the destination cannot be written (missing directory, no permission, ...). */
  checkConnection(): Promise<void>;
  /** Stages one page; writing the same (syncRunId, iteration) again replaces it. Returns the bytes written, if it counts them. */
  write(batch: WriteBatch): Promise<WriteResult | void>;
  /** Publishes every staged page of the run at once. */
  finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]>;
  /**
   * Optional: removes the record of a published run that makes a retried `finalize` return the same result,
   * called once the workflow holds that result (so `finalize` never runs again for the run).
   */
  forgetPublished?(run: { syncRunId: string }): Promise<void>;
  /** Discards what the run staged. */
  abort(run: { syncRunId: string }): Promise<void>;
  /**
   * Optional housekeeping, called before a sync starts: removes what syncs
   * that published more than `olderThanMs` ago left behind (staging kept so a
   * retried publish could finish).
   */
  prune?(olderThanMs: number): Promise<void>;
  /** Optional: lets go of connections when the worker forgets the sync (after publishing or discarding). */
  close?(): Promise<void>;
}

/** A deterministic id per (run, slice, iteration, position), so a rewritten page keeps its ids. */
function bizonId(syncRunId: string, slice: number | undefined, iteration: number, index: number): string {
  const page = slice === undefined ? `${iteration}` : `s${slice}:${iteration}`;
  const hex = createHash('sha256').update(`${syncRunId}:${page}:${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Turns a page into rows, routing each record to its own `destinationId` or the default one. */
export function toRows(batch: WriteBatch, defaultDestinationId: string, loadedAt = new Date()): DestinationRow[] {
  const extractedAt = batch.extractedAt.toISOString();
  const loaded = loadedAt.toISOString();
  return batch.records.map((record, index) => ({
    bizon_id: bizonId(batch.syncRunId, batch.slice, batch.iteration, index),
    bizon_extracted_at: extractedAt,
    bizon_loaded_at: loaded,
    source_record_id: record.id,
    source_timestamp: record.timestamp ?? extractedAt,
    source_data: record.data,
    destination_id: record.destinationId ?? defaultDestinationId,
  }));
}
