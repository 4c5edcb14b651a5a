import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError, type TLSConfig, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, type DataConverter, type Payload, type Workflow } from '@temporalio/common';
import { dataConverterFromEnv } from './engine/codec.ts';
import { clientTracingInterceptors } from './engine/tracing.ts';
import { explainConnectionError, type ConnectionOrigins } from './engine/connection.ts';
import { parseSyncWorkflowId, pipelineKeyOf, pipelineWorkflowIdPrefix, streamStateWorkflowId, syncWorkflowId, syncWorkflowIdPrefix } from './engine/ids.ts';
import { syncConfigDifferences } from './config/diff.ts';
import type { PipelineConfig } from './config/pipeline.ts';
import { initialMemo, pipelineMemo, pipelineSearchAttributes, preparePipeline, prepareSync, type PreparedPipeline, type PreparedSync, type SyncRequest } from './config/prepare.ts';
import { ConfigError } from './errors.ts';
import { BIZON_PIPELINE_WORKFLOW_TYPE, DEFAULT_NAMESPACE, PIPELINE_PROGRESS_QUERY, PROGRESS_QUERY, STREAM_STATE_WORKFLOW_TYPE, STREAMS_FAILED, STREAMS_STARTED_UPDATE, SYNC_WORKFLOW_TYPE } from './engine/constants.ts';
import { ensureSearchAttributes, syncSearchAttributes } from './engine/search-attributes.ts';
import { readStreamStateUpdate, recordStreamStateSignal } from './workflows/state.ts';
import type { BizonPipelineInput } from './workflows/bizon-pipeline.ts';
import type { PageBatchProgress, PipelineStreamOutcome, PipelineResult, StreamStateInput, StreamStateMemo, SyncMemo, SyncProgress, SyncResult } from './workflows/types.ts';
import { settlesWithin } from './engine/deadline.ts';

export { initialMemo, pipelineMemo, pipelineSearchAttributes, pipelineWorkflowInput, preparePipeline, prepareSync } from './config/prepare.ts';
export type { PreparedPipeline, PreparedSync, SyncRequest } from './config/prepare.ts';

/** A sync started (or found running) on Temporal. */
export interface SyncHandle {
  /** The sync workflow (it exists once a worker has compiled the run: at once, unless started with `detach`). */
  workflowId: string;
  /** The `bizonPipeline` run that starts the sync as its child. */
  runWorkflowId: string;
  /** Run id of the first run of the sync (it changes at continue-as-new). */
  runId: string;
  taskQueue: string;
  /** True when a sync of the same (name, source, stream) was already running and this attached to it. */
  attached: boolean;
  handle: WorkflowHandle;
  pipeline: PipelineConfig;
}

/** Options of {@link startSync}. */
export interface StartSyncOptions {
  /**
   * When a sync of the same (name, source, stream) is already running with a
   * different config, follow it anyway instead of refusing (it keeps running
   * with its own config).
   */
  attach?: boolean;
  /** Return once the run is started, without waiting for a worker to start the sync (`bizon run --detach`). */
  detach?: boolean;
}

/** Where {@link connectClient} connects. */
export interface ConnectOptions {
  /** host:port of the Temporal frontend. */
  address: string;
  namespace?: string;
  /** Defaults to the AES-GCM codec when `BIZON_CODEC_KEY` is set, else Temporal's own. */
  dataConverter?: DataConverter;
  /** Where the address came from, named in the error when it cannot be reached (e.g. `TEMPORAL_ADDRESS`). */
  origin?: string;
  /** TLS (mTLS with a client certificate); `true` for the system's CAs. */
  tls?: TLSConfig | boolean;
  /** API key (Temporal Cloud), sent as `authorization: Bearer …`. */
  apiKey?: string;
  /** gRPC metadata sent with every call. */
  metadata?: Record<string, string>;
  /** The settings TLS and the key came from, named in errors. */
  origins?: Partial<ConnectionOrigins>;
}

/**
 * Connects a Temporal client. With `BIZON_CODEC_KEY` set, every payload it
 * sends is encrypted (and every one it reads decrypted). An unreachable server
 * is a {@link ConfigError} naming the address within 5 s, not a gRPC deadline.
 */
