import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import { importOptional } from '../engine/optional-package.ts';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { toRows, type Destination, type DestinationRow, type PublishedOutput, type PublishMode, type WriteBatch, type WriteResult } from './destination.ts';
import { DUCKDB, DUCKDB_LIMITS, droppedRowsCondition, fieldExpression, identifier, literal, plannedExpression, stagedKinds, STAGED_COLUMNS } from './duckdb-sql.ts';
import { exists, linesByDestination } from './page-files.ts';
import { LocalLakeStore, parseS3Url, S3LakeStore, S3SettingsConfig, type LakeStore } from './lake-store.ts';
import { checkSqlTableConfig, schemasById, SqlTableConfig, unnestRows, type RecordSchema } from './record-schema.ts';
import { contractFor, mayStageOthers, planColumns, reportedType, type ColumnPlan } from './schema-contract.ts';
import { tableColumns } from './sql.ts';

/** Config of the `parquet` destination. */
export const ParquetDestinationConfig = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .refine((text) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /^s3:\/\/[^/]+/.test(text), { message: 'a local directory, or s3://bucket/prefix' })
      .describe('Where the files go, one folder per destination id: a local directory (created if missing), or s3://bucket/prefix'),
    s3: S3SettingsConfig,
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
    threads: z.number().int().min(1).optional().describe("DuckDB's threads while writing the files (default: one per core); each holds a row group, so 1 uses the least memory"),
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
  /** The columns the files hold, with their DuckDB types (absent in manifests of no files). */
  columns?: Record<string, string>;
  /** The last runs published (newest last). */
  runs: Array<{ sync_run_id: string; mode: PublishMode; records: number; discarded?: number; files: string[]; published_at: string }>;
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
 * Writes Parquet files, a folder (or prefix) per destination id, in a local directory or an S3 bucket, with DuckDB
 * as the writer. Pages are staged as NDJSON (`_bizon_staging/`, beside the tables: a retried page replaces its
 * own; in S3, objects, so any worker of a fleet can publish); `finalize` writes the run's part files, moves (or
 * uploads) them in, and then replaces the folder's manifest (`_bizon_manifest.json`) in one step: a reader of the
 * manifest sees the old files or the new, never a mix. A full refresh's manifest lists only its own files (the old
 * ones are deleted after the swap); an incremental sync's adds its files. A retried publish finds its run there.
 */
export class ParquetDestination implements Destination {
  private readonly store: LakeStore;
  private readonly recordSchemas: Map<string, RecordSchema>;

  constructor(
    private readonly config: ParquetDestinationConfig,
    private readonly defaultDestinationId: string,
  ) {
    const s3 = parseS3Url(config.path);
    if (s3) {
      this.store = new S3LakeStore(s3.bucket, s3.prefix, config.s3 ?? { region: 'us-east-1' });
    } else {
      this.store = new LocalLakeStore(path.resolve(config.path));
    }
    this.recordSchemas = schemasById(config.unnest ? config.record_schemas : undefined);
    checkDestinationId(defaultDestinationId);
  }

