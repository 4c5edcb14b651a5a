/**
 * Which Parquet writer, measured: the same staged pages (NDJSON, as every destination stages them) published by
 *
 * - `file`: the NDJSON file destination (the baseline: no columnar file at all),
 * - `duckdb`: the DuckDB destination (a table, not a file),
 * - `parquet`: the parquet destination, DuckDB writing the files (`COPY … TO … (FORMAT parquet)`),
 * - `parquet-inferred`: the same without record_schemas (the columns and their types inferred from the records),
 * - `hyparquet-writer`: a pure-JavaScript writer, given the pages' columns whole (it has no streaming API),
 *
 * each in a process of its own (its peak memory is its own), at two record counts: records/s of stage + publish,
 * the process's peak RSS, the output's bytes, and what DuckDB reads back (rows, the type of a timestamp column).
 *
 *   npm run bench:parquet -- [--records 50000,200000,500000] [--page 1000] [--cases file,duckdb,parquet,hyparquet-writer]
 *     [--memory-limit 256MB] [--threads 1 (the parquet destination's)] [--out table.md]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CASES = ['file', 'duckdb', 'parquet', 'parquet-inferred', 'hyparquet-writer'] as const;
type Case = (typeof CASES)[number];

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}

/** One record of the bench: strings, numbers, a boolean, a timestamp, a nested list. */
function record(id: number) {
  return {
    id: String(id),
    data: { id, name: `user ${id}`, email: `user${id}@example.com`, amount: (id % 1000) / 7, count: id % 97, active: id % 3 === 0, updated_at: new Date(Date.UTC(2026, 0, 1) + id * 1000).toISOString(), tags: ['a', `t${id % 5}`] },
    timestamp: undefined,
    destinationId: undefined,
  };
}

const RECORD_SCHEMAS = [
  {
    destination_id: 'users',
    record_schema: [
      { name: 'id', type: 'INTEGER' },
      { name: 'name', type: 'STRING' },
      { name: 'email', type: 'STRING' },
      { name: 'amount', type: 'FLOAT' },
      { name: 'count', type: 'INTEGER' },
      { name: 'active', type: 'BOOLEAN' },
      { name: 'updated_at', type: 'TIMESTAMP' },
      { name: 'tags', type: 'JSON' },
    ],
  },
];

/** In a child: stages `records` records in pages and publishes them with one writer; prints its numbers as JSON. */
async function runCase(which: Case, records: number, pageSize: number, dir: string): Promise<void> {
  const started = performance.now();
  const { StagedPageFiles, linesByDestination } = await import('../destinations/page-files.ts');
  const { toRows } = await import('../destinations/destination.ts');
  const pages = Math.ceil(records / pageSize);
  const batchOf = (iteration: number) => ({
    syncRunId: 'bench',
    iteration,
    extractedAt: new Date(),
    records: Array.from({ length: Math.min(pageSize, records - (iteration - 1) * pageSize) }, (_, index) => record((iteration - 1) * pageSize + index + 1)),
  });
  if (which === 'hyparquet-writer') {
    // The pages staged as every destination stages them, then read back into columns: the writer needs them whole.
    const staging = new StagedPageFiles(path.join(dir, 'staging'));
    for (let iteration = 1; iteration <= pages; iteration += 1) await staging.writePage(batchOf(iteration), linesByDestination(toRows(batchOf(iteration), 'users')));
    const { parquetWriteFile } = await import('hyparquet-writer');
    const columns: Record<string, unknown[]> = { bizon_id: [], source_record_id: [], id: [], name: [], email: [], amount: [], count: [], active: [], updated_at: [], tags: [] };
    for (const file of await staging.pageFiles('bench', 'users')) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        const row = JSON.parse(line) as { bizon_id: string; source_record_id: string; source_data: Record<string, unknown> };
        columns.bizon_id!.push(row.bizon_id);
        columns.source_record_id!.push(row.source_record_id);
        for (const name of ['id', 'name', 'email', 'amount', 'count', 'active', 'tags'] as const) columns[name]!.push(name === 'tags' ? JSON.stringify(row.source_data[name]) : row.source_data[name]);
        columns.updated_at!.push(new Date(String(row.source_data.updated_at)));
      }
    }
    const types: Record<string, string> = { bizon_id: 'STRING', source_record_id: 'STRING', id: 'INT64', name: 'STRING', email: 'STRING', amount: 'DOUBLE', count: 'INT64', active: 'BOOLEAN', updated_at: 'TIMESTAMP', tags: 'JSON' };
    parquetWriteFile({
      filename: path.join(dir, 'users.parquet'),
      columnData: Object.entries(columns).map(([name, data]) => ({ name, data: name === 'id' || name === 'count' ? data.map((value) => BigInt(value as number)) : data, type: types[name] as never })),
    });
  } else {
    const { createDestination } = await import('../destinations/index.ts');
    const typed = which === 'parquet-inferred' ? { unnest: true } : { unnest: true, record_schemas: RECORD_SCHEMAS };
    const config =
      which === 'file' ? { directory: dir } : which === 'duckdb' ? { path: path.join(dir, 'bench.duckdb'), ...typed } : { path: path.join(dir, 'lake'), ...typed, ...(option('memory-limit', '') ? { memory_limit: option('memory-limit', '') } : {}), ...(option('threads', '') ? { threads: Number(option('threads', '')) } : {}) };
    const name = which === 'parquet-inferred' ? 'parquet' : which;
    const definition = (await import('../destinations/index.ts')).destinationDefinition(name);
    const destination = createDestination(name, definition.config.parse({ ...config, destination_id: 'users' }) as never, 'users');
    await destination.checkConnection();
    for (let iteration = 1; iteration <= pages; iteration += 1) await destination.write(batchOf(iteration));
    await destination.finalize({ syncRunId: 'bench', mode: 'replace' });
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
}