export async function connectClient(options: ConnectOptions): Promise<Client> {
  let connection: Connection;
  const tls = options.tls === true ? {} : options.tls || undefined;
  try {
    connection = await Connection.connect({
      address: options.address,
      connectTimeout: '5s',
      ...(tls ? { tls } : {}),
      ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
    });
  } catch (error) {
    throw new ConfigError(explainConnectionError(error, { address: options.address, tls, apiKey: options.apiKey, origins: { address: options.origin ?? 'the address given', ...options.origins } }));
  }
  const tracing = await clientTracingInterceptors();
  return new Client({
    connection,
    namespace: options.namespace ?? DEFAULT_NAMESPACE,
    dataConverter: options.dataConverter ?? dataConverterFromEnv(),
    ...(tracing.length ? { interceptors: { workflow: tracing } } : {}),
  });
}

/** Connects a client, runs `work` with it, and closes the connection whatever happens. */
export async function withClient<T>(options: ConnectOptions, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(options);
  try {
    return await work(client);
  } finally {
    await client.connection.close();
  }
}

/**
 * Starts a sync: the `bizonPipeline` workflow any client starts, with the pipeline as written (the worker compiles
 * it), under the stream's run id; the sync itself runs as its child under the stream's sync id, and the handle is
 * the sync's. If a sync of the same (name, source, stream) is already running, it is not started twice: the handle
 * attaches to the running one — when that one runs the same config; otherwise a {@link ConfigError} names the keys
 * that differ, unless `options.attach` says to follow it anyway. Resolves once the sync has started (a worker has
 * compiled the pipeline), or at once with `options.detach`.
 */
export async function startSync(client: Client, request: SyncRequest | PreparedSync, options: StartSyncOptions = {}): Promise<SyncHandle> {
  const prepared = 'input' in request ? request : await prepareSync(request);
  const { pipeline, workflowId, taskQueue } = prepared;
  await ensureSearchAttributes(client);
  const start = {
    workflowId: prepared.runWorkflowId,
    taskQueue,
    args: [prepared.runInput] as [BizonPipelineInput],
    workflowIdConflictPolicy: 'FAIL' as const,
    memo: { ...initialMemo(prepared) },
    typedSearchAttributes: syncSearchAttributes(pipeline),
    staticSummary: `bizon run ${pipeline.name}: ${pipeline.source.name}/${pipeline.source.stream} → ${pipeline.destination.name}`,
  };
  // Started here, the handle follows this sync's chain of runs (continue-as-new), not a later sync of the stream.
  const syncHandle = (runId: string, attached: boolean): SyncHandle => ({
    workflowId,
    runWorkflowId: prepared.runWorkflowId,
    runId,
    taskQueue,
    attached,
    handle: client.workflow.getHandle(workflowId, undefined, runId && !attached ? { firstExecutionRunId: runId } : {}),
    pipeline,
  });
  if (options.detach) {
    try {
      // No worker may be up yet: the sync starts when one compiles the pipeline.
      await client.workflow.start(BIZON_PIPELINE_WORKFLOW_TYPE, start);
      return syncHandle('', false);
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      // A run of this stream is going on: its sync is followed (once it exists, its config compared).
      const running = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
      if (!running || running.status.name !== 'RUNNING') return syncHandle('', true);
      return followRunningSync(running);
    }
  }
  let outcome: PipelineStreamOutcome | undefined;
  let fresh = false;
  for (let attempt = 1; outcome === undefined; attempt++) {
    try {
      const operation = new WithStartWorkflowOperation(BIZON_PIPELINE_WORKFLOW_TYPE, start);
      [outcome] = await client.workflow.executeUpdateWithStart<Workflow, PipelineStreamOutcome[], []>(STREAMS_STARTED_UPDATE, { startWorkflowOperation: operation });
      fresh = true;
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError) || attempt === MAX_START_ATTEMPTS) throw runFailure(error);
      // A run of this stream is going on (an earlier `bizon run`): follow its sync while it runs; once it is over
      // (a run closes just after its sync ends), start this one.
      const existing = client.workflow.getHandle(prepared.runWorkflowId);
      const [current] = await existing.executeUpdate<PipelineStreamOutcome[], []>(STREAMS_STARTED_UPDATE).catch(() => [undefined]);
      if (current?.status === 'running') outcome = current;
      else await existing.result().catch(() => undefined);
    }
  }
  // Started by this run (it may even have ended already): follow it.
  if (fresh && outcome?.runId) return syncHandle(outcome.runId, false);
  if (outcome?.status === 'failed') throw new ConfigError(`The sync of ${workflowId} could not start: ${outcome.error}`);
  // Someone else's sync of this stream runs (another run, a Schedule, another client): follow it if its config is ours.
  return followRunningSync(await client.workflow.getHandle(workflowId).describe());

  function followRunningSync(description: WorkflowExecutionDescription): SyncHandle {
    const running = (description.memo as Partial<SyncMemo> | undefined)?.bizon_config;
    const differences = running ? syncConfigDifferences(running, prepared.input.pipeline) : [];
    if (differences.length > 0 && !options.attach) {
      throw new ConfigError(
        `A sync of pipeline '${pipeline.name}' (${pipeline.source.name}/${pipeline.source.stream}) is already running with another config: ${differences.join(', ')} differ. ` +
          `Wait for it (\`bizon status ${pipeline.name} --watch\`), cancel it (\`bizon cancel ${pipeline.name}\`), or follow it as it is (\`bizon run --attach\`).`,
      );
    }
    return syncHandle(description.runId, true);
  }
}

