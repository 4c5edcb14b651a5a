/** The `bizon` command: this file maps commands to their handlers in cli/, and only it owns the process. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import type { LogLevel } from '@temporalio/worker';
import { EXIT_SYNC_FAILED, EXIT_USAGE, UsageError } from './cli/common.ts';
import type { RunOptions } from './cli/run.ts';
import { localStateFile, startTargetEarly } from './cli/temporal-target.ts';
import { CODEC_KEY_ENV, LOCAL_SERVER_ADDRESS, LOCAL_UI_PORT } from './engine/constants.ts';
import { PACKAGE_ROOT } from './engine/package-root.ts';
import { ALLOW_ENV_VARIABLE } from './config/secrets.ts';
import { ConfigError } from './errors.ts';

// Command handlers are imported when their command runs: the Temporal SDK takes a second to load, and
// `bizon run` starts its local server meanwhile.
const runHandler = () => import('./cli/run.ts');
const scheduleHandlers = () => import('./cli/schedule.ts');
const serviceHandlers = () => import('./cli/services.ts');
const sourceHandlers = () => import('./cli/sources.ts');
import type { SchemaKind } from './cli/sources.ts';
const statusHandlers = () => import('./cli/status.ts');
const tryHandlers = () => import('./cli/try-source.ts');

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

function parseLogLevel(value: string): LogLevel {
  const level = value.toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('a whole number of at least 1 is expected.');
  return number;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Loads `--env-file` files, then `./.env` when present (as bizon does): a variable already set in the
 * environment keeps its value, and an earlier file wins over a later one.
 */
function loadEnvFiles(files: readonly string[]): void {
  for (const file of files) {
    if (!existsSync(file)) throw new UsageError(`--env-file ${file}: no such file`);
    process.loadEnvFile(file);
  }
  if (existsSync('.env')) process.loadEnvFile('.env');
}

