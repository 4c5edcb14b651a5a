import { describe, expect, it } from 'vitest';
import { batchingTip, formatDuration, formatProgress, formatSummary } from '../../cli/progress.ts';
import type { SyncResult } from '../../workflows/types.ts';
import type { SyncProgress } from '../../workflows/types.ts';

const progress: SyncProgress = {
  status: 'extracting',
  syncRunId: 'r',
  iteration: 12,
  records: 1200,
  total: 4800,
  pagination: { page: 13 },
  done: false,
  startedAt: new Date(0).toISOString(),
  runs: 1,
  incrementalState: null,
  maxCursorValue: null,
  resumedFrom: null,
};

describe('progress line', () => {
  it('shows pages, records, percent and ETA when the total is known', () => {
    expect(formatProgress(progress, 30_000)).toBe('extracting · page 12 · 1,200 records of 4,800 (25%) · ETA 1m 30s');
  });

  it('shows pages and records only when the total is unknown', () => {
    expect(formatProgress({ ...progress, total: null }, 30_000)).toBe('extracting · page 12 · 1,200 records');
  });

  it('shows a page being retried and why', () => {
    const line = formatProgress({ ...progress, total: null, retrying: { activity: 'extractPage', attempt: 3, lastFailure: 'HTTP 503 from GET http://x/users' } });
    expect(line).toBe('extracting · page 12 · 1,200 records · retrying extractPage (attempt 3): HTTP 503 from GET http://x/users');
  });

  it('formats durations', () => {
    expect(formatDuration(1234)).toBe('1.2s');
    expect(formatDuration(184_000)).toBe('3m 04s');
  });

  it('summarises a result', () => {
    const lines = formatSummary({
      pipeline: 'p',
      source: 's',
      stream: 'x',
      syncRunId: 'r',
      iterations: 3,
      records: 1500,
      startedAt: new Date(0).toISOString(),
      finishedAt: new Date(3000).toISOString(),
      runs: 2,
      outputs: [
        { destinationId: 'x', records: 1500, location: '/tmp/x.jsonl' },
        { destinationId: 'y', records: 1200, location: 'postgres public.y', discarded: 3 },
      ],
      lastRun: new Date(0).toISOString(),
      maxCursorValue: '2024-01-02T00:00:00Z',
      incrementalFullRead: false,
      incrementalSince: '2023-12-31T00:00:00.000Z',
      resumedFrom: { iteration: 49, syncRunId: 'old' },
      stoppedBy: 'max_iterations',
    });
    expect(lines).toEqual([
      'pages: 3 · records: 1,500 · 3.0s · 500 records/s · 2 workflow runs',
      'resumed the failed sync after page 49 (its pages 1-49 were not read again)',
      'incremental: read what changed since 2023-12-31T00:00:00.000Z',
      'watermark: last_run 1970-01-01T00:00:00.000Z · max_cursor_value 2024-01-02T00:00:00Z',
      'stopped at max_iterations; the source had more pages',
      'output: /tmp/x.jsonl (1,500 records)',
      'output: postgres public.y (1,200 records; 3 left out by schema_contract)',
    ]);
  });

  describe('the tip to batch pages', () => {
    const run = (fields: Partial<SyncResult>): SyncResult => ({
      pipeline: 'p', source: 's', stream: 'x', syncRunId: 'r', iterations: 500, records: 5000,
      startedAt: new Date(0).toISOString(), finishedAt: new Date(25_000).toISOString(), runs: 2, outputs: [],
      lastRun: new Date(0).toISOString(), maxCursorValue: null, incrementalFullRead: false, incrementalSince: null,
      resumedFrom: null, stoppedBy: 'end_of_source', sourceMs: 1000, pagesPerActivity: 1, ...fields,
    });

    it('suggests pages_per_activity when round trips, not the source, took the time', () => {
      // 50 ms a page end to end, 2 ms of it in get().
      expect(batchingTip(run({}))).toBe(
        'tip: a page took 2 ms in the source but 50 ms end to end (one Temporal round trip per page). engine.pages_per_activity: 200 runs 200 pages per activity, still checkpointed after every page (docs/how-it-runs.md#many-pages-per-activity).',
      );
      expect(batchingTip(run({ sourceMs: 500 * 8 }))).toContain('pages_per_activity: 130');
    });

    it('stays quiet for slow APIs, short syncs, and syncs already batched', () => {
      expect(batchingTip(run({ sourceMs: 500 * 40 }))).toBeUndefined();
      expect(batchingTip(run({ iterations: 20 }))).toBeUndefined();
      expect(batchingTip(run({ pagesPerActivity: 50 }))).toBeUndefined();
      expect(batchingTip(run({ sourceMs: undefined }))).toBeUndefined();
    });
  });
});