  async checkConnection(): Promise<void> {
    await this.store.check();
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    const page = `page ${batch.iteration}${batch.slice === undefined ? '' : ` of slice ${batch.slice}`}`;
    let rows: DestinationRow[] = toRows(batch, this.defaultDestinationId);
    for (const row of rows) checkDestinationId(row.destination_id);
    if (this.config.unnest) rows = unnestRows(rows, this.recordSchemas, this.config.schema_contract, page, DUCKDB_LIMITS);
    try {
      return await this.store.stagePage(batch, linesByDestination(rows));
    } catch (error) {
      if (error instanceof NonRetryableError || error instanceof DestinationWriteError) throw error;
      throw new DestinationWriteError(`Parquet destination could not stage ${page} in ${this.store.where}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** What a published run published, kept until the workflow holds it (a retried finalize answers the same). */
  private publishedRecord(syncRunId: string): string {
    return `_bizon_staging/published/${runTag(syncRunId)}.json`;
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    const record = await this.store.readText(this.publishedRecord(run.syncRunId));
    if (record !== undefined) return JSON.parse(record) as PublishedOutput[];
    const destinationIds = await this.store.stagedDestinationIds(run.syncRunId);
    if (run.mode === 'replace' && !destinationIds.includes(this.defaultDestinationId)) destinationIds.push(this.defaultDestinationId);
    const outputs: PublishedOutput[] = [];
    for (const destinationId of destinationIds.sort()) outputs.push(await this.publishOne(run, destinationId));
    await this.store.writeText(this.publishedRecord(run.syncRunId), JSON.stringify(outputs));
    await this.store.removeStaging(run.syncRunId, runTag(run.syncRunId));
    return outputs;
  }

  private async readManifest(destinationId: string): Promise<ParquetManifest> {
    const text = await this.store.readText(`${destinationId}/${MANIFEST_FILE}`);
    if (text === undefined) return { format: 'bizon-parquet-manifest/1', destination_id: destinationId, files: [], runs: [] };
    try {
      return JSON.parse(text) as ParquetManifest;
    } catch (error) {
      throw new NonRetryableError(`Parquet destination cannot read ${destinationId}/${MANIFEST_FILE} in ${this.store.where}: ${(error as Error).message}`);
    }
  }

  /** Publishes one destination id: its part files written, moved (or uploaded) into its folder, then the manifest swapped. */
  private async publishOne(run: { syncRunId: string; mode: PublishMode }, destinationId: string): Promise<PublishedOutput> {
    const location = `${this.store.where.replace(/ at .*$/, '')}${this.store.where.startsWith('s3://') ? '' : path.sep}${destinationId} (parquet, ${MANIFEST_FILE})`;
    const manifest = await this.readManifest(destinationId);
    const done = manifest.runs.find((published) => published.sync_run_id === run.syncRunId);
    if (done) return { destinationId, records: done.records, location, ...(done.discarded ? { discarded: done.discarded } : {}) };
    // An earlier attempt's parts are written again: the same rows, the same names.
    const work = await this.store.workDir(runTag(run.syncRunId), destinationId);
    try {
      const parts = path.join(work, 'parts');
      await mkdir(parts, { recursive: true });
      // A full refresh makes a new table; an incremental sync's columns must keep the types of the files before.
      const before = run.mode === 'append' && manifest.files.length > 0 ? manifest.columns : undefined;
      const { records, discarded, columns } = await this.writeParts(run.syncRunId, destinationId, work, parts, before);
      const written = await filesUnder(parts);
      for (const file of written) await this.store.publishFile(path.join(parts, file), `${destinationId}/${file}`);
      const files = run.mode === 'replace' ? written : [...manifest.files.filter((file) => !written.includes(file)), ...written];
      const next: ParquetManifest = {
        format: 'bizon-parquet-manifest/1',
        destination_id: destinationId,
        files,
        ...(columns || before ? { columns: { ...before, ...columns } } : {}),
        runs: [...manifest.runs, { sync_run_id: run.syncRunId, mode: run.mode, records, ...(discarded ? { discarded } : {}), files: written, published_at: new Date().toISOString() }].slice(-REMEMBERED_RUNS),
      };
      await this.swapManifest(destinationId, next);
      // Replaced files go once no manifest lists them.
      if (run.mode === 'replace') for (const file of manifest.files.filter((old) => !files.includes(old))) await this.store.delete(`${destinationId}/${file}`);
      if (this.store instanceof LocalLakeStore) await removeEmptyFolders(path.join(this.store.where, destinationId));
      return { destinationId, records, location, ...(discarded ? { discarded } : {}) };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Replaces a folder's manifest in one step: the moment the run's files become the table's. */
  protected async swapManifest(destinationId: string, manifest: ParquetManifest): Promise<void> {
    await this.store.writeText(`${destinationId}/${MANIFEST_FILE}`, `${JSON.stringify(manifest, null, 1)}\n`);
  }

  /**
   * Writes the run's staged pages of one destination id as Parquet under `dir`; returns the rows written and the
   * columns' types. A column whose type differs from `before` (the files published before) fails the run first.
   */
  private async writeParts(syncRunId: string, destinationId: string, work: string, dir: string, before: Record<string, string> | undefined): Promise<{ records: number; discarded?: number; columns?: Record<string, string> }> {
    const pages = await this.store.localPages(syncRunId, destinationId, work);
    if (pages.length === 0) return { records: 0 };
    if (pages.some((file) => /[*?[\]{}]/.test(file))) throw new NonRetryableError(`Parquet destination cannot read staged pages under ${path.dirname(pages[0]!)}: DuckDB reads * ? [ ] { } in a path as a pattern`);
    const schema = this.recordSchemas.get(destinationId);
    const read = `read_json([${pages.map(literal).join(', ')}], format = 'newline_delimited', columns = ${STAGED_COLUMNS})`;
    const tag = runTag(syncRunId);
    const options = [`FORMAT parquet`, `COMPRESSION ${this.config.compression === 'none' ? 'uncompressed' : this.config.compression}`, `ROW_GROUP_SIZE ${this.config.row_group_size}`];
    const rolling = this.config.file_size_mb !== undefined;
    if (rolling) options.push(`FILE_SIZE_BYTES ${Math.round(this.config.file_size_mb! * 1024 * 1024)}`);
    const partition = this.config.partition_by;
    const partitionColumn = partition ? `${partition.field}_${partition.granularity}` : undefined;
    if (partitionColumn) options.push(`PARTITION_BY (${identifier(partitionColumn)})`);
    const target = rolling || partitionColumn ? dir : path.join(dir, `part-${tag}-0.parquet`);
    if (rolling || partitionColumn) options.push(`FILENAME_PATTERN ${literal(`part-${tag}-{i}`)}`);
    return this.withDuckDB(`write the Parquet files of ${destinationId}`, async (connection) => {
      const plan = this.config.unnest && mayStageOthers(contractFor(this.config.schema_contract, schema !== undefined), schema !== undefined) ? await this.planColumns(connection, read, destinationId, schema, before) : { columns: [], drop: [] };
      const fields = new Map((schema?.record_schema ?? []).map((field) => [field.name, field]));
      const select = tableColumns(DUCKDB, this.config.unnest, schema).map((column) => (fields.has(column.name) ? `${fieldExpression(fields.get(column.name)!)} AS ${identifier(column.name)}` : identifier(column.name)));
      select.push(...plan.columns.map((column) => `${plannedExpression(column)} AS ${identifier(column.name)}`));
      if (partition && partitionColumn) {
        const value = fields.has(partition.field) ? identifier(partition.field) : `json_extract_string(source_data, ${literal(`$.${partition.field}`)})`;
        select.push(`strftime(TRY_CAST(${value} AS TIMESTAMP), ${literal(FORMATS[partition.granularity])}) AS ${identifier(partitionColumn)}`);
      }
      const dropped = droppedRowsCondition(plan.drop);
      // Streamed: no sort holds the run in memory.
      const rows = `SELECT ${select.join(', ')} FROM ${read}${dropped ? ` WHERE NOT (${dropped})` : ''}`;
      const described = (await connection.runAndReadAll(`DESCRIBE ${rows}`)).getRowObjectsJS();
      const columns = Object.fromEntries(described.filter((row) => row.column_name !== partitionColumn).map((row) => [String(row.column_name), String(row.column_type)]));
      for (const [name, type] of Object.entries(columns)) {
        const was = before?.[name];
        if (was !== undefined && was !== type) {
          throw new NonRetryableError(
            `Column '${name}' of ${destinationId} is ${was} in the files published before, but this run writes it as ${type}: nothing was published. ` +
              "Change the field's type back in record_schemas, or run a full refresh (bizon run --reset) to rewrite the table with the new type",
          );
        }
      }
      // Order within a run's files is not kept (a Parquet table is a set): DuckDB then streams without buffering for it.
      await connection.run('SET preserve_insertion_order = false');
      const discarded = dropped ? Number((await connection.runAndReadAll(`SELECT count(*) AS n FROM ${read} WHERE ${dropped}`)).getRowObjectsJS()[0]!.n) : 0;
      return { records: (await connection.run(`COPY (${rows}) TO ${literal(target)} (${options.join(', ')})`)).rowsChanged, discarded, columns };
    });
  }

  /** The columns the run's staged fields beyond the record schema get, by the schema contract. */
  private async planColumns(connection: DuckDBConnection, read: string, destinationId: string, schema: RecordSchema | undefined, before: Record<string, string> | undefined): Promise<ColumnPlan> {
    const staged = await stagedKinds(connection, `SELECT source_record_id, source_data FROM ${read}`);
    return planColumns({
      table: destinationId,
      staged,
      declared: schema ? new Set(schema.record_schema.map((field) => field.name)) : undefined,
      existing: before && new Map(Object.entries(before).map(([name, type]) => [name, reportedType(type, DUCKDB.types)])),
      contract: contractFor(this.config.schema_contract, schema !== undefined),
    });
  }

  private async withDuckDB<T>(doing: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    // Loaded on first use: the native library costs every CLI command ~0.1 s otherwise.
    const { DuckDBInstance } = await importOptional<typeof import('@duckdb/node-api')>('@duckdb/node-api', 'The parquet destination (DuckDB writes its files)');
    const options: Record<string, string> = {};
    if (this.config.memory_limit) options.memory_limit = this.config.memory_limit;
    if (this.config.threads) options.threads = String(this.config.threads);
    const instance = await DuckDBInstance.create(':memory:', options);
    const connection = await instance.connect();
    try {
      return await work(connection);
    } catch (error) {
      if (error instanceof NonRetryableError) throw error;
      const message = `Parquet destination could not ${doing} for ${this.store.where}: ${(error as Error).message}`;
      throw /^(IO Error|Out of Memory Error|Interrupt Error)\b/i.test((error as Error).message) ? new DestinationWriteError(message, { cause: error }) : new NonRetryableError(message, { cause: error });
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  async forgetPublished(run: { syncRunId: string }): Promise<void> {
    await this.store.delete(this.publishedRecord(run.syncRunId));
    await this.store.removeStaging(run.syncRunId, runTag(run.syncRunId));
  }

  async abort(run: { syncRunId: string }): Promise<void> {
    await this.store.removeStaging(run.syncRunId, runTag(run.syncRunId));
  }

  /** Removes staging a crash left behind after its run published (a run its manifests list). */
  async prune(): Promise<void> {
    for (const syncRunId of await this.store.stagedRuns()) {
      const ids = await this.store.stagedDestinationIds(syncRunId);
      const manifests = await Promise.all(ids.map((id) => this.readManifest(id).catch(() => undefined)));
      if (ids.length > 0 && manifests.every((manifest) => manifest?.runs.some((published) => published.sync_run_id === syncRunId))) await this.abort({ syncRunId });
    }
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
