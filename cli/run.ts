import type { Client } from '@temporalio/client';
import type { LogLevel } from '@temporalio/worker';
import { getPipelineProgress, preparePipeline, settleStreamState, startPipeline, startSync, waitForResult, type PreparedPipeline, type PreparedSync } from '../client.ts';
import { RunResultRecorder } from './result-file.ts';
import { followPipeline } from './run-pipeline.ts';
import type { SyncResult } from '../workflows/types.ts';
import type { BizonWorker } from '../worker.ts';
import { EXIT_SYNC_FAILED, RUN_CLOSE_WAIT_MS } from './common.ts';
import type { LogFormat } from './logging.ts';
import { installTelemetry } from './metrics.ts';
import { connectBesideWorker, workerConnectOptions } from './connect.ts';
import { describeFailure } from './failure.ts';
import { batchingTip, formatSummary, watchProgress } from './progress.ts';
import { claimEarlyTarget, localStateFile, resolveTemporalTarget, workflowUrl, type EarlyTarget } from './temporal-target.ts';
import { settlesWithin } from '../engine/deadline.ts';

/** How long `bizon run --no-worker` waits for a worker to start its sync before it says it is waiting. */
const NO_WORKER_HINT_MS = 10_000;
/** How long a worker whose sync has failed gets to stop before the command exits without it. */
const ABANDON_WORKER_AFTER_MS = 1500;

export interface RunOptions {
  customSource: string[];
  logLevel: LogLevel;
  worker: boolean;
  detach: boolean;
  attach: boolean;
  reset: boolean;
  forceIgnoreCheckpoint: boolean;
  /** Start although credentials are written literally in the config (the operator says they are not secret). */
  allowLiteralSecrets: boolean;
  /** Where to write the outcome as JSON, for the scheduler that called bizon. */
  resultJson?: string;
  /** Serve Prometheus metrics of this command's worker here (`9464` or `host:port`). */
  metricsPort?: string;
  /** The worker's log lines as JSON objects. */
  logFormat?: LogFormat;
}

/** `bizon run <config>`: validate, start (or attach), run a worker here unless told not to, follow, summarise. */
export async function runCommand(configFile: string | Record<string, unknown>, options: RunOptions, early?: EarlyTarget): Promise<number> {
  const recorder = new RunResultRecorder(options.resultJson);
  try {
    return await runAndRecord(configFile, options, recorder, early);
  } catch (error) {
    recorder.failed(error);
    throw error;
  } finally {
    recorder.write();
  }
}

