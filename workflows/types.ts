/**
 * Plain-JSON shapes that cross the workflow boundary. Types only: the
 * workflow bundle imports nothing else from outside `workflows/`.
 */
import type { PipelineConfig } from '../config/pipeline.ts';
import type { PublishedOutput } from '../destinations/destination.ts';
import type { Pagination } from '../sources/models.ts';
import type { Duration } from '@temporalio/common';

/** A Temporal duration: milliseconds or a string such as `1s`. */
export type DurationValue = Duration;

/** Settings the workflow needs, computed by the client with every default applied. */
export interface SyncPlan {
  syncMode: 'full_refresh' | 'incremental';
  maxIterations: number | null;
  retryLimit: number;
  retry: { initialInterval: DurationValue; backoffCoefficient: number; maximumInterval: DurationValue };
  /**
   * `engine.retry.max_elapsed` plus `page_timeout`, in ms: the hard cap of one activity with all its attempts.
   * (The budget itself is enforced by the activity, so the sync fails with the last real error.)
   */
  activityDeadlineMs: number | null;
  pageTimeout: DurationValue;
  heartbeatTimeout: DurationValue;
  /** Page activities per workflow run before it continues as new. */
  continueAsNewEvery: number;
  /**
   * Pages one activity reads (`engine.pages_per_activity`); absent in plans made before batching (1).
   * With more than one, the sync calls `extractPages`, else `extractPage`.
   */
  pagesPerActivity?: number;
  /** `engine.activity_time_budget` in ms: a batch starts no new page after this long. */
  activityTimeBudgetMs?: number;
  /** `engine.page_activity: local`: each page is a local activity of the sync's worker. */
  localPages?: boolean;
  /** The source implements `getSlices()`: the sync plans slices and pages them in parallel. */
  sliced?: boolean;
  /** `engine.max_parallel_slices`. */
  maxParallelSlices?: number;
  /** `engine.publish: append`: every sync appends, a full read too (a backfill). */
  appendOnly?: boolean;
  /** Pages between two checkpoints recorded in the memo. */
  checkpointEvery: number;
  /** Failure types that fail the sync at once instead of being retried. */
  nonRetryableErrorTypes: string[];
  /**
   * Set when `api_config.requests_per_second` is: pages run on this task queue, which every worker
   * polls at that rate, so the cap holds across the fleet.
   */
  rateLimit: { requestsPerSecond: number } | null;
  /** Field of a record holding its change time; its greatest value becomes `max_cursor_value`. */
  cursorField: string | null;
  /** Re-read everything, replace the destination, and make this run the new watermark. */
  reset: boolean;
  /** Start from the first page even if the last run of this sync failed and left a checkpoint. */
  forceIgnoreCheckpoint: boolean;
  /** The stream's state workflow, where watermark and checkpoints are kept beyond history retention. */
  streamState: { workflowId: string; key: StreamStateInput['key'] };
}

/** Where a sync stands; carried from one workflow run to the next at continue-as-new. */
export interface SyncCheckpoint {
  /** Identifies the sync across continue-as-new; destination staging is keyed by it. */
  syncRunId: string;
  startedAt: string;
  /** Pages done so far. */
  iteration: number;
  /** Where the next page starts: `null` on the first page (and once `done`). */
  pagination: Pagination | null;
  /** The source has no more pages: the last one returned an empty `nextPagination`. Only publishing is left. */
  done: boolean;
  records: number;
  total: number | null;
  /** How many workflow runs this sync has used (1 = no continue-as-new yet). */
  runs: number;
  /** The state handed to `getRecordsAfter()`; null = read everything with `get()`. */
  incrementalState: IncrementalStateJson | null;
  /** Greatest `cursor_field` value seen so far. */
  maxCursorValue: CursorValue | null;
  /** The last `nextState` the source returned (bizon's `next_state`), if any. */
  nextState?: Record<string, unknown>;
  /** Set when this sync continued a failed one: the page it resumed after. */
  resumedFrom: { iteration: number; syncRunId: string } | null;
  /** Milliseconds spent inside the source's `get()` calls so far (absent in checkpoints made before it was measured). */
  sourceMs?: number;
  /**
   * Where each slice stands, for a source with `getSlices()` (absent otherwise). `iteration`, `records`
   * and `done` above are then the sums over slices.
   */
  slices?: SliceState[];
}