/**
 * Why a run could not tell its sync started: the workflow failed (a pipeline its worker cannot run) — its message as
 * a {@link ConfigError} — or the error itself.
 */
function runFailure(error: unknown): unknown {
  // The update fails with the run's own failure (an input or pipeline its worker cannot run).
  const cause = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? new ConfigError(cause.message) : error;
}

const GRPC_UNAVAILABLE = 14;
/** Starts tried while earlier runs of the stream are closing, before giving up. */
const MAX_START_ATTEMPTS = 5;
const GRPC_DEADLINE_EXCEEDED = 4;

/** Whether an error means "the Temporal server cannot be reached right now". */
function isServerUnreachable(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) return true;
  }
  return false;
}

/**
 * Waits for a sync's result, through restarts of the Temporal server: while
 * the server is unreachable it retries (for up to `patienceMs`, 30 minutes by
 * default); the sync itself is durable and goes on when the server is back.
 */
export async function waitForResult(
  client: Client,
  workflowId: string,
  options: { patienceMs?: number; onUnreachable?: (error: unknown) => void } = {},
): Promise<SyncResult> {
  let unreachableSince: number | undefined;
  for (;;) {
    try {
      return (await client.workflow.getHandle(workflowId).result()) as SyncResult;
    } catch (error) {
      if (!isServerUnreachable(error)) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > (options.patienceMs ?? 30 * 60_000)) throw error;
      options.onUnreachable?.(error);
      await sleep(1000);
    }
  }
}

/** A pipeline with `source.streams` started (or found running) on Temporal. */
export interface PipelineHandle {
  workflowId: string;
  runId: string;
  /** True when the pipeline was already running and this attached to it. */
  attached: boolean;
  handle: WorkflowHandle;
}

/**
 * Starts a pipeline of several streams: `bizonPipeline` with the pipeline as written, every stream's sync its child
 * under the stream's own sync id (a stream whose sync already runs is waited for). If the pipeline is already
 * running, this attaches to it — when it runs the same config; otherwise a {@link ConfigError} names what differs,
 * unless `options.attach` says to follow it anyway.
 */
