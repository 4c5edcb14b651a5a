import type { Client } from '@temporalio/client';
import { getProgress } from '../client.ts';
import type { SyncProgress, SyncResult } from '../workflows/types.ts';

const numberFormat = new Intl.NumberFormat('en-US');

/** One line of live progress: pages, records, and total with percent when the source knows it. */
export function formatProgress(progress: SyncProgress): string {
  const records = numberFormat.format(progress.records);
  let line = `${progress.status} · page ${progress.iteration} · ${records} records`;
  if (progress.total !== null && progress.total > 0) {
    const percent = Math.min(100, Math.floor((progress.records / progress.total) * 100));
    line += ` of ${numberFormat.format(progress.total)} (${percent}%)`;
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
  if (result.stoppedBy === 'max_iterations') lines.push('stopped at max_iterations; the source had more pages');
  for (const output of result.outputs) lines.push(`output: ${output.location} (${numberFormat.format(output.records)} records)`);
  return lines;
}

/**
 * Polls the sync's `progress` query and prints it: rewritten in place on a
 * terminal, one line per change (at most one a second) otherwise.
 */
export function watchProgress(client: Client, workflowId: string, out: NodeJS.WriteStream = process.stderr): { stop(): void } {
  const interactive = Boolean(out.isTTY);
  let last = '';
  let lastPrinted = 0;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      const line = formatProgress(await getProgress(client, workflowId));
      if (interactive) {
        out.write(`\r\x1b[2K${line}`);
      } else if (line !== last && Date.now() - lastPrinted >= 1000) {
        out.write(`${line}\n`);
        lastPrinted = Date.now();
      }
      last = line;
    } catch {
      // The query fails while no worker holds the workflow (starting, continue-as-new); the next tick retries.
    }
  };
  const timer = setInterval(() => void tick(), interactive ? 250 : 500);
  void tick();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      if (interactive && last) out.write('\r\x1b[2K');
    },
  };
}
