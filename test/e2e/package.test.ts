import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../engine/temporal-server.ts';
import { readRows, ROOT, tempDir, unique } from '../helpers.ts';

// The package as a user installs it: `npm pack`, then the tarball installed into a fresh project (a copy under
// node_modules, not a link to this checkout), offline from the npm cache. Everything a user does first is run
// there through `npx bizon`, once with the package as installed and once with its directory read-only; the
// installed files are compared byte for byte afterwards.

const execFileAsync = promisify(execFile);
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');
const MANIFEST = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, any>;
const ROOT_IS_ROOT = process.getuid?.() === 0;

let project: string;
let installed: string;
let before: Map<string, string>;
const running = new Set<ChildProcess>();

/**
 * A lockfile for the user's project: the tarball, and the production packages of this checkout's lockfile (whose
 * tarballs `npm ci` put in the npm cache), so `npm ci --offline` installs it without the registry.
 */
function userLockfile(tarball: string): unknown {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const packages: Record<string, unknown> = {
    '': { name: 'user-project', dependencies: { 'bizon-temporal': tarball } },
    'node_modules/bizon-temporal': { version: MANIFEST.version, resolved: tarball, license: MANIFEST.license, dependencies: MANIFEST.dependencies, bin: MANIFEST.bin, engines: MANIFEST.engines },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || entry.dev) continue;
    const { devOptional, ...rest } = entry;
    packages[key] = devOptional ? { ...rest, optional: true } : rest;
  }
  return { name: 'user-project', lockfileVersion: 3, requires: true, packages };
}

/** sha256 of every file under `dir`, by relative path. */
function fingerprint(dir: string, prefix = ''): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const relative = path.join(prefix, entry.name);
    if (entry.isDirectory()) for (const [file, hash] of fingerprint(path.join(dir, entry.name), relative)) files.set(file, hash);
    else files.set(relative, createHash('sha256').update(readFileSync(path.join(dir, entry.name))).digest('hex'));
  }
  return files;
}

/** Makes every file and folder of the installed package read-only, or writable again (a non-root user). */
function setWritable(writable: boolean, dir = installed): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) setWritable(writable, file);
    if (!entry.isSymbolicLink()) chmodSync(file, writable ? statSync(file).mode | 0o200 : statSync(file).mode & ~0o222);
  }
  chmodSync(dir, writable ? statSync(dir).mode | 0o200 : statSync(dir).mode & ~0o222);
}

/**
 * The command as the user's shell would run it in their project. Read-only: root ignores file modes, so the
 * package's directory is mounted read-only over itself in a mount namespace of the command's own.
 */
function command(argv: string[], readOnly: boolean): [string, string[]] {
  if (!readOnly || !ROOT_IS_ROOT) return [argv[0]!, argv.slice(1)];
  return ['unshare', ['--mount', 'sh', '-c', 'mount --bind -o ro "$0" "$0" && exec "$@"', installed, ...argv]];
}

interface Phase {
  readOnly: boolean;
  env: NodeJS.ProcessEnv;
  dir: string;
}

async function exec(phase: Phase, argv: string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, args] = command(argv, phase.readOnly);
  return execFileAsync(file, args, { cwd: phase.dir, env: phase.env, timeout }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

/** A long-running `bizon` of the installed package (its bin, as `npx` runs it), followed until `ready` is printed. */
async function startBizon(phase: Phase, args: string[], ready: RegExp): Promise<{ output: () => string; stop: () => Promise<void> }> {
  const [file, argv] = command([path.join(project, 'node_modules', '.bin', 'bizon'), ...args], phase.readOnly);
  const child = spawn(file, argv, { cwd: phase.dir, env: phase.env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => (running.delete(child), resolve())));
  await new Promise<void>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve();
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    void exited.then(() => reject(new Error(`bizon ${args[0]} exited before printing ${ready}:\n${output}`)));
  });
  return {
    output: () => output,
    stop: async () => {
      child.kill('SIGINT');
      await exited;
    },
  };
}