/** One slice of a sliced stream: its descriptor and its own pagination. */
export interface SliceState {
  /** Position in `getSlices()`'s answer: names the slice's staged pages. */
  index: number;
  slice: Record<string, unknown>;
  /** Pages of this slice done so far. */
  iteration: number;
  pagination: Pagination | null;
  done: boolean;
  records: number;
  /**
   * For a slice with a `partition` key, read incrementally: that partition's own watermark (ISO) — its pages call
   * `getRecordsAfter()` from there —, or null when the partition was never read (its pages call `get()`: all of it).
   */
  since?: string | null;
}

/**
 * The watermark of each partition of a stream (a parent of a dependent stream, or any slice with a `partition` key):
 * the partitions read by one sync, listed under its start time (ISO). Grouped so each key is written once.
 */
export type PartitionWatermarks = Record<string, string[]>;

/** A `cursor_field` value: compared as numbers, else as strings (ISO-8601 timestamps order correctly). */
export type CursorValue = string | number;

/** `SourceIncrementalState` as plain JSON. */
export interface IncrementalStateJson {
  lastRun: string;
  cursorField: string | null;
  state: Record<string, unknown>;
  /** When the sync reading from this state started (its own watermark to be). */
  runStartedAt?: string;
}

/**
 * The memo of a sync run: what a person sees in the Web UI, and what the
 * next run reads. A successful run sets the watermark (`last_run`, ...); a
 * running or failed one keeps a `checkpoint`.
 */
export interface SyncMemo {
  bizon_pipeline: string;
  bizon_source: string;
  bizon_stream: string;
  sync_mode: 'full_refresh' | 'incremental';
  /** The pipeline the sync runs (secret references, never values): a second start compares its own with it. */
  bizon_config?: PipelineConfig;
  /** Start time of the last successful sync (ISO). */
  last_run?: string;
  cursor_field?: string | null;
  max_cursor_value?: CursorValue | null;
  records?: number;
  pages?: number;
  resumed_from_page?: number | null;
  checkpoint?: SyncCheckpoint | null;
}

/** What a successful sync leaves for the next incremental one. */
export interface Watermark {
  /** Start time of the sync (ISO): the next incremental sync reads what changed since. */
  lastRun: string;
  maxCursorValue: CursorValue | null;
  records: number;
  pages: number;
  /** The last `nextState` the source returned (bizon's `next_state`), if any. */
  nextState?: Record<string, unknown>;
}

/** What the last syncs of a stream left: the watermark of the last success, and the checkpoint of a failure after it. */
export interface SyncState {
  watermark: Watermark | null;
  resumable: (SyncCheckpoint & { status: string; runId: string }) | null;
  /** The watermark of each partition, when the stream's slices have partitions. */
  partitions?: PartitionWatermarks;
  /** Where the state was read: the stream's state workflow, or (once, when migrating) the memos of closed runs. */
  source: 'state-workflow' | 'closed-runs' | 'none';
}

/** The state a stream keeps in its state workflow (`bizon-state:<name>:<source>:<stream>`). */
export interface StreamState {
  watermark: Watermark | null;
  /** The checkpoint of a sync that has not succeeded (running, failed, cancelled or terminated). */
  checkpoint: SyncCheckpoint | null;
  /** How that sync stood when the checkpoint was recorded: `running`, `failed` or `cancelled`. */
  checkpointStatus: 'running' | 'failed' | 'cancelled' | null;
  /** When the last event was recorded (ISO). */
  updatedAt: string | null;
  /**
   * The sync run that loaded this state to start and has not yet recorded how it ended. While a sync runs, its
   * checkpoints are in its own memo only; one that never records its end (terminated) is resumed from there.
   */
  runningSyncRunId?: string | null;
  /** The watermark of each partition, when the stream's slices have partitions (absent otherwise). */
  partitions?: PartitionWatermarks;
}

/** One change to a stream's state, sent by its sync. */
export type StreamStateEvent =
  | { kind: 'checkpoint'; checkpoint: SyncCheckpoint; status: 'running' | 'failed' | 'cancelled'; at: string }
  /**
   * `partitions`: the partitions this sync read whole (slices with a `partition` key), whose watermark becomes its
   * start; `replace` when it read the stream whole (the partitions it did not see are forgotten).
   */
  | { kind: 'succeeded'; watermark: Watermark; at: string; partitions?: { keys: string[]; replace: boolean } }
  | { kind: 'discarded'; syncRunId: string; at: string }
  /** `bizon stream reset`: the next sync reads the whole stream, as the first one did. */
  | { kind: 'reset'; at: string };

