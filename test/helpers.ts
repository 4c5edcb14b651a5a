import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parse, stringify } from 'yaml';
import { inject } from 'vitest';
import type { DestinationRow } from '../destinations/destination.ts';
import { getProgress } from '../client.ts';
import { createWorker } from '../worker.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIZON = path.join(ROOT, 'bin', 'bizon.mjs');
/** The seed's page-number source (`examples/page`). */
export const PAGE_SOURCE = path.join(ROOT, 'examples', 'page', 'source.ts');
/** The seed's full REST API source (`examples/rest-api`): cursor pages, a total count, `getRecordsAfter`. */
export const REST_SOURCE = path.join(ROOT, 'examples', 'rest-api', 'source.ts');

/** A fresh temporary directory. */
export function tempDir(prefix = 'bizon-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A name no other test uses (pipeline names, task queues). */
export function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Writes a pipeline config as YAML and returns its path. */
export function writeConfig(dir: string, config: unknown, name = 'config.yml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

/** Reads an example's config.yml (or another of its files) as an object, to adapt it to the test's API and directories. */
export function readExampleConfig(example: string, file = 'config.yml'): Record<string, any> {
  return parse(readFileSync(path.join(ROOT, 'examples', example, file), 'utf8'));
}

/** Rows of an NDJSON output file. */
export function readRows(file: string): DestinationRow[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DestinationRow);
}

/** Environment for a CLI process: the suite's Temporal server, no inherited TEMPORAL_* surprises. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), NO_COLOR: '1', ...extra };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Spawns `bizon <args>`. */
export function spawnBizon(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, [BIZON, ...args], { cwd: options.cwd ?? ROOT, env: options.env ?? cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Spawns `bizon worker` on `taskQueue` with the page source (or the given custom sources), logging only errors. */
export function spawnWorker(taskQueue: string, options: { customSources?: string[]; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const sources = (options.customSources ?? [PAGE_SOURCE]).flatMap((file) => ['--custom-source', file]);
  return spawnBizon(['worker', ...sources, '--task-queue', taskQueue, '--log-level', 'ERROR'], { env: options.env });
}

/** A `bizon` process the test reads while it runs. */
export interface FollowedBizon {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr matches `pattern`; rejects if the process exits first. */
  waitForStderr(pattern: RegExp): Promise<void>;
  /** The exit code. */
  exited: Promise<number | null>;
}

/** Spawns `bizon <args>` and keeps what it prints, so a test can wait for a line before it acts. */
export function followBizon(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): FollowedBizon {
  const child = spawnBizon(args, options);
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const listener of listeners) listener();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStderr(pattern) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(stderr)) return;
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
        void exited.then((code) => {
          if (listeners.delete(check)) reject(new Error(`bizon ${args[0]} exited (${code}) before printing ${pattern}:\n${stderr}`));
        });
      });
    },
  };
}

/**
 * Waits until the sync's progress reports `page` checkpointed: by the workflow, or by the heartbeat of its
 * batch in flight (polls the workflow; the pages themselves are paced by the test).
 */
export async function waitForPage(client: Client, workflowId: string, page: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const progress = await getProgress(client, workflowId).catch(() => ({ iteration: 0 }));
    if (progress.iteration >= page) return;
    if (Date.now() > deadline) throw new Error(`${workflowId}: page ${page} never came`);
    await sleep(50);
  }
}

/** Waits until `workflow` is running an activity of type `activityType` (a launcher or pipeline waiting for a running sync). */
export async function waitForPendingActivity(workflow: WorkflowHandle, activityType: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const description = await workflow.describe();
    if (description.raw.pendingActivities?.some((activity) => activity.activityType?.name === activityType)) return;
    if (Date.now() > deadline) throw new Error(`${workflow.workflowId} never ran ${activityType}`);
    await sleep(50);
  }
}

/** Runs `bizon <args>` to the end. */
export async function runBizon(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const started = Date.now();
  const child = spawnBizon(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 150_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  return { code, stdout, stderr, durationMs: Date.now() - started };
}

/** A client of the suite's Temporal server. Close its connection when done. */
export async function testClient(): Promise<Client> {
  return new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
}

/** In-process workers of a test log only errors (failed attempts are expected there). */
export function quietWorkerLogs(): void {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/** A client and an in-process worker on a task queue of their own, for tests that drive syncs through `client.ts`. */
export interface TestEngine {
  client: Client;
  taskQueue: string;
  stop(): Promise<void>;
}

/** Starts a {@link TestEngine}; call `stop()` in `afterAll`. */
export async function startTestEngine(customSourceFiles: string[], prefix = 'engine'): Promise<TestEngine> {
  const taskQueue = unique(prefix);
  const client = await testClient();
  const worker = await createWorker({ address: inject('temporalAddress'), taskQueue, customSourceFiles });
  const running = worker.run();
  return {
    client,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await client.connection.close();
    },
  };
}

/**
 * The failure a user sees at the bottom of a failed sync's cause chain (the activity's own message); throws when
 * the sync succeeded.
 */
export async function failureOf(running: Promise<unknown>): Promise<string> {
  const error = await running.then(
    () => undefined,
    (caught: unknown) => caught as Error & { cause?: Error & { cause?: Error } },
  );
  if (!error) throw new Error('the sync should have failed, and succeeded');
  return String(error.cause?.cause?.message ?? error.cause?.message ?? error.message);
}
