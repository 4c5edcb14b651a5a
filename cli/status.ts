import { cancelSync, listPartitionWatermarks, listRunningPipelines, listSyncRuns, resetStream, type StreamPartitions, type SyncRunSummary } from '../client.ts';
import { readPipelineDefinition } from '../config/pipeline.ts';
import { UsageError } from './common.ts';
import { watchRunningPipeline } from './run-pipeline.ts';
import { isStreamRunWorkflowId } from '../engine/ids.ts';
import type { SyncResult } from '../workflows/types.ts';
import { pipelineArgument, withServerClient } from './connect.ts';
import { formatSummary, watchProgress } from './progress.ts';
import { workflowUrl } from './temporal-target.ts';

function time(date: Date | undefined): string {
  return date ? date.toISOString().replace('T', ' ').slice(0, 19) : '-';
}

function row(cells: string[], widths: number[]): string {
  return cells.map((cell, index) => cell.padEnd(widths[index]!)).join('  ').trimEnd();
}

/** Renders runs as a table, each followed by its Web UI link. */
export function formatRuns(runs: SyncRunSummary[], link: (run: SyncRunSummary) => string | undefined): string[] {
  // A pipeline of several streams (source.streams) lists each run with its stream.
  const byStream = new Set(runs.map((run) => run.stream)).size > 1;
  const header = [...(byStream ? ['STREAM'] : []), 'STATUS', 'STARTED (UTC)', 'ENDED (UTC)', 'PAGES', 'RECORDS', 'WATERMARK', 'RESUMED'];
  const rows = runs.map((run) => [
    ...(byStream ? [run.stream] : []),
    run.status,
    time(run.startedAt),
    time(run.closedAt),
    run.pages === undefined ? '-' : String(run.pages),
    run.records === undefined ? '-' : String(run.records),
    run.watermark ? `${run.watermark}${run.maxCursorValue != null ? ` (max cursor ${run.maxCursorValue})` : ''}` : '-',
    run.resumedFromPage ? `after page ${run.resumedFromPage}` : '-',
  ]);
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((cells) => cells[index]!.length)));
  const lines = [row(header, widths)];
  runs.forEach((run, index) => {
    lines.push(row(rows[index]!, widths));
    const url = link(run);
    if (url) lines.push(`  ${url}`);
  });
  return lines;
}

/** Keys shown per watermark line; the rest are counted. */
const KEYS_SHOWN = 20;

/** A stream's watermark per partition: one line per sync that last read some, newest first, with their keys. */
export function formatPartitions({ stream, partitions }: StreamPartitions): string[] {
  const count = Object.values(partitions).reduce((sum, keys) => sum + keys.length, 0);
  const lines = [`Watermark per partition of stream '${stream}' (${count} partitions, e.g. a dependent stream's parents):`];
  for (const [at, keys] of Object.entries(partitions)) {
    const more = keys.length > KEYS_SHOWN ? ` … and ${keys.length - KEYS_SHOWN} more` : '';
    lines.push(`  ${time(new Date(at))}  ${keys.slice(0, KEYS_SHOWN).join(', ')}${more}`);
  }
  return lines;
}

