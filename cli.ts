import { Command, InvalidArgumentError, Option } from 'commander';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { connectTo } from './cli/connect.ts';
import { prepareSync, startSync, waitForResult } from './client.ts';
import { describeFailure } from './cli/failure.ts';
import {
  scheduleActionCommand,
  scheduleBackfillCommand,
  scheduleCreateCommand,
  scheduleDescribeCommand,
  scheduleListCommand,
} from './cli/schedule.ts';
import { cancelCommand, statusCommand } from './cli/status.ts';
import { formatSummary, watchProgress } from './cli/progress.ts';
import { localStateFile, resolveTemporalTarget, workflowUrl } from './cli/temporal-target.ts';
import { LOCAL_SERVER_ADDRESS, LOCAL_UI_PORT } from './engine/constants.ts';
import { CODEC_KEY_ENV, codecFromEnv } from './engine/codec.ts';
import { startCodecServer } from './engine/codec-server.ts';
import { isListening, startDevServer } from './engine/temporal-server.ts';
import { ConfigError } from './sources/errors.ts';
import { BUILTIN_SOURCES, loadCustomSources, resolveSourceClass, supportsIncremental } from './sources/registry.ts';
import type { SyncResult } from './workflows/types.ts';
import { createWorker, type BizonWorker } from './worker.ts';

/** Exit codes: 1 = the sync failed, 2 = the command or config is wrong (nothing was started). */
const EXIT_SYNC_FAILED = 1;
const EXIT_USAGE = 2;

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

