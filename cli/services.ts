import type { LogLevel } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import ms, { type StringValue } from 'ms';
import { CODEC_KEY_ENV, CODEC_SERVER_TOKEN_ENV, codecFromEnv } from '../engine/codec.ts';
import { startCodecServer } from '../engine/codec-server.ts';
import { isListening, startDevServer } from '../engine/temporal-server.ts';
import { LOCAL_RETENTION_DAYS } from '../engine/constants.ts';
import { createWorker, type WorkerDeployment } from '../worker.ts';
import { UsageError } from './common.ts';
import type { LogFormat } from './logging.ts';
import { installTelemetry } from './metrics.ts';
import { adoptWorkingDirectoryState, localStateFile, resolveTemporalTarget } from './temporal-target.ts';
import { workerConnectOptions } from './connect.ts';
import { startExampleApi } from '../examples/api/server.ts';

/** The options of `bizon worker`. */
interface WorkerCommandOptions {
  customSource: string[];
  logLevel: LogLevel;
  taskQueue?: string;
  namespace?: string;
  metricsPort?: string;
  logFormat?: LogFormat;
  identity?: string;
  maxConcurrentPages: number;
  maxConcurrentWorkflowTasks?: number;
  shutdownGrace: string;
  deploymentName?: string;
  buildId?: string;
  versioningBehavior: string;
}

/** Worker Versioning, when a deployment name and a build id are given (flags, or BIZON_DEPLOYMENT_NAME / BIZON_BUILD_ID). */
function deploymentOf(options: WorkerCommandOptions): WorkerDeployment | undefined {
  const name = options.deploymentName ?? process.env.BIZON_DEPLOYMENT_NAME;
  const buildId = options.buildId ?? process.env.BIZON_BUILD_ID;
  if (!name && !buildId) return undefined;
  if (!name || !buildId) throw new UsageError('Worker Versioning needs both --deployment-name and --build-id (or BIZON_DEPLOYMENT_NAME and BIZON_BUILD_ID).');
  const behaviors = { 'auto-upgrade': 'AUTO_UPGRADE', pinned: 'PINNED' } as const;
  const behavior = behaviors[options.versioningBehavior as keyof typeof behaviors];
  if (!behavior) throw new UsageError(`--versioning-behavior ${options.versioningBehavior}: use auto-upgrade or pinned.`);
  return { name, buildId, behavior };
}

/** `bizon worker`: a long-running worker. */
export async function workerCommand(options: WorkerCommandOptions): Promise<number> {
  const deployment = deploymentOf(options);
  if (ms(options.shutdownGrace as StringValue) === undefined) throw new UsageError(`--shutdown-grace ${options.shutdownGrace}: a duration is expected, e.g. 30s or 2m.`);
  const telemetry = await installTelemetry(options.logLevel, options.metricsPort, options.logFormat);
  const target = await resolveTemporalTarget(undefined, false);
  const worker = await createWorker({
    ...workerConnectOptions(target),
    namespace: options.namespace ?? target.namespace,
    ...(options.identity ? { identity: options.identity } : {}),
    maxConcurrentActivities: options.maxConcurrentPages,
    ...(options.maxConcurrentWorkflowTasks ? { maxConcurrentWorkflowTasks: options.maxConcurrentWorkflowTasks } : {}),
    shutdownGraceTime: options.shutdownGrace as StringValue,
    ...(deployment ? { deployment } : {}),
    taskQueue: options.taskQueue,
    customSourceFiles: options.customSource,
    ...(telemetry.metrics ? { metrics: telemetry.metrics } : {}),
  });
  const stop = () => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stderr.write(`bizon worker polling task queue '${worker.worker.options.taskQueue}' on ${target.address}\n`);
  try {
    await worker.run();
  } finally {
    await telemetry.close();
  }
  return 0;
}

/** `bizon server`: a persistent local Temporal server with its Web UI. */
export async function serverCommand(options: { port: string; uiPort: string; dbFile: string }): Promise<number> {
  const address = `127.0.0.1:${options.port}`;
  if (await isListening(address)) throw new UsageError(`Something already listens on ${address}: is a bizon server already running?`);
  if (options.dbFile === localStateFile()) {
    const moved = adoptWorkingDirectoryState();
    if (moved) process.stderr.write(`${moved}\n`);
  }
  const server = await startDevServer({ port: Number(options.port), uiPort: Number(options.uiPort), dbFile: options.dbFile, retentionDays: LOCAL_RETENTION_DAYS });
  process.stderr.write(`Temporal server on ${server.address} (state in ${options.dbFile}; closed runs kept ${LOCAL_RETENTION_DAYS} days)\nWeb UI: ${server.uiUrl}\nPress Ctrl-C to stop.\n`);
  const stop = () => void server.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await new Promise<void>((resolve) => server.process.once('exit', () => resolve()));
  return 0;
}

/** `bizon codec-server`: /encode and /decode with BIZON_CODEC_KEY. */
export async function codecServerCommand(options: { port: string; corsOrigin: string[] }): Promise<number> {
  const codec = codecFromEnv();
  if (!codec) throw new UsageError(`Set ${CODEC_KEY_ENV} (32 bytes, base64) to the key the workers use.`);
  const token = process.env[CODEC_SERVER_TOKEN_ENV] || randomBytes(24).toString('base64url');
  const server = await startCodecServer(codec, { token, port: Number(options.port), corsOrigins: options.corsOrigin });
  process.stderr.write(
    `Codec server on ${server.url} (key ${codec.keyId}); it answers only requests with its token.\n` +
      `In the Web UI, set the Codec Server endpoint to ${server.endpoint}\n` +
      `(the temporal CLI: --codec-endpoint ${server.url} --codec-auth "Bearer <token>"; ${CODEC_SERVER_TOKEN_ENV} sets the token).\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}


/** `bizon example-api`: the local API the examples and `bizon init source` point at, until Ctrl-C. */
export async function exampleApiCommand(options: { port: string; token?: string; latency: string }): Promise<number> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${options.port}: a port number is expected (0 picks a free one)`);
  const address = `127.0.0.1:${port}`;
  if (port > 0 && (await isListening(address))) throw new UsageError(`Something already listens on ${address}: is the example API already running? (--port chooses another)`);
  const latencyMs = Number(options.latency);
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new UsageError(`--latency ${options.latency}: milliseconds, 0 or more, are expected`);
  const token = options.token ?? process.env.EXAMPLE_API_TOKEN;
  const api = await startExampleApi({
    port,
    token,
    latencyMs,
    signing: { apiKey: 'example-key', apiSecret: process.env.EXAMPLE_API_SECRET ?? 'example-secret' },
  });
  const streams = Object.entries(api.data).map(([stream, items]) => `${stream} (${items.length})`);
  process.stdout.write(
    `Example API on ${api.url}${token ? ' (token required: Authorization: Bearer <token>)' : ''}\n` +
      `Streams: ${streams.join(', ')}, paged as GET /<stream>?page=1&limit=100 (also under /cursor/, /offset/, /total-pages/, /link/, /next-url/, /rest/, /signed/)\n` +
      'Press Ctrl-C to stop.\n',
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await api.close();
  return 0;
}
