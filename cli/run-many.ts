import type { Client } from '@temporalio/client';
import { isDeepStrictEqual } from 'node:util';
import { preparePipeline, settleStreamState, startPipeline, startSync, waitForPipeline, waitForResult, type PreparedPipeline, type PreparedSync } from '../client.ts';
import type { BizonWorker } from '../worker.ts';
import { EXIT_SYNC_FAILED, RUN_CLOSE_WAIT_MS, UsageError } from './common.ts';
import { settlesWithin } from '../engine/deadline.ts';
import { connectBesideWorker, workerConnectOptions } from './connect.ts';
import { describeFailure } from './failure.ts';
import { installTelemetry } from './metrics.ts';
import { formatSummary } from './progress.ts';
import type { RunOptions } from './run.ts';
import { localStateFile, resolveTemporalTarget, workflowUrl } from './temporal-target.ts';

type Prepared = PreparedSync | PreparedPipeline;

const pipelineOf = (prepared: Prepared) => ('streams' in prepared ? prepared.streams[0]!.pipeline : prepared.pipeline);
const labelOf = (prepared: Prepared) =>
  'streams' in prepared ? `${prepared.name} (${prepared.streams.length} streams)` : `${prepared.pipeline.name} (${prepared.pipeline.source.name}/${prepared.pipeline.source.stream})`;

/** What of `engine.temporal` says which server a pipeline runs on (not its task queue). */
function serverSettings(prepared: Prepared): unknown {
  const { task_queue: _taskQueue, ...server } = pipelineOf(prepared).engine.temporal;
  return server;
}

/**
 * `bizon run a.yml b.yml …`: every pipeline validated first (nothing starts if one is wrong), then all started
 * from this one process over one connection — with `--detach` it returns then; otherwise a worker per task queue
 * runs here (unless `--no-worker`) and each verdict is printed as its sync ends. Exit 1 when any failed.
 */
export async function runManyCommand(configFiles: readonly string[], options: RunOptions): Promise<number> {
  if (options.resultJson) throw new UsageError('--result-json writes the outcome of one pipeline: give one config file, or run each with its own --result-json');
  const remoteOnly = options.detach || !options.worker;
  const prepared: Prepared[] = [];
  for (const config of configFiles) {
    const one = await preparePipeline({
      config,
      customSourceFiles: options.customSource,
      checkSecrets: !remoteOnly,
      reset: options.reset,
      forceIgnoreCheckpoint: options.forceIgnoreCheckpoint,
      allowLiteralSecrets: options.allowLiteralSecrets,
    });
    for (const warning of one.warnings) process.stderr.write(`Warning: ${config}: ${warning}\n`);
    prepared.push(one);
  }
  const elsewhere = prepared.findIndex((one) => !isDeepStrictEqual(serverSettings(one), serverSettings(prepared[0]!)));
  if (elsewhere > 0) {
    throw new UsageError(`${configFiles[elsewhere]} runs on another Temporal server than ${configFiles[0]} (engine.temporal): one bizon run starts pipelines of one server; run them apart`);
  }
  const names = prepared.map((one) => one.workflowId);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice) throw new UsageError(`Two of the config files name the same pipeline and stream (${twice}): each sync can run once at a time`);

  const telemetry = await installTelemetry(options.logLevel, options.metricsPort, options.logFormat, { worker: !remoteOnly });
  const target = await resolveTemporalTarget(pipelineOf(prepared[0]!), !remoteOnly);
  const workers: BizonWorker[] = [];
  const running: Array<Promise<void>> = [];
  let client: Client | undefined;
  const stopAll = async () => {
    for (const worker of workers) worker.shutdown();
    await Promise.allSettled(running);
    await client?.connection.close();
    await telemetry.close();
    target.embedded?.stopInBackground();
  };
  const onSignal = () => {
    process.stderr.write('\nInterrupted. The syncs stay on Temporal: run the same command again to continue them where they stopped.\n');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (target.kind === 'embedded') process.stderr.write(`Started a local Temporal server (state in ${localStateFile()}); Web UI: ${target.uiUrl}\n`);
    let workersReady: Promise<unknown> | undefined;
    if (!remoteOnly) {
      const taskQueues = [...new Set(prepared.map((one) => one.taskQueue))];
      const { createWorker } = await import('../worker.ts');
      workersReady = Promise.all(
        taskQueues.map(async (taskQueue) => {
          const worker = await createWorker({ ...workerConnectOptions(target), taskQueue, customSources: prepared[0]!.customSources, ...(telemetry.metrics ? { metrics: telemetry.metrics } : {}) });
          workers.push(worker);
          running.push(worker.run());
        }),
      );
    }
    client = await connectBesideWorker(target, workersReady);
    const connected = client;
    const started = await Promise.all(
      prepared.map(async (one) => {
        const handle = 'streams' in one ? await startPipeline(connected, one, { attach: options.attach }) : await startSync(connected, one, { attach: options.attach, detach: options.detach });
        // Detached, a sync exists once a worker has compiled its run: the run is what to follow.
        const run = 'runWorkflowId' in handle && options.detach ? (handle.runWorkflowId as string) : undefined;
        const shown = run ? `${run} (its sync: ${handle.workflowId})` : handle.workflowId;
        const link = run ? workflowUrl(target, run) : workflowUrl(target, handle.workflowId, handle.runId);
        process.stderr.write(`Started ${'streams' in one ? 'pipeline' : 'sync'} ${labelOf(one)}\n  workflow: ${shown}${link ? `\n  Web UI: ${link}` : ''}\n`);
        return { one, workflowId: handle.workflowId, link, run: 'runWorkflowId' in handle && !handle.attached ? (handle.runWorkflowId as string) : undefined };
      }),
    );
    await workersReady;
    if (options.detach) return 0;

    const outcomes = await Promise.all(
      started.map(async ({ one, workflowId, link, run }) => {
        // A run closes just after its sync: its last task is done before this command's workers stop.
        const runClosed = () => (run ? settlesWithin(connected.workflow.getHandle(run).result().catch(() => undefined), RUN_CLOSE_WAIT_MS) : undefined);
        try {
          if ('streams' in one) {
            const result = await waitForPipeline(connected, workflowId);
            process.stderr.write(`✔ Pipeline succeeded: ${labelOf(one)}\n${result.streams.map((stream) => `  ${stream.stream}: ${stream.result?.records ?? 0} records in ${stream.result?.iterations ?? 0} pages\n`).join('')}`);
          } else {
            const result = await waitForResult(connected, workflowId);
            await runClosed();
            process.stderr.write(`✔ Sync succeeded: ${labelOf(one)}\n${formatSummary(result).map((line) => `  ${line}\n`).join('')}`);
            if (workers.length) await settleStreamState(connected, one.pipeline);
          }
          return true;
        } catch (error) {
          await runClosed();
          const failure = describeFailure(error);
          process.stderr.write(`✖ ${'streams' in one ? 'Pipeline' : 'Sync'} failed: ${labelOf(one)}\n  ${failure.message}\n${failure.details.map((line) => `  ${line}\n`).join('')}${link ? `  Web UI: ${link}\n` : ''}`);
          return false;
        }
      }),
    );
    const failed = outcomes.filter((ok) => !ok).length;
    if (failed) process.stderr.write(`${failed} of ${outcomes.length} failed.\n`);
    return failed ? EXIT_SYNC_FAILED : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}