/** The bytes of the output files under `dir` (staging excluded). */
function outputBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && !file.includes('staging') && /\.(parquet|jsonl|duckdb)$/.test(entry.name)) total += statSync(file).size;
  }
  return total;
}

/** What DuckDB reads back from a case's output: rows, and the type it sees for updated_at. */
async function readBack(which: Case, dir: string): Promise<{ rows: number; updatedAt: string }> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(which === 'duckdb' ? path.join(dir, 'bench.duckdb') : ':memory:');
  const connection = await instance.connect();
  try {
    const from =
      which === 'duckdb'
        ? 'main.users'
        : which === 'file'
          ? `read_json('${path.join(dir, 'users.jsonl')}', format = 'newline_delimited')`
          : `read_parquet('${which.startsWith('parquet') ? path.join(dir, 'lake', 'users', '*.parquet') : path.join(dir, 'users.parquet')}')`;
    const count = (await connection.runAndReadAll(`SELECT count(*) AS rows FROM ${from}`)).getRowObjectsJS()[0]!;
    const type = (await connection.runAndReadAll(`SELECT column_type FROM (DESCRIBE SELECT * FROM ${from}) WHERE column_name IN ('updated_at', 'source_data')`)).getRowObjectsJS()[0];
    return { rows: Number(count.rows), updatedAt: which === 'file' ? 'text in JSON' : String(type?.column_type ?? '-') };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const self = fileURLToPath(import.meta.url);
const caseIndex = process.argv.indexOf('--case');
if (caseIndex > 0) {
  await runCase(process.argv[caseIndex + 1] as Case, Number(option('records', '0')), Number(option('page', '1000')), option('dir', ''));
} else {
  const counts = option('records', '50000,200000,500000').split(',').map(Number);
  const pageSize = Number(option('page', '1000'));
  const results: string[] = [];
  const baseline = new Map<number, number>();
  for (const records of counts) {
    for (const which of CASES.filter((candidate) => option('cases', CASES.join(',')).split(',').includes(candidate))) {
      const dir = mkdtempSync(path.join(tmpdir(), `bizon-bench-parquet-${which}-`));
      const memoryLimit = ['memory-limit', 'threads'].flatMap((name) => (option(name, '') ? [`--${name}`, option(name, '')] : []));
      const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--case', which, '--records', String(records), '--page', String(pageSize), '--dir', dir, ...memoryLimit], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (child.status !== 0) throw new Error(`${which} at ${records} records failed:\n${child.stderr}`);
      const { seconds, maxRssMb } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { seconds: number; maxRssMb: number };
      const back = await readBack(which, dir);
      if (which === 'file') baseline.set(records, seconds);
      const perSecond = records / seconds;
      results.push(
        `| ${records.toLocaleString('en-US')} | ${which} | ${Math.round(perSecond).toLocaleString('en-US')} | ${baseline.has(records) ? `${(baseline.get(records)! / seconds).toFixed(2)}×` : '-'} | ${Math.round(maxRssMb)} | ${(outputBytes(dir) / 1024 / 1024).toFixed(1)} | ${back.rows === records ? `${back.rows} ✓` : `${back.rows} ✗`} | ${back.updatedAt} |`,
      );
      process.stderr.write(`${results.at(-1)}\n`);
    }
  }
  const table = ['| records | writer | records/s | speed vs file | peak RSS MB | output MB | DuckDB reads | updated_at as |', '|---|---|---|---|---|---|---|---|', ...results].join('\n');
  process.stdout.write(`\nStage + publish, ${pageSize}-record pages, one process per case:\n\n${table}\n`);
  const out = option('out', '');
  if (out) writeFileSync(out, `${table}\n`);
}