/** Input of `streamStateWorkflow`. */
export interface StreamStateInput {
  key: { name: string; source: string; stream: string };
  state: StreamState;
}

/** The memo of a stream's state workflow, as the Web UI shows it. */
export interface StreamStateMemo {
  bizon_pipeline: string;
  bizon_source: string;
  bizon_stream: string;
  last_run: string | null;
  max_cursor_value: CursorValue | null;
  records: number | null;
  pages: number | null;
  checkpoint: SyncCheckpoint | null;
  checkpoint_status: StreamState['checkpointStatus'];
  /** The source's `nextState` kept with the watermark (absent in memos written before it existed). */
  next_state?: Record<string, unknown> | null;
  /** {@link StreamState.runningSyncRunId}. */
  running_sync_run_id?: string | null;
  /** {@link StreamState.partitions}. */
  partitions?: PartitionWatermarks | null;
}

/** Input of `syncWorkflow`. */
export interface SyncWorkflowInput {
  /** The pipeline as written: secret references, never secret values. */
  pipeline: PipelineConfig;
  plan: SyncPlan;
  /** Set when the workflow continues as new. */
  checkpoint?: SyncCheckpoint;
}

/** What the `progress` query answers. */
export interface SyncProgress extends SyncCheckpoint {
  status: 'preparing' | 'extracting' | 'finalizing' | 'succeeded' | 'failed' | 'cancelled';
}

/** What a successful sync returns. */
export interface SyncResult {
  pipeline: string;
  source: string;
  stream: string;
  syncRunId: string;
  iterations: number;
  records: number;
  startedAt: string;
  finishedAt: string;
  runs: number;
  outputs: PublishedOutput[];
  /** The watermark this run leaves: its start time, and the greatest cursor value seen. */
  lastRun: string;
  maxCursorValue: CursorValue | null;
  /** Whether it read only what changed (`getRecordsAfter`) and since when. */
  incrementalSince: string | null;
  /** An incremental sync that found no watermark: it read everything and replaced the output (first sync, or lost state). */
  incrementalFullRead: boolean;
  /** Set when this sync continued a failed one. */
  resumedFrom: { iteration: number; syncRunId: string } | null;
  /** Why the sync stopped: the source had no more pages, or `max_iterations` was reached. */
  stoppedBy: 'end_of_source' | 'max_iterations';
  /** Milliseconds spent inside the source's `get()` calls (the rest of the wall time is bizon and Temporal). */
  sourceMs?: number;
  /** `engine.pages_per_activity` of the sync. */
  pagesPerActivity?: number;
  /** How many slices the stream was read in (a source with `getSlices()`). */
  slices?: number;
}


/** What a scheduled run does when a sync of the same pipeline is already running. */
export type OverlapPolicy = 'skip' | 'wait';

/** One stream of a compiled pipeline: its sync, started as a child under the sync's own id. */
export interface PipelineStreamInput {
  stream: string;
  workflowId: string;
  sync: SyncWorkflowInput;
  memo: Record<string, unknown>;
  /** Typed search attribute pairs (plain JSON). */
  searchAttributes: Array<{ key: { name: string; type: 'KEYWORD' }; value: string }>;
}

/** A pipeline compiled by the worker (`compilePipeline`): what `bizonPipeline` starts, stream by stream. */
export interface PipelineWorkflowInput {
  name: string;
  source: string;
  streams: PipelineStreamInput[];
  /** `engine.max_parallel_streams`. */
  maxParallelStreams: number;
}

/** How one stream of a pipeline ended, or where it stands. */
export interface PipelineStreamOutcome {
  stream: string;
  /** The stream's sync workflow, and (once this pipeline started it) its first run. */
  workflowId: string;
  runId?: string;
  /** `skipped`: a sync of the stream was already running and the run was started with `overlap: skip`. */
  status: 'waiting' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
  result: SyncResult | null;
  /** Why it failed (the sync's own failure message). */
  error: string | null;
}

/** What `bizonPipeline` returns, and its `pipelineProgress` query answers: every stream in the order of the config. */
export interface PipelineResult {
  name: string;
  source: string;
  streams: PipelineStreamOutcome[];
}