export async function startPipeline(client: Client, prepared: PreparedPipeline, options: StartSyncOptions = {}): Promise<PipelineHandle> {
  await ensureSearchAttributes(client);
  const streamNames = prepared.streams.map((stream) => stream.pipeline.source.stream);
  try {
    const handle = await client.workflow.start(BIZON_PIPELINE_WORKFLOW_TYPE, {
      workflowId: prepared.workflowId,
      taskQueue: prepared.taskQueue,
      args: [prepared.runInput],
      workflowIdConflictPolicy: 'FAIL',
      memo: pipelineMemo(prepared),
      typedSearchAttributes: pipelineSearchAttributes(prepared),
      staticSummary: `bizon pipeline ${prepared.name}: ${prepared.source}/${streamNames.join(', ')}`,
    });
    return { workflowId: prepared.workflowId, runId: handle.firstExecutionRunId, attached: false, handle };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    const handle = client.workflow.getHandle(prepared.workflowId);
    const description = await handle.describe();
    const running = description.memo as { bizon_config?: PipelineConfig; bizon_streams?: string[] } | undefined;
    const differences = running?.bizon_config ? syncConfigDifferences(running.bizon_config, prepared.streams[0]!.input.pipeline) : [];
    if (running?.bizon_streams && running.bizon_streams.join() !== streamNames.join()) differences.push('source.streams');
    if (differences.length > 0 && !options.attach) {
      throw new ConfigError(
        `Pipeline '${prepared.name}' (${prepared.source}) is already running with another config: ${differences.join(', ')} differ. ` +
          `Wait for it (\`bizon status ${prepared.name} --watch\`), cancel it (\`bizon cancel ${prepared.name}\`), or follow it as it is (\`bizon run --attach\`).`,
      );
    }
    return { workflowId: prepared.workflowId, runId: description.runId, attached: true, handle };
  }
}

/** Where each stream of a running (or ended) pipeline stands. */
export async function getPipelineProgress(client: Client, workflowId: string): Promise<PipelineResult> {
  return client.workflow.getHandle(workflowId).query<PipelineResult>(PIPELINE_PROGRESS_QUERY);
}

/**
 * Waits for a pipeline: its result when every stream succeeded; when one did
 * not, a {@link PipelineFailedError} carrying every stream's outcome (the
 * others finished and published).
 */
export async function waitForPipeline(client: Client, workflowId: string, options: { patienceMs?: number; onUnreachable?: (error: unknown) => void } = {}): Promise<PipelineResult> {
  try {
    return (await waitForResult(client, workflowId, options)) as unknown as PipelineResult;
  } catch (error) {
    const failure = error instanceof WorkflowFailedError ? error.cause : undefined;
    if (failure instanceof ApplicationFailure && failure.type === STREAMS_FAILED && failure.details?.[0]) {
      throw new PipelineFailedError(failure.message, failure.details[0] as PipelineResult);
    }
    throw error;
  }
}

/** A pipeline in which at least one stream did not succeed; `outcome` has every stream's. */
export class PipelineFailedError extends Error {
  override readonly name = 'PipelineFailedError';
  constructor(
    message: string,
    readonly outcome: PipelineResult,
  ) {
    super(message);
  }
}

/** Starts a pipeline with `source.streams` (or attaches to it) and waits for every stream. */
export async function runPipeline(client: Client, request: SyncRequest | PreparedPipeline): Promise<PipelineResult> {
  const prepared = 'streams' in request ? request : await preparePipeline(request);
  if (!('streams' in prepared)) throw new ConfigError(`Pipeline '${prepared.pipeline.name}' has one stream (source.stream): run it with runSync()`);
  const started = await startPipeline(client, prepared);
  return waitForPipeline(client, started.workflowId);
}

/** Starts a sync (or attaches to the running one) and waits for its result. */
export async function runSync(client: Client, request: SyncRequest | PreparedSync, options: StartSyncOptions = {}): Promise<SyncResult> {
  const started = await startSync(client, request, options);
  return waitForResult(client, started.workflowId);
}

