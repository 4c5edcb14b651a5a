import type { Client } from '@temporalio/client';
import { getPipelineProgress, getProgress, PipelineFailedError, waitForPipeline, type LiveSyncProgress, type PipelineHandle, type PreparedPipeline } from '../client.ts';
import type { PipelineResult, PipelineStreamOutcome } from '../workflows/types.ts';
import { EXIT_SYNC_FAILED } from './common.ts';
import { describeFailure } from './failure.ts';
import { formatProgress, formatSummary } from './progress.ts';
import { writesJsonLines } from './json-output.ts';
import { workflowUrl, type TemporalTarget } from './temporal-target.ts';

/** One line per stream: where it stands (its live progress while it runs). */
export function formatStreamLines(pipeline: PipelineResult, live: ReadonlyMap<string, LiveSyncProgress>): string[] {
  const width = Math.max(...pipeline.streams.map((stream) => stream.stream.length));
  return pipeline.streams.map((stream) => `${stream.stream.padEnd(width)}  ${streamState(stream, live.get(stream.stream))}`);
}

function streamState(stream: PipelineStreamOutcome, live: LiveSyncProgress | undefined): string {
  switch (stream.status) {
    case 'waiting':
      return 'waiting for a free slot (engine.max_parallel_streams)';
    case 'running':
      return live ? formatProgress(live) : 'starting';
    case 'succeeded':
      return `✔ ${stream.result!.records} records in ${stream.result!.iterations} pages`;
    default:
      return `✖ ${stream.status}: ${stream.error ?? 'no reason given'}`;
  }
}

/**
 * Polls the pipeline's progress and each running stream's, and prints one
 * line per stream: rewritten in place on a terminal, the changed lines (at
 * most once a second) otherwise.
 */
function watchPipeline(client: Client, workflowId: string, out: NodeJS.WriteStream = process.stderr): { stop(): Promise<void> } {
  if (writesJsonLines()) return { stop: async () => undefined };
  const interactive = Boolean(out.isTTY);
  let printed: string[] = [];
  let lastPrintedAt = 0;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const tick = async () => {
    try {
      const pipeline = await getPipelineProgress(client, workflowId);
      const live = new Map<string, LiveSyncProgress>();
      await Promise.all(
        pipeline.streams
          .filter((stream) => stream.status === 'running')
          .map(async (stream) => {
            const progress = await getProgress(client, stream.workflowId).catch(() => undefined);
            if (progress) live.set(stream.stream, progress);
          }),
      );
      if (stopped) return;
      const lines = formatStreamLines(pipeline, live);
      if (interactive) {
        out.write(`${printed.length ? `\x1b[${printed.length}A` : ''}${lines.map((line) => `\r\x1b[2K${line}\n`).join('')}`);
        printed = lines;
      } else if (Date.now() - lastPrintedAt >= 1000) {
        const changed = lines.filter((line, index) => line !== printed[index]);
        if (changed.length) out.write(changed.map((line) => `${line}\n`).join(''));
        printed = lines;
        lastPrintedAt = Date.now();
      }
    } catch {
      // The query fails while no worker holds the pipeline workflow yet; the next tick retries.
    }
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(tick);
  }, interactive ? 250 : 500);
  inFlight = tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      if (interactive && printed.length) out.write(`\x1b[${printed.length}A\x1b[0J`);
    },
  };
}

/** What each stream did, after the pipeline ended: a summary for each success, the error of each failure. */
function formatOutcome(outcome: PipelineResult): string {
  return outcome.streams
    .map((stream) => {
      if (stream.status === 'succeeded') return `  ✔ ${stream.stream}\n${formatSummary(stream.result!).map((line) => `      ${line}\n`).join('')}`;
      return `  ✖ ${stream.stream}: ${stream.status}${stream.error ? ` — ${stream.error}` : ''}\n`;
    })
    .join('');
}

/**
 * Follows a started pipeline with `source.streams` until every stream ended,
 * and prints what each did. Exit code 0 when every stream succeeded, 1 when
 * any did not (the others still published).
 */
export async function followPipeline(
  client: Client,
  prepared: PreparedPipeline,
  started: PipelineHandle,
  options: { target: TemporalTarget; detach: boolean; workerStopped: Promise<never> },
): Promise<number> {
  const label = `${prepared.name} (${prepared.source}: ${prepared.streams.map((stream) => stream.pipeline.source.stream).join(', ')})`;
  const link = workflowUrl(options.target, started.workflowId, started.runId);
  process.stderr.write(
    `${started.attached ? 'Attached to the running pipeline' : 'Started pipeline'} ${label}, at most ${prepared.maxParallelStreams} streams at once\n  workflow: ${started.workflowId}${link ? `\n  Web UI: ${link}` : ''}\n`,
  );
  if (options.detach) return 0;
  return watchRunningPipeline(client, started.workflowId, { label, link, workerStopped: options.workerStopped });
}

/**
 * Shows a running pipeline's streams until it ends, then what each did.
 * Exit code 0 when every stream succeeded, 1 otherwise.
 */
export async function watchRunningPipeline(
  client: Client,
  workflowId: string,
  options: { label?: string; link?: string; workerStopped?: Promise<never> } = {},
): Promise<number> {
  const label = options.label ?? workflowId;
  const progress = watchPipeline(client, workflowId);
  try {
    const outcome = await Promise.race([waitForPipeline(client, workflowId), options.workerStopped ?? new Promise<never>(() => undefined)]);
    await progress.stop();
    process.stderr.write(`✔ Pipeline succeeded: ${label}\n${formatOutcome(outcome)}`);
    return 0;
  } catch (error) {
    await progress.stop();
    if (error instanceof PipelineFailedError) {
      const failed = error.outcome.streams.filter((stream) => stream.status !== 'succeeded').length;
      process.stderr.write(
        `✖ Pipeline failed: ${label}: ${failed} of ${error.outcome.streams.length} streams did not succeed (the others published; the next run resumes the failed ones from their checkpoints)\n${formatOutcome(error.outcome)}${options.link ? `  Web UI: ${options.link}\n` : ''}`,
      );
      return EXIT_SYNC_FAILED;
    }
    const failure = describeFailure(error);
    process.stderr.write(`✖ Pipeline ended: ${label}\n  ${failure.message}\n${failure.details.map((line) => `  ${line}\n`).join('')}`);
    return EXIT_SYNC_FAILED;
  }
}
