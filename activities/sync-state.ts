import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { LoadSyncStateInput, SyncMemo, SyncState } from '../workflows/types.ts';

/** How many closed runs of a sync are read to find its watermark. */
const RUNS_SCANNED = 100;
const INTERRUPTED = new Set(['FAILED', 'TERMINATED', 'CANCELLED', 'TIMED_OUT']);

/**
 * Reads what the earlier runs of a sync left, from Temporal alone: the
 * watermark in the memo of the most recent successful run, and the
 * checkpoint of the most recent run if it did not succeed. Runs are found by
 * their shared workflow id, whoever started them (CLI, client, Schedule).
 */
export async function loadSyncState(client: Client, input: LoadSyncStateInput): Promise<SyncState> {
  const runs: WorkflowExecutionInfo[] = [];
  const query = `WorkflowId = '${input.workflowId}' AND ExecutionStatus != 'Running'`;
  for await (const run of client.workflow.list({ query, pageSize: RUNS_SCANNED })) {
    // Runs that continued as new are the middle of a sync; its last run tells how it ended.
    if (run.status.name !== 'CONTINUED_AS_NEW') runs.push(run);
    if (runs.length >= RUNS_SCANNED) break;
  }
  runs.sort((a, b) => (b.closeTime?.getTime() ?? 0) - (a.closeTime?.getTime() ?? 0));

  let resumable: SyncState['resumable'] = null;
  const latest = runs[0];
  const latestMemo = latest?.memo as Partial<SyncMemo> | undefined;
  const checkpoint = latestMemo?.checkpoint;
  if (latest && INTERRUPTED.has(latest.status.name) && checkpoint && checkpoint.iteration > 0 && checkpoint.syncRunId !== input.currentSyncRunId) {
    resumable = { ...checkpoint, status: latest.status.name, runId: latest.runId };
  }

  for (const run of runs) {
    const memo = run.memo as Partial<SyncMemo> | undefined;
    if (run.status.name === 'COMPLETED' && memo?.last_run) {
      return {
        resumable,
        watermark: { lastRun: memo.last_run, maxCursorValue: memo.max_cursor_value ?? null, records: memo.records ?? 0, pages: memo.pages ?? 0 },
      };
    }
  }
  return { resumable, watermark: null };
}
