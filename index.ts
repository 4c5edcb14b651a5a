/**
 * bizon-temporal: write a source in TypeScript, run it as a durable Temporal sync.
 * This file is the whole public surface.
 */
export {
  AbstractSource,
  SourceConfig,
  AuthenticationConfig,
  ApiConfig,
  AuthBuilder,
  TokenAuthenticator,
  BasicAuthenticator,
  CookiesAuthenticator,
  OAuthAuthenticator,
  DummySource,
  DummySourceConfig,
} from './sources/index.ts';
export {
  BizonError,
  ConfigError,
  DestinationWriteError,
  HttpError,
  isRetryableStatus,
  MalformedIterationError,
  NetworkError,
  NonRetryableError,
  RateLimitError,
} from './errors.ts';
export { defineDestination, registerDestination } from './destinations/index.ts';
export { defineTransform, registerTransform } from './transforms/functions.ts';
export type { TransformContext, TransformDefinition } from './transforms/functions.ts';
export { defineAuthenticator, definePaginator, registerRestHook } from './sources/rest-hooks.ts';
export type { AuthenticatorDefinition, PaginatedRequest, PaginatedResponse, PaginatorDefinition } from './sources/rest-hooks.ts';
export { toRows } from './destinations/destination.ts';
export { jsonLines, linesByDestination, StagedPageFiles, writeFileAtomic } from './destinations/page-files.ts';
export type { CommonDestinationConfig, Destination, DestinationDefinition } from './destinations/index.ts';
export type { DestinationRow, PublishedOutput, PublishMode, WriteBatch, WriteResult } from './destinations/destination.ts';
export type { Authenticator, AuthConfig, OAuthParams, Pagination, SourceClass, SourceIncrementalState, SourceIteration, SourceRecord, SourceSlice } from './sources/index.ts';
export type { SliceContext } from './sources/source.ts';

export {
  cancelSync,
  connectClient,
  getPipelineProgress,
  getProgress,
  listSyncRuns,
  PipelineFailedError,
  preparePipeline,
  prepareSync,
  runPipeline,
  runSync,
  startPipeline,
  startSync,
  waitForPipeline,
  waitForResult,
  withClient,
} from './client.ts';
export type { ConnectOptions, LiveSyncProgress, PipelineHandle, PreparedPipeline, PreparedSync, StartSyncOptions, SyncHandle, SyncRequest, SyncRunSummary } from './client.ts';
export {
  backfillSchedule,
  deleteSchedule,
  describeSchedule,
  findSchedule,
  listSchedules,
  pauseSchedule,
  scheduleSync,
  triggerSchedule,
  unpauseSchedule,
} from './schedules.ts';
export type { ScheduleSyncOptions } from './schedules.ts';
export { createWorker } from './worker.ts';
export type { BizonWorker, BizonWorkerOptions } from './worker.ts';
export { DEFAULT_TASK_QUEUE } from './engine/constants.ts';
export { parseScheduleId, parseSyncWorkflowId, scheduleId, syncWorkflowId } from './engine/ids.ts';
export type { PipelineKey } from './engine/ids.ts';
export type { OverlapPolicy, PipelineResult, PipelineStreamOutcome, SyncMemo, SyncProgress, SyncResult } from './workflows/types.ts';
export type { BizonPipelineInput } from './workflows/bizon-pipeline.ts';
export type { PipelineConfig } from './config/pipeline.ts';
