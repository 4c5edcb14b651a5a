import type { Client } from '@temporalio/client';
import { getProgress, type LiveSyncProgress } from '../client.ts';
import { writesJsonLines } from './json-output.ts';
import type { SyncResult } from '../workflows/types.ts';

const numberFormat = new Intl.NumberFormat('en-US');

/** One line of live progress: pages, records, total with percent and ETA when known, and a retry in progress. */
export function formatProgress(progress: LiveSyncProgress, now = Date.now()): string {
  const { retrying } = progress;
  const records = numberFormat.format(progress.records);
  let line = `${progress.status} · page ${progress.iteration} · ${records} records`;
  if (progress.total !== null && progress.total > 0) {
    const percent = Math.min(100, Math.floor((progress.records / progress.total) * 100));
    line += ` of ${numberFormat.format(progress.total)} (${percent}%)`;
    const elapsed = now - Date.parse(progress.startedAt);
    if (progress.records > 0 && progress.records < progress.total && elapsed > 0) {
      line += ` · ETA ${formatDuration(((progress.total - progress.records) / progress.records) * elapsed)}`;
    }
  }
  if (retrying) {
    const reason = retrying.lastFailure ? `: ${retrying.lastFailure.length > 120 ? `${retrying.lastFailure.slice(0, 119)}…` : retrying.lastFailure}` : '';
    line += ` · retrying ${retrying.activity} (attempt ${retrying.attempt})${reason}`;
  }
  return line;
}

/** Formats a duration in ms as `1.2s` or `3m 04s`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

/** The summary printed when a sync succeeded. */
export function formatSummary(result: SyncResult): string[] {
  const elapsed = Date.parse(result.finishedAt) - Date.parse(result.startedAt);
  const rate = elapsed > 0 ? ` · ${numberFormat.format(Math.round((result.records / elapsed) * 1000))} records/s` : '';
  const lines = [
    `pages: ${numberFormat.format(result.iterations)} · records: ${numberFormat.format(result.records)} · ${formatDuration(elapsed)}${rate}${result.runs > 1 ? ` · ${result.runs} workflow runs` : ''}`,
  ];
  if (result.slices !== undefined) lines.push(`read in ${numberFormat.format(result.slices)} slices (getSlices), in parallel`);
  if (result.resumedFrom) {
    const page = result.resumedFrom.iteration;
    lines.push(`resumed the failed sync after page ${page} (its pages 1-${page} were not read again)`);
  }
  if (result.incrementalSince) lines.push(`incremental: read what changed since ${result.incrementalSince}`);
  if (result.incrementalFullRead) lines.push('incremental: no watermark yet (first sync, or its state was deleted): read everything and replaced the output');
  if (result.incrementalSince || result.maxCursorValue !== null) {
    lines.push(`watermark: last_run ${result.lastRun}${result.maxCursorValue !== null ? ` · max_cursor_value ${result.maxCursorValue}` : ''}`);
  }
  if (result.stoppedBy === 'max_iterations') lines.push('stopped at max_iterations; the source had more pages');
  for (const output of result.outputs) {
    const discarded = output.discarded ? `; ${numberFormat.format(output.discarded)} left out by schema_contract` : '';
    lines.push(`output: ${output.location} (${numberFormat.format(output.records)} records${discarded})`);
  }
  return lines;
}

/** Pages needed before the tip about batching is worth giving. */
const TIP_MIN_PAGES = 50;

/**
 * A suggestion to set `engine.pages_per_activity`, when a sync ran one page per
 * activity and its pages spent far more time in Temporal round trips than in
 * the source; undefined otherwise.
 */
export function batchingTip(result: SyncResult): string | undefined {
  if ((result.pagesPerActivity ?? 1) > 1 || result.sourceMs === undefined || result.iterations < TIP_MIN_PAGES) return undefined;
  const perPage = (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / result.iterations;
  const inSource = result.sourceMs / result.iterations;
  if (perPage < 3 * inSource || perPage - inSource < 5) return undefined;
  // A batch of about a second of source time, between 10 and 200 pages.
  const suggested = Math.min(200, Math.max(10, Math.round(1000 / Math.max(inSource, 1) / 10) * 10));
  return (
    `tip: a page took ${inSource.toFixed(0)} ms in the source but ${perPage.toFixed(0)} ms end to end (one Temporal round trip per page). ` +
    `engine.pages_per_activity: ${suggested} runs ${suggested} pages per activity, still checkpointed after every page (docs/how-it-runs.md#many-pages-per-activity).`
  );
}

/**
 * Polls the sync's `progress` query (and, for retries, its description) and
 * prints it: rewritten in place on a terminal, one line per change (at most
 * one a second) otherwise.
 */
export function watchProgress(client: Client, workflowId: string, out: NodeJS.WriteStream = process.stderr): { stop(): Promise<void> } {
  if (writesJsonLines()) return { stop: async () => undefined };
  const interactive = Boolean(out.isTTY);
  let last = '';
  let lastPrinted = 0;
  let stopped = false;
  let busy = false;
  let inFlight: Promise<void> = Promise.resolve();
  const tick = async () => {
    if (stopped || busy) return;
    busy = true;
    try {
      const progress = await getProgress(client, workflowId);
      if (stopped) return;
      const line = formatProgress(progress);
      if (interactive) {
        out.write(`\r\x1b[2K${line}`);
      } else if (line !== last && Date.now() - lastPrinted >= 1000) {
        out.write(`${line}\n`);
        lastPrinted = Date.now();
      }
      last = line;
    } catch {
      // The query fails while no worker holds the workflow (starting, continue-as-new); the next tick retries.
    } finally {
      busy = false;
    }
  };
  const start = () => {
    if (!busy) inFlight = tick();
  };
  const timer = setInterval(start, interactive ? 250 : 500);
  start();
  return {
    /** Stops polling, and resolves once the call in flight is done (the connection may be closed after it). */
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      if (interactive && last) out.write('\r\x1b[2K');
    },
  };
}