/** Decodes a payload the way the client's data converter encoded it (codecs, e.g. encryption, undone last to first). */
async function decodePayload<T>(client: Client, payload: Payload): Promise<T> {
  const { payloadConverter, payloadCodecs } = client.options.loadedDataConverter;
  let payloads = [payload];
  for (const codec of [...payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  return payloadConverter.fromPayload<T>(payloads[0]!);
}

/** A page activity Temporal is retrying, as `describe()` reports it. */
export interface RetryingPage {
  activity: string;
  attempt: number;
  lastFailure: string | undefined;
}

/** Where a running sync stands, with what its activity in flight reports. */
export interface LiveSyncProgress extends SyncProgress {
  /** The page activity being retried, if one is. */
  retrying?: RetryingPage;
  /**
   * With `pages_per_activity`: the batch in flight, from its last heartbeat. Its staged pages and
   * records are already counted in `iteration` and `records`.
   */
  batch?: { firstIteration: number; lastIteration: number };
}

/**
 * Where a running sync stands, by workflow id: the workflow's `progress`
 * query, advanced by the checkpoint its batch in flight last heartbeated.
 */
export async function getProgress(client: Client, workflowId: string): Promise<LiveSyncProgress> {
  const handle = client.workflow.getHandle(workflowId);
  const [progress, description] = await Promise.all([handle.query<SyncProgress>(PROGRESS_QUERY), handle.describe().catch(() => undefined)]);
  const live: LiveSyncProgress = { ...progress };
  const pending = description?.raw.pendingActivities ?? [];
  const retried = pending.find((activity) => (activity.attempt ?? 1) > 1);
  if (retried) live.retrying = { activity: retried.activityType?.name ?? 'activity', attempt: retried.attempt ?? 2, lastFailure: retried.lastFailure?.message ?? undefined };
  const batch = pending.find((activity) => activity.activityType?.name === 'extractPages' && activity.heartbeatDetails?.payloads?.length);
  if (batch && progress.status === 'extracting') {
    const details = await decodePayload<PageBatchProgress>(client, batch.heartbeatDetails!.payloads![0]!).catch(() => undefined);
    // Only the batch that starts after the workflow's checkpoint (a finished one may still be listed a moment).
    if (details && details.firstIteration === progress.iteration + 1 && details.lastIteration >= details.firstIteration) {
      live.iteration = details.lastIteration;
      live.records = progress.records + details.recordCount;
      live.batch = { firstIteration: details.firstIteration, lastIteration: details.lastIteration };
    }
  }
  return live;
}

/** One run of a sync, as `bizon status` lists it. */
export interface SyncRunSummary {
  workflowId: string;
  runId: string;
  /** The stream the run synced. */
  stream: string;
  status: string;
  startedAt: Date;
  closedAt: Date | undefined;
  pages: number | undefined;
  records: number | undefined;
  /** `last_run` of a successful run: the watermark the next incremental run starts from. */
  watermark: string | undefined;
  maxCursorValue: string | number | null | undefined;
  resumedFromPage: number | null | undefined;
}

/**
 * The latest runs of a pipeline's syncs, newest first: one line per sync
 * (the runs a sync continued as new through are folded into its last one).
 */
export async function listSyncRuns(client: Client, pipelineName: string, limit = 20): Promise<SyncRunSummary[]> {
  // Reading needs no attributes: without them (a caller that may not register them), runs are found by id.
  const bySearchAttribute = await ensureSearchAttributes(client).then(() => true, () => false);
  const query = bySearchAttribute ? `BizonPipeline = '${pipelineName}'` : `WorkflowId STARTS_WITH '${syncWorkflowIdPrefix(pipelineName)}'`;
  const runs: SyncRunSummary[] = [];
  for await (const run of client.workflow.list({ query, pageSize: limit })) {
    if (run.status.name === 'CONTINUED_AS_NEW' || run.type !== SYNC_WORKFLOW_TYPE) continue;
    const memo = (run.memo ?? {}) as Partial<SyncMemo>;
    const succeeded = run.status.name === 'COMPLETED';
    runs.push({
      workflowId: run.workflowId,
      runId: run.runId,
      stream: parseSyncWorkflowId(run.workflowId)?.stream ?? '?',
      status: run.status.name.toLowerCase(),
      startedAt: memo.checkpoint?.startedAt ? new Date(memo.checkpoint.startedAt) : succeeded && memo.last_run ? new Date(memo.last_run) : run.startTime,
      closedAt: run.closeTime,
      pages: succeeded ? memo.pages : memo.checkpoint?.iteration,
      records: succeeded ? memo.records : memo.checkpoint?.records,
      watermark: succeeded ? memo.last_run : undefined,
      maxCursorValue: succeeded ? memo.max_cursor_value : undefined,
      resumedFromPage: succeeded ? memo.resumed_from_page : memo.checkpoint?.resumedFrom?.iteration,
    });
    if (runs.length >= limit) break;
  }
  // A running sync's memo holds its last checkpoint; its progress query says where it is now.
  for (const run of runs.filter((candidate) => candidate.status === 'running')) {
    const progress = await getProgress(client, run.workflowId).catch(() => undefined);
    if (progress) Object.assign(run, { pages: progress.iteration, records: progress.records, resumedFromPage: progress.resumedFrom?.iteration });
  }
  return runs.sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
}

/**
 * Cancels a running sync. Its current page is abandoned (requests in flight are aborted), it publishes nothing,
 * and keeps its checkpoint: the next run resumes there.
 */
/** The running pipeline workflows (`source.streams`) of a pipeline name. */
export async function listRunningPipelines(client: Client, pipelineName: string): Promise<Array<{ workflowId: string; runId: string }>> {
  const running: Array<{ workflowId: string; runId: string }> = [];
  const query = `WorkflowId STARTS_WITH '${pipelineWorkflowIdPrefix(pipelineName)}' AND ExecutionStatus = 'Running'`;
  for await (const run of client.workflow.list({ query })) if (run.type === BIZON_PIPELINE_WORKFLOW_TYPE) running.push({ workflowId: run.workflowId, runId: run.runId });
  return running;
}

/** Cancels a sync, or a pipeline workflow (which cancels its streams' syncs), and waits until it has stopped. */
export async function cancelSync(client: Client, workflowId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  // Already closed (its run cancelled it first): nothing left to do.
  if ((await handle.describe()).status.name !== 'RUNNING') return;
  await handle.cancel();
  await handle.result().catch(() => undefined);
}

/** What {@link resetStream} made the stream forget. */
export interface ForgottenStreamState {
  /** The watermark's time (`last_run`), if there was one. */
  lastRun: string | null;
  maxCursorValue: StreamStateMemo['max_cursor_value'];
  /** The page of the checkpoint a failed or cancelled sync left, if any. */
  checkpointPage: number | null;
}

/**
 * Forgets a stream's watermark and checkpoint (`bizon stream reset`): its next
 * sync reads the whole stream and replaces the output, as its first did. The
 * state workflow keeps running, so nothing older (closed runs' memos) comes
 * back. Refused while a sync of the stream runs: cancel it first.
 */
export async function resetStream(client: Client, pipeline: PipelineConfig): Promise<ForgottenStreamState> {
  const running = await client.workflow
    .getHandle(syncWorkflowId(pipeline))
    .describe()
    .then((description) => description.status.name === 'RUNNING')
    .catch(() => false);
  if (running) {
    throw new ConfigError(`A sync of pipeline '${pipeline.name}' (${pipeline.source.name}/${pipeline.source.stream}) is running: stop it first (bizon cancel ${pipeline.name}), or let it finish, then reset`);
  }
  const stateId = streamStateWorkflowId(pipeline);
  const memo = (await client.workflow
    .getHandle(stateId)
    .describe()
    .then((description) => description.memo as Partial<StreamStateMemo> | undefined)
    .catch(() => undefined)) ?? {};
  await client.workflow.signalWithStart(STREAM_STATE_WORKFLOW_TYPE, {
    workflowId: stateId,
    taskQueue: pipeline.engine.temporal.task_queue,
    args: [{ key: pipelineKeyOf(pipeline), state: { watermark: null, checkpoint: null, checkpointStatus: null, updatedAt: null } } satisfies StreamStateInput],
    signal: recordStreamStateSignal,
    signalArgs: [{ kind: 'reset', at: new Date().toISOString() }],
  });
  return { lastRun: memo.last_run ?? null, maxCursorValue: memo.max_cursor_value ?? null, checkpointPage: memo.checkpoint?.iteration ?? null };
}

/**
 * Waits (at most `timeoutMs`) until a stream's state workflow has handled every event recorded before — its
 * memo, what the Web UI and `bizon stream reset` read, then shows them. A process about to stop the only
 * worker of the queue calls it, so the last event is not left waiting for the next worker.
 */
export async function settleStreamState(client: Client, pipeline: PipelineConfig, timeoutMs = 5000): Promise<void> {
  await settlesWithin(client.workflow.getHandle(streamStateWorkflowId(pipeline)).executeUpdate(readStreamStateUpdate, { args: [null] }), timeoutMs);
}