/** `--allow-env`: what this process's pipelines may read besides BIZON_ENV_* variables, for every part of it. */
function allowEnv(names: readonly string[]): void {
  if (names.length === 0) return;
  process.env[ALLOW_ENV_VARIABLE] = [process.env[ALLOW_ENV_VARIABLE], ...names].filter(Boolean).join(',');
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('bizon')
    .description('Extract data from any API with TypeScript sources, run as durable Temporal syncs.')
    .version(packageVersion())
    .option('--env-file <file>', 'load environment variables (secrets) from this file; ./.env is loaded when present (repeatable)', collect, [])
    .option('--allow-env <name>', "let pipelines read this environment variable besides BIZON_ENV_* ones (a prefix: 'AWS_*'; repeatable; also BIZON_ALLOW_ENV)", collect, [])
    .showHelpAfterError()
    .hook('preAction', async (command, action) => {
      // Before anything is said: with --log-format json, even the first line and a usage error are JSON.
      if (action.opts<{ logFormat?: string }>().logFormat === 'json') (await import('./cli/json-output.ts')).writeEveryLineAsJson();
      loadEnvFiles(command.opts<{ envFile: string[] }>().envFile);
      allowEnv(command.opts<{ allowEnv: string[] }>().allowEnv);
    });
  const customSourceOption = () => new Option('--custom-source <file>', 'a .ts/.js file of custom sources (repeatable)').argParser(collect).default([]);
  const logFormatOption = () =>
    new Option('--log-format <format>', "text | json: every line the command writes as a JSON object (time, level, message; the worker's also workflow and run ids, activity, attempt, pipeline, stream)")
      .choices(['text', 'json'])
      .default('text');
  const logLevelOption = (fallback: LogLevel) => new Option('--log-level <level>', 'TRACE | DEBUG | INFO | WARN | ERROR').argParser(parseLogLevel).default(fallback);
  const run = (action: () => Promise<number>) => action().then(setExit);

  program
    .command('run')
    .description('run a pipeline as a Temporal workflow and wait for it (several: all started from this process, each verdict printed)')
    .argument('<config...>', 'pipeline YAML file(s)')
    .addOption(customSourceOption())
    .addOption(logLevelOption('ERROR'))
    .option('--no-worker', 'do not run a worker in this process (workers run elsewhere)')
    .option('--detach', 'start the sync and return without waiting', false)
    .option('--attach', 'when this pipeline is already running with another config, follow that sync instead of refusing', false)
    .option('--reset', 're-read the whole stream, replace the destination, and make this run the new watermark', false)
    .option('--force-ignore-checkpoint', 'start from page one even if the last run failed and left a checkpoint', false)
    .option('--allow-literal-secrets', 'start although credentials are written literally in the config (they are not secret); refused otherwise', false)
    .option('--result-json <path>', 'write the outcome (status, failure class, records, pages, duration, error) to this file as JSON')
    .option('--metrics-port <port>', "serve Prometheus metrics of this command's worker on this port (or host:port) at /metrics")
    .addOption(logFormatOption())
    .action((configs: string[], options: RunOptions) =>
      run(async () => {
        if (configs.length > 1) return (await import('./cli/run-many.ts')).runManyCommand(configs, options);
        const [config] = configs as [string];
        const early = options.worker && !options.detach ? startTargetEarly(config) : undefined;
        return (await runHandler()).runCommand(config, options, early);
      }),
    );

  program
    .command('backfill')
    .description("read a date range of a pipeline's declarative streams again, appending to its output, as a sync of its own: the pipeline's watermark does not move")
    .argument('<config>', 'pipeline YAML file')
    .requiredOption('--from <time>', 'start of the range (ISO 8601, included)')
    .requiredOption('--to <time>', 'end of the range (ISO 8601, excluded)')
    .addOption(customSourceOption())
    .addOption(logLevelOption('ERROR'))
    .option('--no-worker', 'do not run a worker in this process (workers run elsewhere)')
    .option('--detach', 'start the backfill and return without waiting', false)
    .option('--result-json <path>', 'write the outcome to this file as JSON')
    .addOption(logFormatOption())
    .action((config: string, options: Omit<RunOptions, 'attach' | 'reset' | 'forceIgnoreCheckpoint' | 'allowLiteralSecrets'> & { from: string; to: string }) =>
      run(async () => {
        const [{ readPipelineYaml }, { backfillPipeline }] = await Promise.all([import('./config/pipeline.ts'), import('./config/backfill.ts')]);
        const written = (await readPipelineYaml(config)) as Record<string, unknown>;
        const pipeline = backfillPipeline(written, options);
        process.stderr.write(`Backfilling ${options.from} → ${options.to} as pipeline '${String(pipeline.name)}': it appends to the output; the watermark of '${String(written.name)}' does not move\n`);
        return (await runHandler()).runCommand(pipeline, { attach: false, reset: false, forceIgnoreCheckpoint: false, allowLiteralSecrets: false, ...options });
      }),
    );

  program
    .command('worker')
    .description('run a long-lived worker that executes syncs')
    .addOption(customSourceOption())
    .addOption(logLevelOption('INFO'))
    .option('--task-queue <name>', 'task queue to poll (default: bizon)')
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE, the Temporal config profile, else default)')
    .option('--identity <name>', 'name of this worker in the Web UI and history (default: pid@host)')
    .option('--max-concurrent-pages <n>', 'page activities this worker runs at once', positiveInteger, 100)
    .option('--max-concurrent-workflow-tasks <n>', 'workflow tasks this worker runs at once', positiveInteger)
    .option('--shutdown-grace <duration>', 'on SIGTERM, how long pages in flight may finish before they are cancelled (and retried elsewhere)', '5s')
    .option('--deployment-name <name>', "Worker Versioning: the worker deployment this worker belongs to (with --build-id; env BIZON_DEPLOYMENT_NAME)")
    .option('--build-id <id>', 'Worker Versioning: the version of the code this worker runs (env BIZON_BUILD_ID)')
    .option('--versioning-behavior <behavior>', 'Worker Versioning: auto-upgrade (a running sync moves to the current version) or pinned (it finishes on its own version)', 'auto-upgrade')
    .option('--metrics-port <port>', 'serve Prometheus metrics (bizon\'s and the Temporal SDK\'s) on this port (or host:port, e.g. 0.0.0.0:9464) at /metrics')
    .addOption(logFormatOption())
    .action((options) => run(async () => (await serviceHandlers()).workerCommand(options)));

  program
    .command('server')
    .description('run a persistent local Temporal server with its Web UI')
    .option('--port <port>', 'frontend port', LOCAL_SERVER_ADDRESS.split(':')[1])
    .option('--ui-port <port>', 'Web UI port', String(LOCAL_UI_PORT))
    .option('--db-file <file>', 'SQLite file keeping the server state', localStateFile())
    .action((options) => run(async () => (await serviceHandlers()).serverCommand(options)));

  program
    .command('example-api')
    .description('serve the local example API the examples and `bizon init source` point at (users, orders, products, events)')
    .option('--port <port>', 'port on 127.0.0.1 (0 picks a free one)', '8765')
    .option('--token <token>', 'require Authorization: Bearer <token> (default: EXAMPLE_API_TOKEN, else none)')
    .option('--latency <ms>', 'delay of each answer, in milliseconds', '0')
    .action((options: { port: string; token?: string; latency: string }) => run(async () => (await serviceHandlers()).exampleApiCommand(options)));

  program
    .command('codec-server')
    .description(`serve /encode and /decode with the ${CODEC_KEY_ENV} key, so the Web UI can show decrypted history`)
    .option('--port <port>', 'port on 127.0.0.1', '8888')
    .option('--cors-origin <url>', 'a Web UI origin allowed to call it (repeatable)', collect, [`http://127.0.0.1:${LOCAL_UI_PORT}`, `http://localhost:${LOCAL_UI_PORT}`])
    .action((options: { port: string; corsOrigin: string[] }) => run(async () => (await serviceHandlers()).codecServerCommand(options)));

  const source = program.command('source').description('list sources (built-in and --custom-source files)');
  source
    .command('list')
    .description('list built-in sources and those of --custom-source files')
    .addOption(customSourceOption())
    .action((options) => run(async () => (await sourceHandlers()).sourceListCommand(options)));

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
    .option('--allow-literal-secrets', 'create it although credentials are written literally in the config (they are not secret)', false)
    .action((config: string, options) => run(async () => (await scheduleHandlers()).scheduleCreateCommand(config, options)));
  schedule
    .command('list')
    .description('list bizon schedules')
    .action(() => run(async () => (await scheduleHandlers()).scheduleListCommand()));
  schedule
    .command('describe')
    .description('show a schedule: spec, state, next and recent runs')
    .argument('<schedule>', 'schedule id or pipeline name')
    .action((id: string) => run(async () => (await scheduleHandlers()).scheduleDescribeCommand(id)));
  for (const action of ['trigger', 'pause', 'unpause', 'delete'] as const) {
    schedule
      .command(action)
      .description(`${action} a schedule`)
      .argument('<schedule>', 'schedule id or pipeline name')
      .option('--note <text>', 'why (pause/unpause)')
      .action((id: string, options: { note?: string }) => run(async () => (await scheduleHandlers()).scheduleActionCommand(action, id, options.note)));
  }
  schedule
    .command('backfill')
    .description('run the syncs the schedule would have run in a past period')
    .argument('<schedule>', 'schedule id or pipeline name')
    .requiredOption('--start <date>', 'ISO 8601 start')
    .requiredOption('--end <date>', 'ISO 8601 end')
    .action((id: string, options: { start: string; end: string }) => run(async () => (await scheduleHandlers()).scheduleBackfillCommand(id, options)));

  program
    .command('status')
    .description('latest runs of a pipeline: status, pages, records, watermark, Web UI link')
    .argument('<pipeline>', 'pipeline name or YAML file')
    .option('--watch', 'follow the running sync with a live progress line', false)
    .option('--limit <n>', 'how many runs', '10')
    .action((value: string, options: { watch: boolean; limit: string }) => run(async () => (await statusHandlers()).statusCommand(value, options)));

  program
    .command('cancel')
    .description('cancel the running sync of a pipeline (nothing half-published; the checkpoint is kept)')
    .argument('<pipeline>', 'pipeline name or YAML file')
    .action((value: string) => run(async () => (await statusHandlers()).cancelCommand(value)));

  program
    .command('check')
    .description('check a pipeline without Temporal: config, secrets, the source\'s connection and count, the destination')
    .argument('<config>', 'pipeline YAML file')
    .addOption(customSourceOption())
    .action((config: string, options) => run(async () => (await tryHandlers()).checkCommand(config, options)));

  program
    .command('dry-run')
    .description('call the source directly for a few pages and show what it returns (no Temporal, nothing written)')
    .argument('<config>', 'pipeline YAML file')
    .addOption(customSourceOption())
    .option('--pages <n>', 'pages to read at most', '3')
    .option('--records <n>', 'records shown per page (table and json)', '3')
    .option('--output <format>', 'table | json | ndjson (every record, one per line)', 'table')
    .option('--since <time>', 'call getRecordsAfter() with this watermark: an ISO 8601 time, or a duration before now (2h, 7d)')
    .option('--stream <name>', 'with source.streams: the stream to read (default: the first)')
    .option('--record <dir>', 'save every HTTP response into this directory, for testSource() (bizon-temporal/testing) to replay')
    .action((config: string, options) => run(async () => (await tryHandlers()).dryRunCommand(config, options)));

  program
    .command('schema')
    .description('print the JSON Schema of a pipeline file (with the config of the --custom-source files), for editors; or of the bizonPipeline workflow\'s input or result, for clients in any language')
    .addArgument(new Argument('[what]', 'which schema').choices(['pipeline', 'workflow-input', 'workflow-result']).default('pipeline'))
    .addOption(customSourceOption())
    .option('--output <file>', 'write it to this file instead of stdout')
    .action((what: SchemaKind, options) => run(async () => (await sourceHandlers()).schemaCommand(what, options)));

  program
    .command('init')
    .description('scaffold a new source')
    .command('source')
    .description('write a commented source file and a pipeline config, ready to dry-run against the local example API')
    .argument('<name>', 'the source name (lowercase, _)')
    .option('--dir <dir>', 'where its folder goes', '.')
    .option('--api-url <url>', 'the API the config points at', 'http://127.0.0.1:8765')
    .action((name: string, options: { dir: string; apiUrl: string }) => run(async () => (await import('./cli/init.ts')).initSourceCommand(name, options)));

  const stream = program.command('stream').description('the streams of a source; reset a pipeline stream');
  stream
    .command('list')
    .description('list the streams of a source and the sync modes each supports')
    .argument('<source>', 'source name')
    .addOption(customSourceOption())
    .action((name: string, options) => run(async () => (await sourceHandlers()).streamListCommand(name, options)));
  stream
    .command('reset')
    .description("forget a pipeline stream's watermark and checkpoint: its next run reads the whole stream and replaces the output")
    .argument('<config>', 'pipeline YAML file')
    .option('--stream <name>', 'with source.streams: only this stream (default: every stream)')
    .action((config: string, options: { stream?: string }) => run(async () => (await statusHandlers()).streamResetCommand(config, options)));
  return program;
}

/**
 * Node warns (DEP0123) when a TLS client sends an IP address as the server name, which gRPC does for a
 * Temporal address like `10.0.0.5:7233`: the connection is fine, and the warning would only confuse.
 */
function quietIpServerNameWarning(): void {
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const [, type, code] = args;
    if (code === 'DEP0123' || (typeof type === 'object' && (type as { code?: string } | null)?.code === 'DEP0123')) return;
    emitWarning(...args);
  }) as typeof process.emitWarning;
}

async function main(): Promise<void> {
  quietIpServerNameWarning();
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
      const { describeFailure } = await import('./cli/failure.ts');
      const failure = describeFailure(error);
      process.stderr.write(`Error: ${failure.message}\n${failure.details.map((line) => `  ${line}\n`).join('')}`);
      exitCode = EXIT_SYNC_FAILED;
    }
  }
  process.exit(exitCode);
}

await main();
