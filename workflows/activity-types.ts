/**
 * The inputs and results of the sync's activities (and of the pacer and alert workflows they start): plain JSON,
 * types only, like everything in `types.ts`, which re-exports them.
 */
import type { PipelineConfig } from '../config/pipeline.ts';
import type { PublishedOutput } from '../destinations/destination.ts';
import type { Pagination } from '../sources/models.ts';
import type { CursorValue, IncrementalStateJson, StreamStateEvent, SyncPlan, SyncState } from './types.ts';

/** Input of every activity: which pipeline and which sync. */
export interface ActivityInput {
  pipeline: PipelineConfig;
  syncRunId: string;
}

/**
 * Input of a page activity. A regular page names its sync's pipeline by {@link PageActivityInput.configKey} only: the
 * history keeps the config once (in the sync's input), not once per page; a worker that has no source built for
 * that key reads the config from there. A local page, never written to history, carries it.
 */
export interface PageActivityInput {
  syncRunId: string;
  /** `configKey(pipeline)` of the sync's pipeline. */
  configKey: string;
  /** The pipeline itself: local pages only. */
  pipeline?: PipelineConfig;
}

export interface ExtractPageInput extends PageActivityInput {
  /** 1-based number of the page. */
  iteration: number;
  pagination: Pagination | null;
  /** Non-null: call `getRecordsAfter(state, pagination)`; null: call `get(pagination)`. */
  incrementalState: IncrementalStateJson | null;
  cursorField: string | null;
  /**
   * Under `requests_per_second`: the sync's task queue, whose pacer for this source gives every `get()` of the
   * source, from any sync and any worker of that queue, its slot.
   */
  pacer?: { taskQueue: string; requestsPerSecond: number };
  /** The slice this page belongs to (a source with `getSlices()`); `iteration` then counts within it. */
  slice?: { index: number; slice: Record<string, unknown> };
}

/** Input of `planSlices`. */
export interface PlanSlicesInput extends ActivityInput {
  incrementalState: IncrementalStateJson | null;
  /** When the sync started (ISO). */
  runStartedAt?: string;
}

/** Input of `requestPacerWorkflow`. */
export interface RequestPacerInput {
  /** Epoch ms of the first free slot. */
  nextSlot: number;
}

export interface ExtractPageResult {
  nextPagination: Pagination | null;
  recordCount: number;
  /** Greatest `cursorField` value of the page's records, if any. */
  maxCursorValue: CursorValue | null;
  /** Epoch ms when `get()` was called. */
  calledAt: number;
  /** Milliseconds the `get()` call took. */
  sourceMs?: number;
  /** The page's `nextState`, if it returned one. */
  nextState?: Record<string, unknown>;
}

/** Input of `extractPages`: up to `maxPages` pages from `iteration` on, in one activity. */
export interface ExtractPagesInput extends ExtractPageInput {
  maxPages: number;
  /** No page starts after this many ms from the activity's first attempt. */
  timeBudgetMs: number;
}

/**
 * What a batch has done so far: its heartbeat details after every staged
 * page, and its result. A retried attempt resumes after `lastIteration`.
 */
export interface PageBatchProgress {
  /** The batch's first page. */
  firstIteration: number;
  /** The last page staged (`firstIteration - 1` before the first one). */
  lastIteration: number;
  /** Where the page after `lastIteration` starts (`null`: the source has no more pages, once a page was read). */
  nextPagination: Pagination | null;
  /** Records staged by this batch. */
  recordCount: number;
  maxCursorValue: CursorValue | null;
  /** Milliseconds spent in `get()` by this batch. */
  sourceMs: number;
  /** Set once the source returned its last page. */
  done: boolean;
  /** The last `nextState` of the batch's pages, if one returned it. */
  nextState?: Record<string, unknown>;
}

export interface LoadSyncStateInput {
  workflowId: string;
  /** Runs of this execution chain are not "previous runs". */
  currentSyncRunId: string;
  /** The stream's state workflow (created from the memos of the stream's closed runs when it is missing). */
  streamState: SyncPlan['streamState'];
}

export interface RecordStreamStateInput {
  streamState: NonNullable<SyncPlan['streamState']>;
  event: StreamStateEvent;
  /** The sync's destination name, for the worker's metrics (absent in events of older versions). */
  destination?: string;
}

export interface PrepareSyncResult {
  total: number | null;
}

export interface FinalizeSyncInput extends ActivityInput {
  mode: 'replace' | 'append';
}

/** The activities the sync workflow calls. */
/** What an alert tells (`alerting` of a pipeline): delivered by `alertWorkflow`. */
export interface AlertInput {
  pipeline: PipelineConfig;
  event: 'failed' | 'retried' | 'succeeded';
  workflowId: string;
  runId: string;
  /** Why: the failure's message (redacted like every failure). */
  cause: string | null;
  records: number;
  pages: number;
}

export interface SyncActivities {
  /** Posts an alert to the pipeline's webhook (Slack-compatible JSON). */
  sendAlert(input: AlertInput): Promise<void>;
  prepareSync(input: ActivityInput): Promise<PrepareSyncResult>;
  extractPage(input: ExtractPageInput): Promise<ExtractPageResult>;
  /** Several pages in one activity, checkpointed by heartbeat after each (`engine.pages_per_activity`). */
  extractPages(input: ExtractPagesInput): Promise<PageBatchProgress>;
  /** The slices of the stream, from the source's `getSlices()`. */
  planSlices(input: PlanSlicesInput): Promise<Array<Record<string, unknown>>>;
  finalizeSync(input: FinalizeSyncInput): Promise<PublishedOutput[]>;
  /** Once the workflow holds finalize's result: removes what let a retried finalize return it again. Never fails. */
  forgetPublishedRun(input: ActivityInput): Promise<void>;
  abortSync(input: ActivityInput): Promise<void>;
  loadSyncState(input: LoadSyncStateInput): Promise<SyncState>;
  /** Records an event in the stream's state workflow (created if it is missing). */
  recordStreamState(input: RecordStreamStateInput): Promise<void>;
  /** Returns when the sync with this workflow id is no longer running (whatever its outcome). */
  waitForSync(input: { workflowId: string }): Promise<void>;
}
