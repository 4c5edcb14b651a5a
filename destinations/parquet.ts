import { mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { toRows, type Destination, type DestinationRow, type PublishedOutput, type PublishMode, type WriteBatch, type WriteResult } from './destination.ts';
import { DUCKDB, DUCKDB_LIMITS, fieldExpression, identifier, literal, STAGED_COLUMNS } from './duckdb-sql.ts';
import { exists, linesByDestination, StagedPageFiles, writeFileAtomic } from './page-files.ts';
import { checkSqlTableConfig, schemasById, SqlTableConfig, typedRow, type RecordSchema } from './record-schema.ts';
import { tableColumns } from './sql.ts';

/** Config of the `parquet` destination. */
export const ParquetDestinationConfig = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .refine((text) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(text), { message: 'a local directory (object storage, s3://, is not supported yet)' })
      .describe('The directory the files go to, one folder per destination id (created if missing)'),
    compression: z.enum(['zstd', 'snappy', 'none']).default('zstd').describe('Compression of the column chunks'),
    row_group_size: z.number().int().min(2048, "at least 2048: DuckDB writes row groups in whole vectors of 2,048 rows").default(122_880).describe('Rows per row group, about (DuckDB cuts them by whole vectors of 2,048 rows, per writing thread)'),
    file_size_mb: z.number().positive().optional().describe('Roll to a new part file past about this size (default: one file per sync and partition)'),
    partition_by: z
      .strictObject({
        field: z.string().min(1).describe('A date or time field of the records (a record_schemas field with unnest, else a key of the record)'),
        granularity: z.enum(['year', 'month', 'day', 'hour']).default('day'),
      })
      .optional()
      .describe('Hive-style folders by a date: <field>_<granularity>=2026-01-31/'),
    memory_limit: z.string().min(1).optional().describe("DuckDB's memory_limit while writing the files (e.g. 1GB); beyond it DuckDB spills to disk"),
    ...SqlTableConfig,
  })
  .superRefine((config, context) => {
    checkSqlTableConfig(config, context);
    if (config.write_mode === 'merge') context.addIssue({ code: 'custom', path: ['write_mode'], message: 'files are appended to or replaced, not merged: write_mode: append (dedupe by source_record_id when reading)' });
  });
export type ParquetDestinationConfig = z.infer<typeof ParquetDestinationConfig>;

/** The file readers open to know which files make the table now: replaced atomically at each publish. */
export const MANIFEST_FILE = '_bizon_manifest.json';
/** Published runs a manifest remembers (a retried publish finds its own there). */
const REMEMBERED_RUNS = 100;

/** `_bizon_manifest.json` of a destination id's folder. */
export interface ParquetManifest {
  format: 'bizon-parquet-manifest/1';
  destination_id: string;
  /** The data files of the table, relative to its folder. */
  files: string[];
  /** The last runs published (newest last). */
  runs: Array<{ sync_run_id: string; mode: PublishMode; records: number; files: string[]; published_at: string }>;
}

const FORMATS: Record<NonNullable<ParquetDestinationConfig['partition_by']>['granularity'], string> = { year: '%Y', month: '%Y-%m', day: '%Y-%m-%d', hour: '%Y-%m-%dT%H' };

/** Rejects ids that name no folder of their own under the path (or one a reader would take for bizon's, or a pattern). */
function checkDestinationId(id: string): void {
  if (id === '' || id.startsWith('.') || id.startsWith('_') || /[/\\\0*?[\]{}]/.test(id) || Buffer.byteLength(id) > 255) {
    throw new NonRetryableError(
      `Invalid destination id '${id.slice(0, 60)}' for the parquet destination: it names a folder, so it cannot be empty, start with '.' or '_', hold / \\ * ? [ ] { }, or pass 255 bytes`,
    );
  }
}

