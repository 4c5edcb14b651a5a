import type { NativeConnection, Worker } from '@temporalio/worker';
import type { DataConverter, Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time.js';
import type { TLSConfig } from '@temporalio/client';
import { explainConnectionError, type ConnectionOrigins } from './config/connection.ts';
import { ConfigError } from './errors.ts';
import { createCompileActivity, createSyncActivities } from './activities/index.ts';
import { dataConverterFromEnv } from './engine/codec.ts';
import { DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE } from './engine/constants.ts';

import { loadCustomCode } from './config/custom-code.ts';
import { activeTracing, workerTracing, type Tracing } from './engine/tracing.ts';
import type { SyncMetrics } from './activities/metrics.ts';
import type { CustomSource } from './sources/registry.ts';

/** How long a stopping worker lets the pages in flight finish before cancelling them. */
const SHUTDOWN_GRACE_TIME = '5s';
/** Longest wait before an activity's latest heartbeat (a batch's checkpoint) reaches the server. */
const HEARTBEAT_THROTTLE = '200ms';
/** How long it then waits for cancelled pages to end before it stops anyway. */
const SHUTDOWN_FORCE_MARGIN_MS = 5000;
/** What a worker that stopped without a get() ignoring cancellation logs. */
const ABANDONED_PAGES_MESSAGE =
  'Stopped without waiting for a page whose get() ignored cancellation past the shutdown grace; Temporal retries it on another worker. Exit the process to free it.';

/** Options of {@link createWorker}. */
export interface BizonWorkerOptions {
  /** host:port of the Temporal frontend. */
  address: string;
  namespace?: string;
  /** TLS (mTLS with a client certificate); `true` for the system's CAs. */
  tls?: TLSConfig | boolean;
  /** API key (Temporal Cloud). */
  apiKey?: string;
  /** gRPC metadata sent with every call. */
  metadata?: Record<string, string>;
  /** The settings the address, TLS and key came from, named in a connection error. */
  origins?: Partial<ConnectionOrigins>;
  taskQueue?: string;
  /**
   * Environment variables besides `BIZON_ENV_…` that pipelines may refer to (`${env://NAME}`): names, or prefixes
   * ending in `*` (also `BIZON_ALLOW_ENV`, comma-separated). A pipeline referring to any other fails at once.
   */
  allowEnv?: readonly string[];
  /** Files of custom sources this worker can run (`--custom-source`). */
  customSourceFiles?: readonly string[];
  /** Already loaded custom sources (instead of, or besides, the files). */
  customSources?: readonly CustomSource[];
  /** Pages run at once by this worker (100, the Temporal SDK's default for activities). */
  maxConcurrentActivities?: number;
  /** Payload encoding; by default the AES-GCM codec when `BIZON_CODEC_KEY` is set. */
  dataConverter?: DataConverter;
  /** Where the activities count pages, records, retries and syncs (served by `--metrics-port`). */
  metrics?: SyncMetrics;
  /** Name of this worker in the Web UI and in history (default: the SDK's `pid@host`). */
  identity?: string;
  /** Workflow tasks run at once (the SDK's default otherwise). */
  maxConcurrentWorkflowTasks?: number;
  /** How long a stopping worker lets pages in flight finish before cancelling them (default 5s). */
  shutdownGraceTime?: Duration;
  /** Worker Versioning: the deployment and build this worker runs, and how running syncs follow new versions. */
  deployment?: WorkerDeployment;
  /** Where workflow, activity, page and HTTP spans go; by default the process's, when `OTEL_EXPORTER_OTLP_ENDPOINT` started it. */
  tracing?: Tracing;
}

/** A worker's place in a Worker Deployment (Temporal's Worker Versioning). */
export interface WorkerDeployment {
  /** The deployment, e.g. `bizon-fleet`. */
  name: string;
  /** The version of the code, e.g. a git commit or release tag. */
  buildId: string;
  /**
   * `AUTO_UPGRADE`: a running sync moves to the deployment's current version at its next task (the workflow code
   * must replay old histories: the suite's replay test checks it). `PINNED`: it finishes on the version it started on.
   */
  behavior: 'AUTO_UPGRADE' | 'PINNED';
}

/** A worker and the connection it owns. */
export interface BizonWorker {
  worker: Worker;
  connection: NativeConnection;
  /**
   * Runs until {@link BizonWorker.shutdown}, then closes the connection. When a page's get() ignores cancellation
   * past the shutdown grace (and 5 s more), it resolves without it and leaves the connection to the process's
   * exit: the abandoned call still holds it.
   */
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * A Temporal worker that runs sync workflows and their activities on
 * `taskQueue`. Any number of them may poll the same queue, on any machines:
 * each needs the custom source files of the pipelines it serves.
 */
export async function createWorker(options: BizonWorkerOptions): Promise<BizonWorker> {
  // Loaded here, not with the package: a program or a custom source that imports bizon-temporal only to start
  // syncs (or to extend AbstractSource) does not pay for the worker's modules (its bundler, the core bridge).
  const { NativeConnection, Runtime, Worker } = await import('@temporalio/worker');
  const customSources = [...(options.customSources ?? []), ...(await loadCustomCode(options.customSourceFiles ?? []))];
  const tls = options.tls === true ? {} : options.tls || undefined;
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({
      address: options.address,
      ...(tls ? { tls } : {}),
      ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
    });
  } catch (error) {
    throw new ConfigError(explainConnectionError(error, { address: options.address, tls, apiKey: options.apiKey, origins: { address: 'the address given', ...options.origins } }));
  }
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const dataConverter = options.dataConverter ?? dataConverterFromEnv();
  const maxConcurrentActivityTaskExecutions = options.maxConcurrentActivities ?? 100;
  const shutdownGraceTime = options.shutdownGraceTime ?? SHUTDOWN_GRACE_TIME;
  // The SDK counts the force time from the shutdown request, so it must outlast the grace.
  const shutdownForceTime = msToNumber(shutdownGraceTime) + SHUTDOWN_FORCE_MARGIN_MS;
  const fleet = {
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.deployment
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: options.deployment.name, buildId: options.deployment.buildId },
            useWorkerVersioning: true as const,
            defaultVersioningBehavior: options.deployment.behavior,
          },
        }
      : {}),
  };
  const tracing = options.tracing ?? activeTracing();
  const traced = tracing ? await workerTracing(tracing) : undefined;
  const activities = {
    ...createSyncActivities({
      customSources,
      ...(options.allowEnv ? { allowEnv: options.allowEnv } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    }),
    ...createCompileActivity({ customSources, ...(options.allowEnv ? { allowEnv: options.allowEnv } : {}) }),
  };
  try {
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowBundle: await (await import('./engine/workflow-bundle.ts')).workflowBundle({ failureConverterPath: dataConverter?.failureConverterPath, traced: Boolean(traced) }),
      activities,
      ...(traced ? { interceptors: traced.interceptors, sinks: traced.sinks } : {}),
      dataConverter,
      maxConcurrentActivityTaskExecutions,
      ...(options.maxConcurrentWorkflowTasks ? { maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTasks } : {}),
      ...fleet,
      // A batch heartbeats its checkpoint after every page: sent at least this often, a crash loses little.
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
      // A worker that stops must hand its page back quickly; pages are idempotent, so a retry elsewhere is safe.
      shutdownGraceTime,
      // Only a backstop for shutdowns that do not come through BizonWorker.shutdown() (which gives up sooner).
      shutdownForceTime: shutdownForceTime + SHUTDOWN_FORCE_MARGIN_MS,
      // When a worker dies, its workflows wait this long on its sticky queue before another worker takes them.
      stickyQueueScheduleToStartTimeout: '3s',
    });
    const drain = () => worker.run();
    let giveUp: () => void = () => undefined;
    const givenUp = new Promise<'abandoned'>((resolve) => (giveUp = () => resolve('abandoned')));
    let giveUpTimer: ReturnType<typeof setTimeout> | undefined;
    return {
      worker,
      connection,
      async run() {
        const drained = drain();
        drained.catch(() => undefined);
        let outcome: 'stopped' | 'abandoned';
        try {
          outcome = await Promise.race([drained.then(() => 'stopped' as const), givenUp]);
        } catch (error) {
          await connection.close();
          throw error;
        } finally {
          clearTimeout(giveUpTimer);
        }
        if (outcome === 'abandoned') {
          Runtime.instance().logger.warn(ABANDONED_PAGES_MESSAGE, { taskQueue: worker.options.taskQueue });
          return;
        }
        await connection.close();
      },
      shutdown() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        // A get() that ignores cancellation never lets the SDK finish draining: past this, the worker stops
        // without it (Temporal hands the page to another worker) and the process may exit.
        giveUpTimer ??= setTimeout(giveUp, shutdownForceTime);
      },
    };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
