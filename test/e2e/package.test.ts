import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { readRows, ROOT, tempDir, unique } from '../helpers.ts';

const run = promisify(execFile);
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');

/** A project of a user who installed bizon-temporal (as `npm install <path>` does: a link in node_modules). */
function userProject(): string {
  const dir = tempDir('bizon-user-');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'user-project', type: 'module', private: true }));
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'bizon-temporal'), 'dir');
  return dir;
}

beforeAll(async () => {
  await run('npm', ['run', 'build'], { cwd: ROOT });
}, 120_000);

describe('the package from a plain Node program', () => {
  it('imports the compiled library, runs a worker and a sync of a JavaScript custom source', async () => {
    const dir = userProject();
    writeFileSync(
      path.join(dir, 'letters.mjs'),
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
    writeFileSync(
      path.join(dir, 'program.mjs'),
      `import { connectClient, createWorker, runSync, ConfigError } from 'bizon-temporal';
import { testSource } from 'bizon-temporal/testing';
const tested = await testSource({ source: './letters.mjs', config: { name: 'letters', stream: 'letters' } });
const address = process.env.TEMPORAL_ADDRESS;
const taskQueue = process.env.TASK_QUEUE;
const client = await connectClient({ address });
const worker = await createWorker({ address, taskQueue, customSourceFiles: ['./letters.mjs'] });
const running = worker.run();
try {
  const config = { name: process.env.PIPELINE, source: { name: 'letters', stream: 'letters' }, destination: { name: 'file', config: { directory: '.' } } };
  const result = await runSync(client, { config, customSourceFiles: ['./letters.mjs'], taskQueue });
  const refused = await runSync(client, { config: { ...config, source: { ...config.source, pages: 3 } }, customSourceFiles: ['./letters.mjs'], taskQueue }).catch((error) => error);
  console.log(JSON.stringify({ tested: tested.records.map((record) => record.data.letter).join(''), records: result.records, pages: result.iterations, refused: refused instanceof ConfigError ? refused.message : String(refused) }));
} finally {
  worker.shutdown();
  await running;
  await client.connection.close();
}
`,
    );
    const { stdout } = await run(process.execPath, ['program.mjs'], {
      cwd: dir,
      env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), TASK_QUEUE: unique('package'), PIPELINE: unique('package') },
    });
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!) as { tested: string; records: number; pages: number; refused: string };
    expect(outcome).toMatchObject({ tested: 'abcdef', records: 6, pages: 3 });
    expect(outcome.refused).toContain('source.pages: unknown key');
    expect(readRows(path.join(dir, 'letters_letters.jsonl')).map((row) => row.source_data.letter)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('gives TypeScript users its types through the package exports', async () => {
    const dir = userProject();
    writeFileSync(
      path.join(dir, 'consumer.ts'),
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
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, noImplicitOverride: true, types: [] }, files: ['consumer.ts'] }),
    );
    const result = await run(TSC, ['-p', 'tsconfig.json'], { cwd: dir }).then(
      () => ({ code: 0, output: '' }),
      (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});
