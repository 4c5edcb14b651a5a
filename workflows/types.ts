/**
 * Plain-JSON shapes that cross the workflow boundary. Types only: the
 * workflow bundle imports nothing else from outside `workflows/`.
 */
import type { PipelineConfig } from '../config/pipeline.ts';
import type { PublishedOutput } from '../destinations/destination.ts';
import type { Pagination } from '../sources/models.ts';

export type { PipelineConfig, PublishedOutput, Pagination };

/** A Temporal duration: milliseconds or a string such as `1s`. */
export type DurationValue = number | string;

/** Settings the workflow needs, computed by the client with every default applied. */
export interface SyncPlan {
  syncMode: 'full_refresh' | 'incremental';
  maxIterations: number | null;
  retryLimit: number;
  retry: { initialInterval: DurationValue; backoffCoefficient: number; maximumInterval: DurationValue };
  pageTimeout: DurationValue;
  heartbeatTimeout: DurationValue;
  continueAsNewEvery: number;
  /** Failure types that fail the sync at once instead of being retried. */
  nonRetryableErrorTypes: string[];
}

/** Where a sync stands; carried from one workflow run to the next at continue-as-new. */
export interface SyncCheckpoint {
  /** Identifies the sync across continue-as-new; destination staging is keyed by it. */
  syncRunId: string;
  startedAt: string;
  /** Pages done so far. */
  iteration: number;
  /** Where the next page starts (`null` before the first page). */
  pagination: Pagination | null;
  records: number;
  total: number | null;
  /** How many workflow runs this sync has used (1 = no continue-as-new yet). */
  runs: number;
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
export interface SyncProgress {
  status: 'preparing' | 'extracting' | 'finalizing' | 'succeeded' | 'failed';
  syncRunId: string;
  iteration: number;
  records: number;
  total: number | null;
  pagination: Pagination | null;
  startedAt: string;
  runs: number;
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
  /** Why the sync stopped: the source had no more pages, or `max_iterations` was reached. */
  stoppedBy: 'end_of_source' | 'max_iterations';
}

/** Input of every activity: which pipeline and which sync. */
export interface ActivityInput {
  pipeline: PipelineConfig;
  syncRunId: string;
}

export interface ExtractPageInput extends ActivityInput {
  /** 1-based number of the page. */
  iteration: number;
  pagination: Pagination | null;
  syncMode: SyncPlan['syncMode'];
}

export interface ExtractPageResult {
  nextPagination: Pagination | null;
  recordCount: number;
}

export interface PrepareSyncResult {
  total: number | null;
}

export interface FinalizeSyncInput extends ActivityInput {
  mode: 'replace' | 'append';
}

/** The activities the sync workflow calls. */
export interface SyncActivities {
  prepareSync(input: ActivityInput): Promise<PrepareSyncResult>;
  extractPage(input: ExtractPageInput): Promise<ExtractPageResult>;
  finalizeSync(input: FinalizeSyncInput): Promise<PublishedOutput[]>;
  abortSync(input: ActivityInput): Promise<void>;
}
