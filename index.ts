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
  isEndOfPagination,
  BizonError,
  ConfigError,
  DestinationWriteError,
  HttpError,
  MalformedIterationError,
  NetworkError,
  NonRetryableError,
  RateLimitError,
  DummySource,
  DummySourceConfig,
} from './sources/index.ts';
export type { Authenticator, AuthConfig, OAuthParams, Pagination, SourceClass, SourceIncrementalState, SourceIteration, SourceRecord } from './sources/index.ts';

export { cancelSync, connectClient, getProgress, listSyncRuns, prepareSync, runSync, startSync, waitForResult } from './client.ts';
export type { PreparedSync, SyncHandle, SyncRequest, SyncRunSummary } from './client.ts';
export {
  backfillSchedule,
  deleteSchedule,
  describeSchedule,
  findSchedule,
  listSchedules,
  pauseSchedule,
  scheduleIdOf,
  scheduleSync,
  triggerSchedule,
  unpauseSchedule,
} from './schedules.ts';
export type { ScheduleSyncOptions } from './schedules.ts';
export { createWorker } from './worker.ts';
export type { BizonWorker, BizonWorkerOptions } from './worker.ts';
export { DEFAULT_TASK_QUEUE } from './engine/constants.ts';
export type { OverlapPolicy, ScheduledSyncResult, SyncMemo, SyncProgress, SyncResult } from './workflows/types.ts';
export type { PipelineConfig } from './config/pipeline.ts';