function parseLogLevel(value: string): LogLevel {
  const level = value.toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function installLogger(level: LogLevel): void {
  Runtime.install({ logger: new DefaultLogger(level), telemetryOptions: { logging: { filter: level === 'TRACE' || level === 'DEBUG' ? 'INFO' : 'WARN', forward: {} } } });
}

class UsageError extends Error {}

interface RunOptions {
  customSource: string[];
  logLevel: LogLevel;
  worker: boolean;
  detach: boolean;
  reset: boolean;
  forceIgnoreCheckpoint: boolean;
  strictSecrets: boolean;
}

async function runCommand(configFile: string, options: RunOptions): Promise<number> {
  installLogger(options.logLevel);
  const prepared = await prepareSync({
    config: configFile,
    customSourceFiles: options.customSource,
    checkSecrets: options.worker && !options.detach,
    reset: options.reset,
    forceIgnoreCheckpoint: options.forceIgnoreCheckpoint,
    strictSecrets: options.strictSecrets,
  });
  for (const warning of prepared.warnings) process.stderr.write(`Warning: ${warning}\n`);
  const { pipeline } = prepared;
  const remoteOnly = options.detach || !options.worker;
  const target = await resolveTemporalTarget(pipeline, !remoteOnly);
  let worker: BizonWorker | undefined;
  let workerRun: Promise<void> | undefined;
  let client: Client | undefined;
  const stopAll = async () => {
    worker?.shutdown();
    await workerRun?.catch(() => undefined);
    await client?.connection.close();
    await target.embedded?.stop();
  };
  const onSignal = () => {
    process.stderr.write('\nInterrupted. The sync stays on Temporal: run the same command again to continue it where it stopped.\n');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (target.kind === 'embedded') {
      process.stderr.write(`Started a local Temporal server (state in ${localStateFile()}); Web UI: ${target.uiUrl}\n`);
    }
    client = await connectTo(target);
    if (options.worker && !options.detach) {
      worker = await createWorker({
        address: target.address,
        namespace: target.namespace,
        taskQueue: prepared.taskQueue,
        customSourceFiles: options.customSource,
      });
      workerRun = worker.run();
    }
    const sync = await startSync(client, prepared);
    const label = `${pipeline.name} (${pipeline.source.name}/${pipeline.source.stream})`;
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
      result = (await Promise.race([
        waitForResult(client, sync.workflowId, { onUnreachable }),
        workerRun?.then(() => {
          throw new Error('The worker stopped before the sync finished');
        }) ?? new Promise<never>(() => undefined),
      ])) as SyncResult;
    } catch (error) {
      progress.stop();
      const failure = describeFailure(error);
      process.stderr.write(`✖ Sync failed: ${label}\n  ${failure.message}\n${failure.details.map((line) => `  ${line}\n`).join('')}${link ? `  Web UI: ${link}\n` : ''}`);
      return EXIT_SYNC_FAILED;
    }
    progress.stop();
    process.stderr.write(`✔ Sync succeeded: ${label}\n${formatSummary(result).map((line) => `  ${line}\n`).join('')}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

async function workerCommand(options: { customSource: string[]; logLevel: LogLevel; taskQueue?: string; namespace?: string }): Promise<number> {
  installLogger(options.logLevel);
  const target = await resolveTemporalTarget(undefined, false);
  const worker = await createWorker({
    address: target.address,
    namespace: options.namespace ?? target.namespace,
    taskQueue: options.taskQueue,
    customSourceFiles: options.customSource,
  });
  const stop = () => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stderr.write(`bizon worker polling task queue '${worker.worker.options.taskQueue}' on ${target.address}\n`);
  await worker.run();
  return 0;
}

async function serverCommand(options: { port: string; uiPort: string; dbFile: string }): Promise<number> {
  const address = `127.0.0.1:${options.port}`;
  if (await isListening(address)) throw new UsageError(`Something already listens on ${address}: is a bizon server already running?`);
  const server = await startDevServer({ port: Number(options.port), uiPort: Number(options.uiPort), dbFile: options.dbFile });
  process.stderr.write(`Temporal server on ${server.address} (state in ${options.dbFile})\nWeb UI: ${server.uiUrl}\nPress Ctrl-C to stop.\n`);
  const stop = () => void server.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await new Promise<void>((resolve) => server.process.once('exit', () => resolve()));
  return 0;
}

async function codecServerCommand(options: { port: string; corsOrigin: string[] }): Promise<number> {
  const codec = codecFromEnv();
  if (!codec) throw new UsageError(`Set ${CODEC_KEY_ENV} (32 bytes, base64) to the key the workers use.`);
  const server = await startCodecServer(codec, { port: Number(options.port), corsOrigins: options.corsOrigin });
  process.stderr.write(`Codec server on ${server.url} (key ${codec.keyId}). In the Web UI, set it under "Codec Server".\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

async function sourceListCommand(options: { customSource: string[] }): Promise<number> {
  for (const [name, cls] of Object.entries(BUILTIN_SOURCES)) process.stdout.write(`${name}\tbuilt-in\tstreams: ${cls.streams().join(', ')}\n`);
  for (const source of await loadCustomSources(options.customSource)) {
    process.stdout.write(`${source.exportName}\t${source.file}\tstreams: ${source.cls.streams().join(', ')}\n`);
  }
  return 0;
}

async function streamListCommand(sourceName: string, options: { customSource: string[] }): Promise<number> {
  const customSources = await loadCustomSources(options.customSource);
  const candidates = customSources.length ? customSources.map((source) => source.cls) : [resolveSourceClass(sourceName, BUILTIN_SOURCES[sourceName]?.streams()[0] ?? '', [])];
  for (const cls of candidates) {
    for (const stream of cls.streams()) process.stdout.write(`${stream}\t${supportsIncremental(cls) ? 'full_refresh, incremental' : 'full_refresh'}\n`);
  }
  return 0;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('bizon').description('Extract data from any API with TypeScript sources, run as durable Temporal syncs.').showHelpAfterError();
  const customSourceOption = () => new Option('--custom-source <file>', 'a .ts/.js file of custom sources (repeatable)').argParser(collect).default([]);
  const logLevelOption = (fallback: LogLevel) => new Option('--log-level <level>', 'TRACE | DEBUG | INFO | WARN | ERROR').argParser(parseLogLevel).default(fallback);
  const run = (action: () => Promise<number>) => action().then(setExit);

  program
    .command('run')
    .description('run a pipeline as a Temporal workflow and wait for it')
    .argument('<config>', 'pipeline YAML file')
    .addOption(customSourceOption())
    .addOption(logLevelOption('ERROR'))
    .option('--no-worker', 'do not run a worker in this process (workers run elsewhere)')
    .option('--detach', 'start the sync and return without waiting', false)
    .option('--reset', 're-read the whole stream, replace the destination, and make this run the new watermark', false)
    .option('--force-ignore-checkpoint', 'start from page one even if the last run failed and left a checkpoint', false)
    .option('--strict-secrets', 'refuse credentials written literally in the config instead of warning', false)
    .action((config: string, options: RunOptions) => run(() => runCommand(config, options)));

  program
    .command('worker')
    .description('run a long-lived worker that executes syncs')
    .addOption(customSourceOption())
    .addOption(logLevelOption('INFO'))
    .option('--task-queue <name>', 'task queue to poll (default: bizon)')
    .option('--namespace <name>', 'Temporal namespace (default: default)')
    .action((options) => run(() => workerCommand(options)));

  program
    .command('server')
    .description('run a persistent local Temporal server with its Web UI')
    .option('--port <port>', 'frontend port', LOCAL_SERVER_ADDRESS.split(':')[1])
    .option('--ui-port <port>', 'Web UI port', String(LOCAL_UI_PORT))
    .option('--db-file <file>', 'SQLite file keeping the server state', localStateFile())
    .action((options) => run(() => serverCommand(options)));

  program
    .command('codec-server')
    .description(`serve /encode and /decode with the ${CODEC_KEY_ENV} key, so the Web UI can show decrypted history`)
    .option('--port <port>', 'port on 127.0.0.1', '8888')
    .option('--cors-origin <url>', 'a Web UI origin allowed to call it (repeatable)', collect, [`http://127.0.0.1:${LOCAL_UI_PORT}`, `http://localhost:${LOCAL_UI_PORT}`])
    .action((options: { port: string; corsOrigin: string[] }) => run(() => codecServerCommand(options)));

  const source = program.command('source').description('sources');
  source
    .command('list')
    .description('list built-in sources and those of --custom-source files')
    .addOption(customSourceOption())
    .action((options) => run(() => sourceListCommand(options)));

  const schedule = program.command('schedule').description('run a pipeline on a Temporal Schedule');
  schedule
    .command('create')
    .description('create the schedule of a pipeline')
    .argument('<config>', 'pipeline YAML file')
    .option('--cron <expression>', 'cron expression, e.g. "0 * * * *"')
    .option('--every <interval>', 'fixed interval, e.g. 15m, 1h, 1d')
    .addOption(customSourceOption())
    .option('--overlap <policy>', 'when a sync of the pipeline is running: skip | wait', 'skip')
    .option('--paused', 'create it paused', false)
    .option('--note <text>', 'a note shown with the schedule')
    .action((config: string, options) => run(() => scheduleCreateCommand(config, options)));
  schedule
    .command('list')
    .description('list bizon schedules')
    .action(() => run(() => scheduleListCommand()));
  schedule
    .command('describe')
    .description('show a schedule: spec, state, next and recent runs')
    .argument('<schedule>', 'schedule id or pipeline name')
    .action((id: string) => run(() => scheduleDescribeCommand(id)));
  for (const action of ['trigger', 'pause', 'unpause', 'delete'] as const) {
    schedule
      .command(action)
      .description(`${action} a schedule`)
      .argument('<schedule>', 'schedule id or pipeline name')
      .option('--note <text>', 'why (pause/unpause)')
      .action((id: string, options: { note?: string }) => run(() => scheduleActionCommand(action, id, options.note)));
  }
  schedule
    .command('backfill')
    .description('run the syncs the schedule would have run in a past period')
    .argument('<schedule>', 'schedule id or pipeline name')
    .requiredOption('--start <date>', 'ISO 8601 start')
    .requiredOption('--end <date>', 'ISO 8601 end')
    .action((id: string, options: { start: string; end: string }) => run(() => scheduleBackfillCommand(id, options)));

  program
    .command('status')
    .description('latest runs of a pipeline: status, pages, records, watermark, Web UI link')
    .argument('<pipeline>', 'pipeline name or YAML file')
    .option('--watch', 'follow the running sync with a live progress line', false)
    .option('--limit <n>', 'how many runs', '10')
    .action((value: string, options: { watch: boolean; limit: string }) => run(() => statusCommand(value, options)));

  program
    .command('cancel')
    .description('cancel the running sync of a pipeline (nothing half-published; the checkpoint is kept)')
    .argument('<pipeline>', 'pipeline name or YAML file')
    .action((value: string) => run(() => cancelCommand(value)));

  const stream = program.command('stream').description('streams');
  stream
    .command('list')
    .description('list the streams of a source and the sync modes each supports')
    .argument('<source>', 'source name')
    .addOption(customSourceOption())
    .action((name: string, options) => run(() => streamListCommand(name, options)));
  return program;
}

async function main(): Promise<void> {
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('commander.')) {
      exitCode = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : EXIT_USAGE;
    } else if (error instanceof ConfigError || error instanceof UsageError) {
      process.stderr.write(`Error: ${error.message}\n`);
      exitCode = EXIT_USAGE;
    } else {
      const failure = describeFailure(error);
      process.stderr.write(`Error: ${failure.message}\n${failure.details.map((line) => `  ${line}\n`).join('')}`);
      exitCode = EXIT_SYNC_FAILED;
    }
  }
  process.exit(exitCode);
}

await main();