/** The files under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!(await exists(dir))) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/')).sort();
}

/**
 * Writes Parquet files, a folder per destination id, with DuckDB as the writer. Pages are staged as NDJSON
 * (`<path>/_bizon_staging/`, a retried page replaces its file); `finalize` writes the run's part files and then
 * swaps the folder's manifest (`_bizon_manifest.json`, one atomic rename): a reader of the manifest sees the old
 * files or the new, never a mix. A full refresh's manifest lists only its own files (the old ones are deleted after
 * the swap); an incremental sync's adds its files to the list. A retried publish finds its run in the manifest.
 */
export class ParquetDestination implements Destination {
  private readonly root: string;
  private readonly staging: StagedPageFiles;
  private readonly recordSchemas: Map<string, RecordSchema>;

  constructor(
    private readonly config: ParquetDestinationConfig,
    private readonly defaultDestinationId: string,
  ) {
    this.root = path.resolve(config.path);
    this.staging = new StagedPageFiles(path.join(this.root, '_bizon_staging', 'pages'));
    this.recordSchemas = schemasById(config.unnest ? config.record_schemas : undefined);
    checkDestinationId(defaultDestinationId);
  }

  private folder(destinationId: string): string {
    return path.join(this.root, destinationId);
  }

  /** Where a run's part files are written before they are moved into the table's folder. */
  private partsDir(syncRunId: string, destinationId: string): string {
    return path.join(this.root, '_bizon_staging', 'parts', runTag(syncRunId), destinationId);
  }

