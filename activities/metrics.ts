import type { ApplicationFailure } from '@temporalio/common';
import { Counter, Histogram, Registry } from 'prom-client';
import type { PipelineConfig } from '../config/pipeline.ts';
import type { PipelineKey } from '../engine/ids.ts';

/** Labels of every bizon metric: bounded sets (never a record id, a URL or a secret). */
type SyncLabels = 'pipeline' | 'source' | 'stream' | 'destination';

/** Why an attempt is retried, as the `cause` label says it. */
export type RetryCause = 'rate_limited' | 'server_error' | 'timeout' | 'network' | 'other';

/** The cause of a retried attempt, from the failure type the activity layer gave it. */
export function retryCauseOf(failure: ApplicationFailure, cause?: unknown): RetryCause {
  if (failure.type === 'RateLimitError') return 'rate_limited';
  if (failure.type === 'HttpServerError') return 'server_error';
  if (failure.type === 'NetworkError') {
    const code = (cause as { code?: string } | undefined)?.code ?? '';
    return /TIMEDOUT|ABORTED|timeout/i.test(`${code} ${failure.message}`) ? 'timeout' : 'network';
  }
  return 'other';
}

/**
 * bizon's own metrics of the syncs a worker runs, for Prometheus: pages and
 * records extracted, bytes written, the time of each `get()`, retries by cause, the
 * Retry-After waited, syncs started, succeeded and failed, rows published.
 */
export class SyncMetrics {
  readonly registry = new Registry();
  private readonly pages: Counter<SyncLabels>;
  private readonly records: Counter<SyncLabels>;
  private readonly pageSeconds: Histogram<SyncLabels>;
  private readonly retries: Counter<SyncLabels | 'cause'>;
  private readonly retryAfter: Counter<SyncLabels>;
  private readonly syncs: Counter<SyncLabels | 'outcome'>;
  private readonly published: Counter<SyncLabels>;
  private readonly bytes: Counter<SyncLabels>;

  constructor() {
    const labelNames: SyncLabels[] = ['pipeline', 'source', 'stream', 'destination'];
    const registers = [this.registry];
    this.pages = new Counter({ name: 'bizon_pages_extracted_total', help: 'Pages read from sources and staged', labelNames, registers });
    this.records = new Counter({ name: 'bizon_records_extracted_total', help: 'Records read from sources and staged', labelNames, registers });
    this.pageSeconds = new Histogram({
      name: 'bizon_page_duration_seconds',
      help: "Time of one get() call of a source",
      labelNames,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.retries = new Counter({ name: 'bizon_retries_total', help: 'Failed attempts Temporal retries, by cause', labelNames: [...labelNames, 'cause'], registers });
    this.retryAfter = new Counter({ name: 'bizon_retry_after_seconds_total', help: 'Seconds of Retry-After the APIs asked to wait', labelNames, registers });
    this.syncs = new Counter({ name: 'bizon_syncs_total', help: 'Syncs by outcome: started, succeeded, failed, cancelled', labelNames: [...labelNames, 'outcome'], registers });
    this.bytes = new Counter({ name: 'bizon_bytes_written_total', help: 'Bytes destinations wrote staging pages (files, COPY data)', labelNames, registers });
    this.published = new Counter({ name: 'bizon_rows_published_total', help: 'Rows published to destinations', labelNames, registers });
  }

  private labels(pipeline: PipelineConfig): Record<SyncLabels, string> {
    return { pipeline: pipeline.name, source: pipeline.source.name, stream: pipeline.source.stream, destination: pipeline.destination.name };
  }

  /** A sync that was cancelled, as its stream state event tells it. */
  syncCancelled(key: PipelineKey, destination: string): void {
    this.syncs.inc({ pipeline: key.name, source: key.source, stream: key.stream, destination, outcome: 'cancelled' });
  }

  pageRead(pipeline: PipelineConfig, records: number, sourceMs: number): void {
    const labels = this.labels(pipeline);
    this.pages.inc(labels);
    this.records.inc(labels, records);
    this.pageSeconds.observe(labels, sourceMs / 1000);
  }

  /** What a destination wrote for a page; a destination that does not count it reports nothing. */
  bytesWritten(pipeline: PipelineConfig, bytes: number): void {
    this.bytes.inc(this.labels(pipeline), bytes);
  }

  attemptRetried(pipeline: PipelineConfig, failure: ApplicationFailure, cause?: unknown): void {
    const labels = this.labels(pipeline);
    this.retries.inc({ ...labels, cause: retryCauseOf(failure, cause) });
    const delay = failure.nextRetryDelay;
    if (failure.type === 'RateLimitError' && typeof delay === 'number') this.retryAfter.inc(labels, delay / 1000);
  }

  syncOutcome(pipeline: PipelineConfig, outcome: 'started' | 'succeeded' | 'failed'): void {
    this.syncs.inc({ ...this.labels(pipeline), outcome });
  }

  rowsPublished(pipeline: PipelineConfig, rows: number): void {
    this.published.inc(this.labels(pipeline), rows);
  }
}
