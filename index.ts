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
export type { Authenticator, AuthConfig, Pagination, SourceClass, SourceIncrementalState, SourceIteration, SourceRecord } from './sources/index.ts';

export { connectClient, getProgress, prepareSync, runSync, startSync } from './client.ts';
export type { PreparedSync, SyncHandle, SyncRequest } from './client.ts';
export { createWorker } from './worker.ts';
export type { BizonWorker, BizonWorkerOptions } from './worker.ts';
export { DEFAULT_TASK_QUEUE } from './engine/constants.ts';
export type { SyncProgress, SyncResult } from './workflows/types.ts';
export type { PipelineConfig } from './config/pipeline.ts';