  async checkConnection(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (error) {
      throw new NonRetryableError(`Parquet destination cannot create ${this.root}: ${(error as Error).message}`);
    }
    if (/[*?[\]{}]/.test(this.root)) throw new NonRetryableError(`Parquet destination cannot write under ${this.root}: DuckDB reads * ? [ ] { } in a path as a pattern. Choose a path without them`);
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    const page = `page ${batch.iteration}${batch.slice === undefined ? '' : ` of slice ${batch.slice}`}`;
    let rows: DestinationRow[] = toRows(batch, this.defaultDestinationId);
    for (const row of rows) checkDestinationId(row.destination_id);
    if (this.config.unnest) rows = rows.map((row) => typedRow(row, this.recordSchemas.get(row.destination_id), page, DUCKDB_LIMITS));
    try {
      return await this.staging.writePage(batch, linesByDestination(rows));
    } catch (error) {
      throw new DestinationWriteError(`Parquet destination could not stage ${page} in ${this.staging.runDir(batch.syncRunId)}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** What a published run published, kept until the workflow holds it (a retried finalize answers the same). */
  private publishedRecord(syncRunId: string): string {
    return path.join(this.root, '_bizon_staging', 'published', `${runTag(syncRunId)}.json`);
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    const record = this.publishedRecord(run.syncRunId);
    if (await exists(record)) return JSON.parse(await readFile(record, 'utf8')) as PublishedOutput[];
    const destinationIds = await this.staging.destinationIds(run.syncRunId);
    if (run.mode === 'replace' && !destinationIds.includes(this.defaultDestinationId)) destinationIds.push(this.defaultDestinationId);
    const outputs: PublishedOutput[] = [];
    for (const destinationId of destinationIds.sort()) outputs.push(await this.publishOne(run, destinationId));
    await mkdir(path.dirname(record), { recursive: true });
    await writeFileAtomic(record, JSON.stringify(outputs));
    await this.staging.removeRun(run.syncRunId);
    await rm(path.join(this.root, '_bizon_staging', 'parts', runTag(run.syncRunId)), { recursive: true, force: true });
    await this.removeStagingIfEmpty();
    return outputs;
  }

  private async readManifest(destinationId: string): Promise<ParquetManifest> {
    try {
      return JSON.parse(await readFile(path.join(this.folder(destinationId), MANIFEST_FILE), 'utf8')) as ParquetManifest;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { format: 'bizon-parquet-manifest/1', destination_id: destinationId, files: [], runs: [] };
      throw new NonRetryableError(`Parquet destination cannot read ${path.join(this.folder(destinationId), MANIFEST_FILE)}: ${(error as Error).message}`);
    }
  }

  /** Publishes one destination id: its part files written, moved into its folder, then the manifest swapped. */
  private async publishOne(run: { syncRunId: string; mode: PublishMode }, destinationId: string): Promise<PublishedOutput> {
    const folder = this.folder(destinationId);
    const location = `${folder} (parquet, ${MANIFEST_FILE})`;
    const manifest = await this.readManifest(destinationId);
    const done = manifest.runs.find((published) => published.sync_run_id === run.syncRunId);
    if (done) return { destinationId, records: done.records, location };
    const staged = this.partsDir(run.syncRunId, destinationId);
    // An earlier attempt's parts are written again: the same rows, the same names.
    await rm(staged, { recursive: true, force: true });
    await mkdir(staged, { recursive: true });
    const records = await this.writeParts(run.syncRunId, destinationId, staged);
    const written = await filesUnder(staged);
    await mkdir(folder, { recursive: true });
    for (const file of written) {
      await mkdir(path.dirname(path.join(folder, file)), { recursive: true });
      await rename(path.join(staged, file), path.join(folder, file));
    }
    const files = run.mode === 'replace' ? written : [...manifest.files.filter((file) => !written.includes(file)), ...written];
    const next: ParquetManifest = {
      format: 'bizon-parquet-manifest/1',
      destination_id: destinationId,
      files,
      runs: [...manifest.runs, { sync_run_id: run.syncRunId, mode: run.mode, records, files: written, published_at: new Date().toISOString() }].slice(-REMEMBERED_RUNS),
    };
    await this.swapManifest(folder, next);
    // Replaced files go once no manifest lists them.
    if (run.mode === 'replace') for (const file of manifest.files.filter((old) => !files.includes(old))) await rm(path.join(folder, file), { force: true });
    await removeEmptyFolders(folder);
    return { destinationId, records, location };
  }

  /** Replaces a folder's manifest in one rename: the moment the run's files become the table's. */
  protected async swapManifest(folder: string, manifest: ParquetManifest): Promise<void> {
    await writeFileAtomic(path.join(folder, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
  }

  /** Writes the run's staged pages of one destination id as Parquet under `dir`; returns the rows written. */
  private async writeParts(syncRunId: string, destinationId: string, dir: string): Promise<number> {
    const pages = await this.staging.pageFiles(syncRunId, destinationId);
    if (pages.length === 0) return 0;
    const schema = this.recordSchemas.get(destinationId);
    const columns = tableColumns(DUCKDB, this.config.unnest, schema).map((column) => column.name);
    const fields = new Map((schema?.record_schema ?? []).map((field) => [field.name, field]));
    const select = columns.map((column) => (fields.has(column) ? `${fieldExpression(fields.get(column)!)} AS ${identifier(column)}` : identifier(column)));
    const partition = this.config.partition_by;
    const partitionColumn = partition ? `${partition.field}_${partition.granularity}` : undefined;
    if (partition && partitionColumn) {
      const value = fields.has(partition.field) ? identifier(partition.field) : `json_extract_string(source_data, ${literal(`$.${partition.field}`)})`;
      select.push(`strftime(TRY_CAST(${value} AS TIMESTAMP), ${literal(FORMATS[partition.granularity])}) AS ${identifier(partitionColumn)}`);
    }
    // Streamed: no sort holds the run in memory.
    const rows = `SELECT ${select.join(', ')} FROM read_json([${pages.map(literal).join(', ')}], format = 'newline_delimited', columns = ${STAGED_COLUMNS})`;
    const tag = runTag(syncRunId);
    const options = [`FORMAT parquet`, `COMPRESSION ${this.config.compression === 'none' ? 'uncompressed' : this.config.compression}`, `ROW_GROUP_SIZE ${this.config.row_group_size}`];
    const rolling = this.config.file_size_mb !== undefined;
    if (rolling) options.push(`FILE_SIZE_BYTES ${Math.round(this.config.file_size_mb! * 1024 * 1024)}`);
    if (partitionColumn) options.push(`PARTITION_BY (${identifier(partitionColumn)})`);
    const target = rolling || partitionColumn ? dir : path.join(dir, `part-${tag}-0.parquet`);
    if (rolling || partitionColumn) options.push(`FILENAME_PATTERN ${literal(`part-${tag}-{i}`)}`);
    return this.withDuckDB(`write the Parquet files of ${destinationId}`, async (connection) => {
      // Order within a run's files is not kept (a Parquet table is a set): DuckDB then streams without buffering for it.
      await connection.run('SET preserve_insertion_order = false');
      return (await connection.run(`COPY (${rows}) TO ${literal(target)} (${options.join(', ')})`)).rowsChanged;
    });
  }

  private async withDuckDB<T>(doing: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    // Loaded on first use: the native library costs every CLI command ~0.1 s otherwise.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:', this.config.memory_limit ? { memory_limit: this.config.memory_limit } : {});
    const connection = await instance.connect();
    try {
      return await work(connection);
    } catch (error) {
      const message = `Parquet destination could not ${doing} in ${this.root}: ${(error as Error).message}`;
      throw /^(IO Error|Out of Memory Error|Interrupt Error)\b/i.test((error as Error).message) ? new DestinationWriteError(message, { cause: error }) : new NonRetryableError(message, { cause: error });
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  async forgetPublished(run: { syncRunId: string }): Promise<void> {
    await rm(this.publishedRecord(run.syncRunId), { force: true });
    await this.removeStagingIfEmpty();
  }

  async abort(run: { syncRunId: string }): Promise<void> {
    await this.staging.removeRun(run.syncRunId);
    await rm(path.join(this.root, '_bizon_staging', 'parts', runTag(run.syncRunId)), { recursive: true, force: true });
    await this.removeStagingIfEmpty();
  }

  /** Removes what publishes older than `olderThanMs` left, and staging a crash left after its run published. */
  async prune(olderThanMs: number): Promise<void> {
    const published = path.join(this.root, '_bizon_staging', 'published');
    for (const name of (await exists(published)) ? await readdir(published) : []) {
      const file = path.join(published, name);
      if ((await stat(file)).mtimeMs < Date.now() - olderThanMs) await rm(file, { force: true });
    }
    for (const dir of await this.staging.runDirs()) {
      const syncRunId = decodeURIComponent(path.basename(dir));
      const ids = await this.staging.destinationIds(syncRunId);
      const manifests = await Promise.all(ids.map((id) => this.readManifest(id).catch(() => undefined)));
      if (ids.length > 0 && manifests.every((manifest) => manifest?.runs.some((published) => published.sync_run_id === syncRunId))) await this.abort({ syncRunId });
    }
  }

  private async removeStagingIfEmpty(): Promise<void> {
    await this.staging.removeRootIfEmpty();
    for (const dir of ['parts', 'published', ''].map((name) => path.join(this.root, '_bizon_staging', name))) await rmdir(dir).catch(() => undefined);
  }
}

/** A short, file-name-safe tag of a sync run: its part files are named by it. */
function runTag(syncRunId: string): string {
  return createHash('sha256').update(syncRunId).digest('hex').slice(0, 16);
}

/** Removes the empty partition folders a replace left (the folder itself stays: it holds the manifest). */
async function removeEmptyFolders(folder: string): Promise<void> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const dirs = entries.filter((entry) => entry.isDirectory()).map((entry) => path.join(entry.parentPath, entry.name));
  for (const dir of dirs.sort((a, b) => b.length - a.length)) await rmdir(dir).catch(() => undefined);
}