beforeAll(async () => {
  const packed = tempDir('bizon-pack-');
  // dist/ is built by `npm test`'s setup (scripts/setup.sh); packing without prepack leaves the other tests' files alone.
  const { stdout } = await execFileAsync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packed], { cwd: ROOT });
  const tarball = path.join(packed, stdout.trim().split('\n').at(-1)!);
  project = tempDir('bizon-user-');
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', type: 'module', private: true, dependencies: { 'bizon-temporal': `file:${tarball}` } }));
  writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify(userLockfile(`file:${tarball}`)));
  await execFileAsync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: project, timeout: 240_000 });
  installed = path.join(project, 'node_modules', 'bizon-temporal');
  expect(statSync(installed).isDirectory() && !statSync(installed).isSymbolicLink()).toBe(true);
  before = fingerprint(installed);
}, 300_000);

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  if (installed && !ROOT_IS_ROOT) setWritable(true);
});

describe.each([
  { name: 'as installed', readOnly: false },
  { name: 'with its directory read-only', readOnly: true },
])('the package installed from its tarball, $name', ({ readOnly }) => {
  let phase: Phase;

  beforeAll(() => {
    phase = {
      readOnly,
      dir: project,
      env: {
        ...process.env,
        NO_COLOR: '1',
        TEMPORAL_ADDRESS: '',
        BIZON_STATE_DIR: tempDir('bizon-user-state-'),
        XDG_CACHE_HOME: tempDir('bizon-user-cache-'),
        npm_config_offline: 'true',
      },
    };
    if (readOnly && !ROOT_IS_ROOT) setWritable(false);
  });

  afterAll(() => {
    if (readOnly && !ROOT_IS_ROOT) setWritable(true);
    // Nothing was written inside the installed package: every file as it was installed, none added.
    expect(fingerprint(installed)).toEqual(before);
  });

  // The source `bizon init` writes, named per phase; the next test serves it with a worker.
  const name = readOnly ? 'their_api' : 'my_api';

  it('init source, the example API, dry-run and run (embedded server) as `bizon init` says: every record once', async () => {
    const api = await startBizon(phase, ['example-api', '--port', '0'], /Press Ctrl-C/);
    try {
      const url = /Example API on (http:\/\/127\.0\.0\.1:\d+)/.exec(api.output())![1]!;
      expect(api.output()).toMatch(/Streams: users \(250\), orders \(120\), products \(40\), events \(90\)/);
      const init = await exec(phase, ['npx', 'bizon', 'init', 'source', name, '--api-url', url]);
      expect(init.code).toBe(0);
      // The steps it prints are commands of the user's project; each is run as printed.
      const steps = init.stderr.split('\n').filter((line) => line.startsWith('  npx bizon ')).map((line) => line.replace(/#.*$/, '').trim().split(/\s+/));
      expect(steps.map((step) => step.slice(0, 3).join(' '))).toEqual(['npx bizon example-api', 'npx bizon dry-run', 'npx bizon run']);
      expect(steps[0]).toEqual(['npx', 'bizon', 'example-api', '--port', url.split(':').at(-1)]);
      expect(readFileSync(path.join(project, name, 'config.yml'), 'utf8')).toContain(`#   npx bizon example-api`);

      const dryRun = await exec(phase, steps[1]!);
      expect(dryRun.code).toBe(0);
      expect(dryRun.stderr + dryRun.stdout).toMatch(/3 pages · 250 records · the source is exhausted/);

      const run = await exec(phase, steps[2]!);
      expect(run.stderr).toMatch(/Sync succeeded/);
      expect(run.code).toBe(0);
      const rows = readRows(path.join(project, 'output', `${name}_users.jsonl`));
      expect(rows).toHaveLength(250);
      expect(new Set(rows.map((row) => row.source_record_id)).size).toBe(250);
    } finally {
      await api.stop();
    }
  });

  it('bizon server, a worker of the init source, run --no-worker, status and a schedule', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const server = await startBizon(phase, ['server', '--port', String(port), '--ui-port', String(uiPort), '--db-file', path.join(tempDir('bizon-user-server-'), 'temporal.db')], /Press Ctrl-C/);
    const api = await startBizon(phase, ['example-api', '--port', '0'], /Press Ctrl-C/);
    const withServer = { ...phase, env: { ...phase.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` } };
    const worker = await startBizon(withServer, ['worker', '--custom-source', `${name}/source.ts`], /bizon worker polling task queue 'bizon'/);
    try {
      const url = /Example API on (http:\/\/127\.0\.0\.1:\d+)/.exec(api.output())![1]!;
      const pipeline = unique('installed');
      const config = `${name}/orders.yml`;
      writeFileSync(
        path.join(project, config),
        `name: ${pipeline}\nsource:\n  name: ${name}\n  stream: orders\n  api_url: ${url}\n  page_size: 50\ndestination:\n  name: file\n  config:\n    directory: ${name}/output\n`,
      );
      const started = await exec(withServer, ['npx', 'bizon', 'run', config, '--no-worker', '--custom-source', `${name}/source.ts`]);
      expect(started.stderr).toMatch(/Sync succeeded/);
      expect(started.code).toBe(0);
      const ids = readRows(path.join(project, name, 'output', `${name}_orders.jsonl`)).map((row) => Number(row.source_record_id));
      expect(ids).toEqual(Array.from({ length: 120 }, (_, index) => index + 1));

      const status = await exec(withServer, ['npx', 'bizon', 'status', pipeline]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/^completed\s.*\b120\b/m);

      const created = await exec(withServer, ['npx', 'bizon', 'schedule', 'create', config, '--every', '1d', '--custom-source', `${name}/source.ts`]);
      expect(created.code).toBe(0);
      const described = await exec(withServer, ['npx', 'bizon', 'schedule', 'describe', pipeline]);
      expect(described.code).toBe(0);
      expect(described.stdout).toContain(pipeline);
    } finally {
      await worker.stop();
      await api.stop();
      await server.stop();
    }
  });

  it('a JavaScript and a TypeScript program: createWorker + runSync, and the types', async () => {
    const taskQueue = unique('package');
    const env = { ...phase.env, TEMPORAL_ADDRESS: inject('temporalAddress'), TASK_QUEUE: taskQueue, PIPELINE: unique('package') };
    const program = (lang: 'js' | 'ts') => `import { connectClient, createWorker, runSync, ConfigError } from 'bizon-temporal';
import { testSource } from 'bizon-temporal/testing';
${lang === 'ts' ? "import type { SyncResult } from 'bizon-temporal';\n" : ''}const tested = await testSource({ source: './letters.mjs', config: { name: 'letters', stream: 'letters' } });
const address = process.env.TEMPORAL_ADDRESS;
const taskQueue = process.env.TASK_QUEUE;
const client = await connectClient({ address });
const worker = await createWorker({ address, taskQueue, customSourceFiles: ['./letters.mjs'] });
const running = worker.run();
try {
  const config = { name: process.env.PIPELINE + '-${lang}', source: { name: 'letters', stream: 'letters' }, destination: { name: 'file', config: { directory: 'out-${lang}' } } };
  const result${lang === 'ts' ? ': SyncResult' : ''} = await runSync(client, { config, customSourceFiles: ['./letters.mjs'], taskQueue });
  const refused = await runSync(client, { config: { ...config, source: { ...config.source, pages: 3 } }, customSourceFiles: ['./letters.mjs'], taskQueue }).catch((error) => error);
  console.log(JSON.stringify({ tested: tested.records.map((record) => record.data.letter).join(''), records: result.records, pages: result.iterations, refused: refused instanceof ConfigError ? refused.message : String(refused) }));
} finally {
  worker.shutdown();
  await running;
  await client.connection.close();
}
`;
    writeFileSync(
      path.join(project, 'letters.mjs'),
      `import { AbstractSource } from 'bizon-temporal';
export class LettersSource extends AbstractSource {
  static streams() { return ['letters']; }
  checkConnection() { return [true, null]; }
  get(pagination) {
    const page = pagination?.page ?? 0;
    const letters = ['a', 'b', 'c', 'd', 'e', 'f'].slice(page * 2, page * 2 + 2);
    return { records: letters.map((letter, index) => ({ id: page * 2 + index + 1, data: { letter } })), nextPagination: page < 2 ? { page: page + 1 } : {} };
  }
}
`,
    );
    writeFileSync(path.join(project, 'program.mjs'), program('js'));
    writeFileSync(path.join(project, 'program.ts'), program('ts'));
    for (const [lang, argv] of [
      ['js', ['node', 'program.mjs']],
      ['ts', ['npx', 'tsx', 'program.ts']],
    ] as const) {
      const result = await exec({ ...phase, env }, [...argv]);
      expect(result.code).toBe(0);
      const outcome = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { tested: string; records: number; pages: number; refused: string };
      expect(outcome).toMatchObject({ tested: 'abcdef', records: 6, pages: 3 });
      expect(outcome.refused).toContain('source.pages: unknown key');
      expect(readRows(path.join(project, `out-${lang}`, 'letters_letters.jsonl')).map((row) => row.source_data.letter)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    }
  });
});

describe('the installed package without the optional drivers', () => {
  it('installs no DuckDB, Postgres, S3 driver or trace exporter; a pipeline (or a worker asked for traces) that needs one fails at once naming the packages to add', async () => {
    for (const driver of ['@duckdb/node-api', 'pg', '@aws-sdk/client-s3', '@temporalio/interceptors-opentelemetry', '@opentelemetry/sdk-trace-base', '@opentelemetry/resources']) {
      expect(existsSync(path.join(project, 'node_modules', driver)), driver).toBe(false);
    }
    const phase: Phase = { readOnly: false, dir: project, env: { ...process.env, NO_COLOR: '1', BIZON_STATE_DIR: tempDir('bizon-user-state-') } };
    for (const [destination, config, message] of [
      ['duckdb', { path: 'out.duckdb' }, 'The duckdb destination needs the package @duckdb/node-api, which is not installed where this runs: npm install @duckdb/node-api'],
      ['parquet', { path: 's3://lake/x', s3: { endpoint: 'http://127.0.0.1:1' } }, 'npm install @aws-sdk/client-s3 @aws-sdk/lib-storage'],
    ] as const) {
      const file = path.join(project, `${destination}.yml`);
      writeFileSync(file, JSON.stringify({ name: `drivers-${destination}`, source: { name: 'dummy', stream: 'creatures' }, destination: { name: destination, config } }));
      const checked = await exec(phase, [path.join(project, 'node_modules', '.bin', 'bizon'), 'check', file]);
      expect(checked.code, checked.stderr).toBe(1);
      expect(checked.stderr + checked.stdout).toContain(message);
    }
    // Traces asked for without the exporter's packages: the worker stops before it starts, naming them.
    const traced = await exec({ ...phase, env: { ...phase.env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', TEMPORAL_ADDRESS: '127.0.0.1:1' } }, [
      path.join(project, 'node_modules', '.bin', 'bizon'),
      'worker',
      '--task-queue',
      'traced',
    ]);
    expect(traced.code, traced.stderr).toBe(1);
    expect(traced.stderr + traced.stdout).toMatch(/Exporting traces \(OTEL_EXPORTER_OTLP_ENDPOINT\) needs the package @opentelemetry\/[a-z-]+, which is not installed where this runs: npm install (@[a-z-]+\/[a-z-]+ ?){6}/);
    expect(traced.stderr + traced.stdout).toContain('@temporalio/interceptors-opentelemetry');
  });
});

describe('the installed package for TypeScript users', () => {
  it('gives its types through the package exports', async () => {
    writeFileSync(
      path.join(project, 'consumer.ts'),
      `import { AbstractSource, type SourceIteration, type SyncResult } from 'bizon-temporal';
import { testSource, type TestSourceResult } from 'bizon-temporal/testing';
export const tried: Promise<TestSourceResult> = testSource({ source: 'numbers.ts', config: { name: 'numbers', stream: 'numbers' } });
export class Numbers extends AbstractSource {
  static override streams(): string[] { return ['numbers']; }
  checkConnection(): [boolean, string | null] { return [true, null]; }
  get(): SourceIteration { return { records: [{ id: 1, data: { n: 1 } }], nextPagination: {} }; }
}
export const pages = (result: SyncResult): number => result.iterations;
// @ts-expect-error a record needs an id
export const bad: SourceIteration = { records: [{ data: {} }], nextPagination: {} };
`,
    );
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, noImplicitOverride: true, types: [] }, files: ['consumer.ts'] }),
    );
    const result = await execFileAsync(TSC, ['-p', 'tsconfig.json'], { cwd: project }).then(
      () => ({ code: 0, output: '' }),
      (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});
