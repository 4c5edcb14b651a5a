import type { AxiosInstance } from 'axios';
import type { z } from 'zod';
import { AuthBuilder, type Authenticator } from './auth.ts';
import { SourceConfig } from './config.ts';
import type { Pagination, SourceIncrementalState, SourceIteration, SourceSlice } from './models.ts';
import { createSession } from './session.ts';

type MaybePromise<T> = T | Promise<T>;

/**
 * The class a source author extends. One instance serves one sync of one
 * stream; each `get()` call runs as one retryable Temporal activity.
 *
 * Required: static `streams()`, static `getConfigClass()` (when the source
 * has its own fields), `checkConnection()` and `get()`. Optional:
 * `getAuthenticator()`, `getTotalRecordsCount()`, and `getRecordsAfter()`,
 * whose presence makes the source support `sync_mode: incremental`.
 */
export abstract class AbstractSource<C extends SourceConfig = SourceConfig> {
  /** The validated `source:` block of the pipeline, secrets resolved. */
  readonly config: C;
  /**
   * An axios instance with `getAuthenticator()` applied, a timeout
   * (`api_config.request_timeout`), and non-2xx answers thrown as errors that
   * keep status, headers and a body excerpt (429 becomes a `RateLimitError`).
   * It never retries on its own: Temporal retries the page.
   */
  readonly session: AxiosInstance;

  constructor(config: C) {
    this.config = config;
    this.session = createSession({
      timeoutMs: (config.api_config?.request_timeout ?? 30) * 1000,
      maxBytes: (config.api_config?.max_response_mb ?? 100) * 1024 * 1024,
      ...(config.api_config?.allowed_hosts ? { allowedHosts: config.api_config.allowed_hosts } : {}),
      authenticator: () => this.getAuthenticator(),
    });
  }

  /**
   * The name a pipeline gives in `source.name` to choose this source. Optional:
   * without it, the class name in snake_case (`ShopifySource` → `shopify_source`
   * or `shopify`) and the file name (`shopify.ts` → `shopify`) choose it.
   */
  static sourceName?: string;

  /** The stream names this source can sync. */
  static streams(): string[] {
    throw new Error(`${this.name} must define static streams(): string[]`);
  }

  /** The zod schema of this source's config; defaults to the base `SourceConfig`. */
  static getConfigClass(): z.ZodType {
    return SourceConfig;
  }

  /** The authenticator applied to `this.session`; by default built from `config.authentication`. */
  getAuthenticator(): MaybePromise<Authenticator | undefined> {
    return this.config.authentication ? AuthBuilder.fromConfig(this.config.authentication) : undefined;
  }

  /** Checks that the API can be reached: `[true, null]`, or `[false, 'why']`. */
  abstract checkConnection(): MaybePromise<[boolean, string | null]>;

  /** The number of records the sync will read, when the API tells; `null` when unknown. */
  getTotalRecordsCount(): MaybePromise<number | null> {
    return null;
  }

  /**
   * Reads one page. `pagination` is `undefined` on the first call, then the
   * previous call's `nextPagination`. Return an empty `nextPagination`
   * (`{}`, `null` or `undefined`) when there are no more pages. With
   * `getSlices()`, `slice` is the slice being paged (each slice starts with
   * `pagination` undefined).
   */
  abstract get(pagination?: Pagination, slice?: SourceSlice): MaybePromise<SourceIteration>;

  /**
   * Reads one page of the records changed since the last successful sync.
   * Implement it to support `sync_mode: incremental`.
   */
  getRecordsAfter?(state: SourceIncrementalState, pagination?: Pagination, slice?: SourceSlice): MaybePromise<SourceIteration>;

  /**
   * Splits the stream into slices read in parallel, each paginated and
   * checkpointed on its own (`engine.max_parallel_slices` at once): date
   * ranges, partitions, id ranges. Called once per sync, before the first
   * page; an incremental sync passes its state, so only the new range needs
   * slicing (`null` on a first or full sync). `context.runStartedAt` is when
   * the sync started: the end of what it reads (the next sync's watermark).
   * A slice with a `partition` key is read from that partition's own
   * watermark; a `label` names it in the Web UI. Optional: without it the
   * stream is read as one sequence of pages.
   */
  getSlices?(state: SourceIncrementalState | null, context?: SliceContext): MaybePromise<SourceSlice[]>;
}

/** What `getSlices()` is told about the sync. */
export interface SliceContext {
  /** When the sync started (its watermark once it succeeds). */
  runStartedAt: Date;
}

/** A source class, as registered and resolved by the framework. */
export interface SourceClass {
  new (config: never): AbstractSource<never>;
  readonly name: string;
  readonly sourceName?: string;
  streams(): string[];
  getConfigClass(): z.ZodType;
}

/**
 * Whether a stream is read in slices side by side: its class implements `getSlices()`, and (when the class says
 * per stream, with a static `slicing(config)`) this stream is sliced; with how many slices at once, if it says.
 */
export function slicingOf(cls: SourceClass, config: SourceConfig): { maxParallel?: number } | null {
  if (typeof (cls.prototype as { getSlices?: unknown }).getSlices !== 'function') return null;
  const perStream = (cls as { slicing?: (config: SourceConfig) => { maxParallel?: number } | null }).slicing;
  return perStream ? perStream.call(cls, config) : {};
}
