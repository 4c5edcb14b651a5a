import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../engine/temporal-server.ts';

/** A Postgres the tests own: a cluster of their own on a free 127.0.0.1 port, or `BIZON_TEST_POSTGRES_URL`. */
export interface TestPostgres {
  /** A connection string to a fresh database created for the caller. */
  createDatabase(prefix: string): Promise<string>;
  /** Stops the cluster (if the tests started it) and removes its files. */
  stop(): Promise<void>;
  /** Stops the server, keeping its data (a Postgres outage mid-sync); only for a cluster the tests started. */
  pause?(): void;
  /** Starts it again after {@link TestPostgres.pause}. */
  resume?(): void;
  /** CPU ms (user + system) its processes have used, those gone included; only on a cluster the tests started. */
  cpuMs?(): number;
  /** A role that must log in with a password over TCP (scram-sha-256); only on a cluster the tests started. */
  passwordRole?: { host: string; port: number; user: string; password: string };
}

const PASSWORD_ROLE = { user: 'bizon_password', password: 'pw-s3cret-7f2a' };

/** The directory of Debian's Postgres binaries (`/usr/lib/postgresql/<version>/bin`), newest first. */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) if (existsSync(path.join(root, version, 'bin', 'initdb'))) return path.join(root, version, 'bin');
  throw new Error('Postgres is not installed: scripts/setup.sh --for-tests installs Debian\'s postgresql package (or set BIZON_TEST_POSTGRES_URL)');
}

/** Postgres refuses to run as root: as root, the cluster runs as the `postgres` user the package creates. */
function asServerUser(binary: string, args: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', binary, ...args] : [binary, ...args];
}

function run(command: string[]): void {
  const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
}

/**
 * Starts the tests' Postgres: `BIZON_TEST_POSTGRES_URL` when set, else a new cluster in a temp dir (without fsync,
 * unless `fsync` asks for a durable one, as a benchmark does).
 */
export async function startTestPostgres(options: { fsync?: boolean } = {}): Promise<TestPostgres> {
  const external = process.env.BIZON_TEST_POSTGRES_URL;
  const databases: string[] = [];
  const admin = async (url: string, sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const createIn = (baseUrl: string) => async (prefix: string) => {
    const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`.replace(/[^a-z0-9_]/g, '_');
    await admin(baseUrl, `CREATE DATABASE ${name}`);
    databases.push(name);
    const url = new URL(baseUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  if (external) {
    return {
      createDatabase: createIn(external),
      async stop() {
        for (const name of databases) await admin(external, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      },
    };
  }

  const bin = postgresBinDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'bizon-pg-'));
  const dataDir = path.join(dir, 'data');
  chmodSync(dir, 0o700);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  run(asServerUser(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'bizon', '-A', 'trust', '-E', 'UTF8', '--no-sync']));
  const pgCtl = (action: string) =>
    run(asServerUser(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-l', path.join(dir, 'server.log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${options.fsync ? '' : ' -c fsync=off'}`, action]));
  // One role logs in with a password over TCP, the rest without: the tests of credentials need a server that checks them.
  const hba = path.join(dataDir, 'pg_hba.conf');
  writeFileSync(hba, `host all ${PASSWORD_ROLE.user} 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
  pgCtl('start');
  const baseUrl = `postgres://bizon@127.0.0.1:${port}/postgres`;
  await admin(baseUrl, `CREATE ROLE ${PASSWORD_ROLE.user} LOGIN SUPERUSER PASSWORD '${PASSWORD_ROLE.password}'`);
  return {
    passwordRole: { host: '127.0.0.1', port, ...PASSWORD_ROLE },
    createDatabase: createIn(baseUrl),
    async stop() {
      run(asServerUser(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']));
      rmSync(dir, { recursive: true, force: true });
    },
    cpuMs() {
      return clusterCpuMs(Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]));
    },
    pause() {
      run(asServerUser(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']));
    },
    resume() {
      pgCtl('start');
    },
  };
}

/** CPU ms of a process (with its reaped children) and of its live children: Postgres runs a process per connection. */
function clusterCpuMs(postmaster: number): number {
  const stat = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = (fields: string[], withChildren: boolean) => Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  let total = ticks(stat(String(postmaster)), true);
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const fields = stat(pid);
      if (Number(fields[1]) === postmaster) total += ticks(fields, false);
    } catch {
      // gone since the listing
    }
  }
  return total * 10;
}