/** `bizon status <name|config> [--watch]` */
export async function statusCommand(value: string, options: { watch: boolean; limit: string }): Promise<number> {
  const { name, pipeline } = await pipelineArgument(value);
  return withServerClient(pipeline, async (client, target) => {
    const runs = await listSyncRuns(client, name, Number(options.limit));
    if (runs.length === 0) {
      process.stdout.write(`No runs of pipeline '${name}' on ${target.address}.\n`);
      return 0;
    }
    process.stdout.write(`Runs of pipeline '${name}', newest first:\n`);
    process.stdout.write(`${formatRuns(runs, (run) => workflowUrl(target, run.workflowId, run.runId)).join('\n')}\n`);
    for (const stream of await listPartitionWatermarks(client, name)) process.stdout.write(`${formatPartitions(stream).join('\n')}\n`);
    // A pipeline of several streams is followed whole; a run of one stream, through its sync.
    const [pipeline] = (await listRunningPipelines(client, name)).filter((run) => !isStreamRunWorkflowId(run.workflowId));
    const running = runs.find((run) => run.status === 'running');
    if (options.watch && pipeline) {
      process.stderr.write(`Following ${pipeline.workflowId}…\n`);
      return watchRunningPipeline(client, pipeline.workflowId);
    }
    if (options.watch && running) {
      process.stderr.write(`Following ${running.workflowId}…\n`);
      const progress = watchProgress(client, running.workflowId);
      try {
        const result = (await client.workflow.getHandle(running.workflowId).result()) as SyncResult;
        await progress.stop();
        process.stderr.write(`✔ Sync succeeded\n${formatSummary(result).map((line) => `  ${line}\n`).join('')}`);
      } catch (error) {
        await progress.stop();
        process.stderr.write(`✖ Sync ended: ${(error as Error).message}\n`);
        return 1;
      }
    } else if (options.watch) {
      process.stderr.write('No sync of this pipeline is running.\n');
    }
    return 0;
  });
}

/** `bizon cancel <name|config>` */
export async function cancelCommand(value: string): Promise<number> {
  const { name, pipeline } = await pipelineArgument(value);
  return withServerClient(pipeline, async (client) => {
    // A run is cancelled whole: it cancels its streams' syncs, each keeping its checkpoint.
    const running = (await listSyncRuns(client, name)).filter((run) => run.status === 'running');
    const pipelines = await listRunningPipelines(client, name);
    for (const run of pipelines) {
      await cancelSync(client, run.workflowId);
      if (!isStreamRunWorkflowId(run.workflowId)) {
        process.stderr.write(`Cancelled ${run.workflowId}: its streams' syncs stopped, nothing of theirs was published; the next run resumes each from its checkpoint.\n`);
      }
    }
    if (running.length === 0) {
      if (pipelines.length === 0) process.stderr.write(`No sync of pipeline '${name}' is running.\n`);
      return 0;
    }
    for (const run of running) {
      // Stopped by its run above, or (started by another client's run) cancelled here.
      await cancelSync(client, run.workflowId);
      const [after] = (await listSyncRuns(client, name)).filter((candidate) => candidate.runId === run.runId);
      process.stderr.write(
        `Cancelled ${run.workflowId} after page ${after?.pages ?? '?'}: nothing was published; the next run resumes from its checkpoint (force_ignore_checkpoint: true starts over).\n`,
      );
    }
    return 0;
  });
}

/** `bizon stream reset <config>`: each stream (or `--stream`) forgets its watermark and checkpoint. */
export async function streamResetCommand(configFile: string, options: { stream?: string }): Promise<number> {
  const definition = await readPipelineDefinition(configFile);
  const pipelines = definition.pipelines.filter((pipeline) => options.stream === undefined || pipeline.source.stream === options.stream);
  if (pipelines.length === 0) throw new UsageError(`${configFile} has no stream '${options.stream}' (it has ${definition.pipelines.map((pipeline) => pipeline.source.stream).join(', ')})`);
  return withServerClient(pipelines[0], async (client) => {
    for (const pipeline of pipelines) {
      const forgot = await resetStream(client, pipeline);
      const what = [
        forgot.lastRun ? `the watermark ${forgot.lastRun}${forgot.maxCursorValue != null ? ` (max cursor ${forgot.maxCursorValue})` : ''}` : undefined,
        forgot.checkpointPage ? `the checkpoint after page ${forgot.checkpointPage}` : undefined,
      ].filter(Boolean);
      process.stderr.write(
        `Reset ${pipeline.name} (${pipeline.source.name}/${pipeline.source.stream}): ${what.length ? `forgot ${what.join(' and ')}` : 'it had no watermark or checkpoint'}; the next run reads the whole stream and replaces the output.\n`,
      );
    }
    return 0;
  });
}