async function runAndRecord(configFile: string | Record<string, unknown>, options: RunOptions, recorder: RunResultRecorder, early?: EarlyTarget): Promise<number> {
  const runsWorker = options.worker && !options.detach;
  const telemetry = await installTelemetry(options.logLevel, options.metricsPort, options.logFormat, { worker: runsWorker });
  let prepared: PreparedSync | PreparedPipeline;
  try {
    prepared = await preparePipeline({
      config: configFile,
      customSourceFiles: options.customSource,
      checkSecrets: runsWorker,
      reset: options.reset,
      forceIgnoreCheckpoint: options.forceIgnoreCheckpoint,
      allowLiteralSecrets: options.allowLiteralSecrets,
    });
  } catch (error) {
    await claimEarlyTarget(early, undefined);
    throw error;
  }
  for (const warning of prepared.warnings) process.stderr.write(`Warning: ${warning}\n`);
  const pipeline = 'streams' in prepared ? prepared.streams[0]!.pipeline : prepared.pipeline;
  const remoteOnly = options.detach || !options.worker;
  const target = (await claimEarlyTarget(early, pipeline)) ?? (await resolveTemporalTarget(pipeline, !remoteOnly));
  let worker: BizonWorker | undefined;
  let workerReady: Promise<unknown> | undefined;
  let workerRun: Promise<void> | undefined;
  let client: Client | undefined;
  // Set once the sync has failed: what this command's worker still runs belongs to an attempt Temporal gave up on.
  let syncFailed = false;
  // The run this command started (not one it attached to): it closes just after its sync, and is waited for.
  let startedRun: string | undefined;
  const stopAll = async () => {
    await workerReady?.catch(() => undefined);
    worker?.shutdown();
    const stopped = workerRun?.catch(() => undefined);
    // A get() that ignores cancellation would hold the worker for its whole shutdown grace and then end in the
    // SDK's error; after a failed sync, nothing it could still do matters (pages are idempotent, the verdict is
    // given), so the command stops waiting and exits, which ends it like a crash would.
    if (syncFailed) await settlesWithin(stopped, ABANDON_WORKER_AFTER_MS);
    else await stopped;
    await client?.connection.close();
    await telemetry.close();
    // Everything the sync did is stored: the server finishes stopping after this command exits.
    target.embedded?.stopInBackground();
  };
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    process.stderr.write('\nInterrupted. The sync stays on Temporal: run the same command again to continue it where it stopped.\n');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (target.kind === 'embedded') {
      process.stderr.write(`Started a local Temporal server (state in ${localStateFile()}); Web UI: ${target.uiUrl}\n`);
    }
    if (runsWorker) {
      // The worker loads its workflow code while the sync starts; the sync's first task waits for its poll.
      const workerOptions = { ...workerConnectOptions(target), taskQueue: prepared.taskQueue, customSources: prepared.customSources };
      // Loaded only here: a command that only starts syncs does not pay for the worker's modules.
      const { createWorker } = await import('../worker.ts');
      workerReady = createWorker({ ...workerOptions, ...(telemetry.metrics ? { metrics: telemetry.metrics } : {}) }).then(
        (created) => {
          worker = created;
          workerRun = created.run();
        },
      );
    }
    client = await connectBesideWorker(target, workerReady);
    // Rejects if the worker of this command stops before the sync ends; never settles without one.
    const workerStopped: Promise<never> = workerReady
      ? workerReady.then(() => workerRun).then(() => {
          throw new Error('The worker stopped before the sync finished');
        })
      : new Promise<never>(() => undefined);
    workerStopped.catch(() => undefined);
    if ('streams' in prepared) {
      const started = await startPipeline(client, prepared, { attach: options.attach });
      recorder.started(prepared.name, started.workflowId);
      await workerReady;
      const code = await followPipeline(client, prepared, started, { target, detach: options.detach, workerStopped });
      if (!options.detach) recorder.pipelineEnded(code, await getPipelineProgress(client, started.workflowId).catch(() => undefined));
      syncFailed = code === EXIT_SYNC_FAILED;
      return interrupted ? new Promise<number>(() => undefined) : code;
    }
    // The sync starts once a worker has compiled its run: say so when none does for a while.
    const noWorkerHint = options.worker || options.detach ? undefined : setTimeout(() => process.stderr.write(`Waiting for a worker on task queue ${prepared.taskQueue} to start the sync (\`bizon worker\`)…\n`), NO_WORKER_HINT_MS);
    const sync = await startSync(client, prepared, { attach: options.attach, detach: options.detach }).finally(() => clearTimeout(noWorkerHint));
    if (!sync.attached && !options.detach) startedRun = sync.runWorkflowId;
    recorder.started(pipeline.name, sync.workflowId);
    await workerReady;
    const label = `${pipeline.name} (${pipeline.source.name}/${pipeline.source.stream})`;
    if (options.detach && !sync.attached) {
      // The run exists now; its sync, once a worker has compiled the pipeline.
      const runLink = workflowUrl(target, sync.runWorkflowId);
      process.stderr.write(`Started sync ${label}\n  workflow: ${sync.runWorkflowId} (its sync: ${sync.workflowId})${runLink ? `\n  Web UI: ${runLink}` : ''}\n`);
      return 0;
    }
    const link = workflowUrl(target, sync.workflowId, sync.runId);
    process.stderr.write(`${sync.attached ? 'Attached to the running sync' : 'Started sync'} ${label}\n  workflow: ${sync.workflowId}${link ? `\n  Web UI: ${link}` : ''}\n`);
    if (options.detach) return 0;

    const progress = watchProgress(client, sync.workflowId);
    let result: SyncResult;
    try {
      let warned = false;
      const onUnreachable = () => {
        if (!warned) process.stderr.write('\nTemporal is unreachable; waiting for it to come back (the sync resumes where it was)…\n');
        warned = true;
      };
      result = await Promise.race([waitForResult(client, sync.workflowId, { onUnreachable }), workerStopped]);
    } catch (error) {
      await progress.stop();
      // Interrupted: the worker stopped because it was told to, and the sync goes on; that was said already.
      if (interrupted) return new Promise<number>(() => undefined);
      recorder.failed(error);
      syncFailed = true;
      const failure = describeFailure(error);
      process.stderr.write(`✖ Sync failed: ${label}\n  ${failure.message}\n${failure.details.map((line) => `  ${line}\n`).join('')}${link ? `  Web UI: ${link}\n` : ''}`);
      return EXIT_SYNC_FAILED;
    }
    await progress.stop();
    recorder.succeeded(result);
    process.stderr.write(`✔ Sync succeeded: ${label}\n${formatSummary(result).map((line) => `  ${line}\n`).join('')}`);
    const tip = batchingTip(result);
    if (tip) process.stderr.write(`  ${tip}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // This command's worker may be the only one: let the stream's state workflow take the sync's last event first.
    // Its run's last task (after the sync ended) is done before this command's worker stops, so no run is left open.
    if (client && startedRun && !interrupted) await settlesWithin(client.workflow.getHandle(startedRun).result().catch(() => undefined), RUN_CLOSE_WAIT_MS);
    if (client && workerReady && !interrupted && !('streams' in prepared)) await settleStreamState(client, pipeline);
    await stopAll();
  }
}

