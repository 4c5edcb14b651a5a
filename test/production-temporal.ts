import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import Long from 'long';
import { freePort } from '../engine/temporal-server.ts';
import { startTestPostgres, type TestPostgres } from './postgres.ts';
import { tempDir } from './helpers.ts';

/** The version `scripts/setup.sh --for-tests` builds (v1.31+ need a newer Go than the machines have). */
export const TEMPORAL_SERVER_VERSION = 'v1.30.4';

/** Where `scripts/setup.sh --for-tests` puts the server and its schema tool (`BIZON_TEST_TEMPORAL_SERVER_DIR` overrides). */
export function temporalServerDir(): string {
  return process.env.BIZON_TEST_TEMPORAL_SERVER_DIR ?? path.join(homedir(), '.cache', 'bizon-temporal', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

/** A Temporal server as production runs it: Postgres persistence, SQL visibility, 4 history shards. */
export interface ProductionTemporal {
  address: string;
  /** Where the server serves its Prometheus metrics. */
  metricsUrl: string;
  /** CPU ms (user + system) of the server process and of its Postgres so far. */
  cpuMs(): { server: number; postgres: number };
  /** Registers a namespace and waits until the frontend serves it. */
  createNamespace(name: string): Promise<void>;
  /** The server's log so far (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${path.basename(command)} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
}

/**
 * Starts `temporal-server` (the real server, not the dev server) on free 127.0.0.1 ports, on a Postgres cluster of
 * its own whose two databases the server's schema tool sets up, and waits until its frontend answers. `durable`: a
 * Postgres that syncs its writes to disk (the tests' does not).
 */
export async function startProductionTemporal(options: { durable?: boolean } = {}): Promise<ProductionTemporal> {
  const dir = temporalServerDir();
  const server = path.join(dir, 'server');
  const sqlTool = path.join(dir, 'sql');
  if (!existsSync(server) || !existsSync(sqlTool)) {
    throw new Error(`The Temporal server ${TEMPORAL_SERVER_VERSION} is not built in ${dir}: run scripts/setup.sh --for-tests (it builds it with go install)`);
  }
  let postgres: TestPostgres | undefined;
  let child: ChildProcess | undefined;
  const work = tempDir('bizon-temporal-server-');
  const logFile = path.join(work, 'server.log');
  try {
    postgres = await startTestPostgres({ fsync: options.durable ?? false });
    const databases = { default: await postgres.createDatabase('temporal'), visibility: await postgres.createDatabase('temporal_visibility') };
    for (const [url, schema] of [
      [databases.default, 'postgresql/v12/temporal'],
      [databases.visibility, 'postgresql/v12/visibility'],
    ] as const) {
      const { hostname, port, pathname, username } = new URL(url);
      const connection = ['--plugin', 'postgres12', '--endpoint', hostname, '--port', port, '--user', username, '--database', pathname.slice(1)];
      run(sqlTool, [...connection, 'setup-schema', '--version', '0.0']);
      run(sqlTool, [...connection, 'update-schema', '--schema-name', schema]);
    }
    const ports = { grpc: [0, 0, 0, 0], membership: [0, 0, 0, 0], http: 0 };
    for (let i = 0; i < 4; i++) {
      ports.grpc[i] = await freePort();
      ports.membership[i] = await freePort();
    }
    ports.http = await freePort();
    const metricsPort = await freePort();
    const address = `127.0.0.1:${ports.grpc[0]}`;
    const datastore = (url: string) => {
      const { hostname, port, pathname, username } = new URL(url);
      return { sql: { pluginName: 'postgres12', databaseName: pathname.slice(1), connectAddr: `${hostname}:${port}`, connectProtocol: 'tcp', user: username, password: '', maxConns: 20, maxIdleConns: 20, maxConnLifetime: '1h' } };
    };
    const service = (index: number, extra: Record<string, unknown> = {}) => ({ rpc: { grpcPort: ports.grpc[index], membershipPort: ports.membership[index], bindOnLocalHost: true, ...extra } });
    const dynamicConfig = path.join(work, 'dynamicconfig.yaml');
    writeFileSync(dynamicConfig, '{}\n');
    const config = {
      log: { stdout: true, level: 'warn' },
      persistence: { defaultStore: 'default', visibilityStore: 'visibility', numHistoryShards: 4, datastores: { default: datastore(databases.default), visibility: datastore(databases.visibility) } },
      global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, metrics: { prometheus: { timerType: 'histogram', listenAddress: `127.0.0.1:${metricsPort}` } } },
      services: { frontend: service(0, { httpPort: ports.http }), history: service(1), matching: service(2), worker: service(3) },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: address } },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      dynamicConfigClient: { filepath: dynamicConfig, pollInterval: '10s' },
    };
    // JSON is YAML: the server reads this file as its config.
    const configFile = path.join(work, 'config.yaml');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const log = createWriteStream(logFile);
    const started = spawn(server, ['--config-file', configFile, '--allow-no-auth', 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout.pipe(log);
    started.stderr.pipe(log);
    const exited = new Promise<never>((_, reject) => started.once('exit', (code) => reject(new Error(`temporal-server exited (${code}) while starting: ${readFileSync(logFile, 'utf8').slice(-2000)}`))));
    exited.catch(() => undefined);
    await Promise.race([untilServing(address, 'temporal-system', 90_000), exited]);

    const stopPostgres = postgres;
    return {
      address,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      cpuMs: () => {
        const fields = readFileSync(`/proc/${started.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return { server: (Number(fields[11]) + Number(fields[12])) * 10, postgres: stopPostgres.cpuMs?.() ?? 0 };
      },
      async createNamespace(name) {
        const connection = await Connection.connect({ address });
        try {
          await connection.workflowService.registerNamespace({ namespace: name, workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) } });
        } finally {
          await connection.close();
        }
        await untilServing(address, name, 60_000);
      },
      log: () => readFileSync(logFile, 'utf8'),
      async stop() {
        await stopServer(started);
        await stopPostgres.stop();
      },
    };
  } catch (error) {
    if (child) await stopServer(child);
    await postgres?.stop();
    throw error;
  }
}

/** Waits until the frontend lists the namespace's workflows (a new namespace is served a few seconds after it is registered). */
async function untilServing(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  throw new Error(`temporal-server did not serve namespace ${namespace} within ${timeoutMs / 1000} s: ${(last as Error)?.message}`);
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killer);
}
