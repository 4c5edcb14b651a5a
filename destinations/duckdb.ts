import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import { importOptional } from '../engine/optional-package.ts';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { toRows, type Destination, type DestinationRow, type PublishedOutput, type PublishMode, type WriteBatch, type WriteResult } from './destination.ts';
import { linesByDestination, StagedPageFiles } from './page-files.ts';
import { checkSqlTableConfig, primaryKeyMissing, schemasById, SqlTableConfig, unnestRows, type RecordSchema } from './record-schema.ts';
import { contractFor, mayStageOthers, planColumns, reportedType, type ColumnPlan, type PlannedColumn } from './schema-contract.ts';
import { addedColumnDdl, columnsToAdd, tableColumns } from './sql.ts';
import { DUCKDB, DUCKDB_LIMITS, droppedRowsCondition, fieldExpression, globPathMessage, hasGlobPattern, identifier, literal, plannedExpression, PUBLISHED_TABLE, refuseCaseCollisions, stagedKinds, STAGED_COLUMNS } from './duckdb-sql.ts';

/** Config of the `duckdb` destination. */
export const DuckDBDestinationConfig = z
  .strictObject({
    path: z.string().min(1).default('bizon.duckdb').describe('The DuckDB database file (relative to the worker’s working directory; created if missing)'),
    schema: z.string().min(1).default('main').describe('Schema of the tables (created if missing)'),
    ...SqlTableConfig,
    memory_limit: z.string().min(1).optional().describe("DuckDB's memory_limit while publishing (e.g. 1GB); beyond it DuckDB spills to disk"),
  })
  .superRefine(checkSqlTableConfig);
export type DuckDBDestinationConfig = z.infer<typeof DuckDBDestinationConfig>;

/** The operations on one database file of this process, one at a time: two open copies of a file would each write it. */
const fileQueues = new Map<string, Promise<void>>();

/** An IO error of DuckDB's file lock: another process has the file open. */
function isLockError(error: unknown): boolean {
  return /Could not set lock on file/i.test(String((error as Error)?.message ?? error));
}

function isOutOfMemory(error: unknown): boolean {
  return /^Out of Memory Error\b/i.test(String((error as Error)?.message ?? error));
}

/** DuckDB errors another attempt may not see (the file locked, the disk full, memory short); the rest are mistakes. */
function isTransient(error: unknown): boolean {
  return isOutOfMemory(error) || /^(IO Error|Interrupt Error)\b/i.test(String((error as Error)?.message ?? error));
}

/**
 * Loads records into tables of a DuckDB file, one per destination id. Pages
 * are staged as NDJSON files beside the database (`<path>.bizon-staging/`),
 * one per (sync run, slice, page), so a retried page replaces its file and the
 * database itself is opened only to publish: readers (the `duckdb` CLI,
 * Python) can open the file while a sync extracts. `finalize` reads every
 * staged page into the tables in one transaction (replace, append or merge)
 * and records that the run published, so a retried publish changes nothing.
 */
export class DuckDBDestination implements Destination {
  private readonly file: string;
  private readonly staging: StagedPageFiles;
  private readonly schema: string;
  private readonly recordSchemas: Map<string, RecordSchema>;

  constructor(
    private readonly config: DuckDBDestinationConfig,
    private readonly defaultDestinationId: string,
  ) {
    this.file = path.resolve(config.path);
    this.staging = new StagedPageFiles(`${this.file}.bizon-staging`);
    this.schema = identifier(config.schema);
    identifier(defaultDestinationId);
    this.recordSchemas = schemasById(config.unnest ? config.record_schemas : undefined);
  }

  private table(name: string): string {
    return `${this.schema}.${identifier(name)}`;
  }

  /** Opens the file (after this process's other operations on it), runs `work` in a transaction, and closes it. */
  private async withTransaction<T>(doing: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const previous = fileQueues.get(this.file) ?? Promise.resolve();
    let done!: () => void;
    const turn = new Promise<void>((resolve) => (done = resolve));
    const mine = previous.then(() => turn);
    fileQueues.set(this.file, mine);
    await previous;
    let instance: DuckDBInstance | undefined;
    let connection: DuckDBConnection | undefined;
    try {
      // Loaded on first use: the native library costs every CLI command ~0.1 s otherwise.
      const { DuckDBInstance } = await importOptional<typeof import('@duckdb/node-api')>('@duckdb/node-api', 'The duckdb destination');
      instance = await DuckDBInstance.create(this.file, this.config.memory_limit ? { memory_limit: this.config.memory_limit } : {});
      connection = await instance.connect();
      await connection.run('BEGIN TRANSACTION');
      try {
        const result = await work(connection);
        await connection.run('COMMIT');
        // The published rows go from the write-ahead log into the file itself, for readers that open it next.
        await connection.run('CHECKPOINT');
        return result;
      } catch (error) {
        await connection.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } catch (error) {
      if (error instanceof NonRetryableError) throw error;
      const why = isLockError(error)
        ? `${(error as Error).message} (another process has the database open: it is retried until that process closes it)`
        : (error as Error).message;
      const message = `DuckDB destination could not ${doing} in ${this.file}: ${why}`;
      if (this.config.memory_limit && isOutOfMemory(error)) {
        // Within a limit the user set, the same publish runs out of memory again: another attempt cannot help.
        const firstLine = (error as Error).message.split('\n')[0];
        throw new NonRetryableError(
          `DuckDB destination could not ${doing} in ${this.file} within destination.config.memory_limit (${this.config.memory_limit}): ${firstLine}. ` +
            'Raise memory_limit (reading staged pages needs at least ~100MB), or remove it to let DuckDB use most of the memory; the tables are as they were before this sync',
          { cause: error },
        );
      }
      throw isTransient(error) ? new DestinationWriteError(message, { cause: error }) : new NonRetryableError(message, { cause: error });
    } finally {
      connection?.closeSync();
      instance?.closeSync();
      done();
      if (fileQueues.get(this.file) === mine) fileQueues.delete(this.file);
    }
  }

  private async ensureBookkeeping(connection: DuckDBConnection): Promise<void> {
    await connection.run(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
    await connection.run(`CREATE TABLE IF NOT EXISTS ${this.table(PUBLISHED_TABLE)} (sync_run_id VARCHAR PRIMARY KEY, outputs JSON NOT NULL, published_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  }

  async checkConnection(): Promise<void> {
    // Staged page names never hold a pattern (see StagedPageFiles); the database's own path might.
    if (hasGlobPattern(this.staging.root)) throw new NonRetryableError(globPathMessage(this.staging.root));
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
    } catch (error) {
      throw new NonRetryableError(`DuckDB destination cannot create the directory of ${this.file}: ${(error as Error).message}`);
    }
    await this.withTransaction('open the database', (connection) => this.ensureBookkeeping(connection));
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    const page = `page ${batch.iteration}${batch.slice === undefined ? '' : ` of slice ${batch.slice}`}`;
    let rows: DestinationRow[] = toRows(batch, this.defaultDestinationId);
    for (const row of rows) identifier(row.destination_id);
    if (this.config.unnest) rows = unnestRows(rows, this.recordSchemas, this.config.schema_contract, page, DUCKDB_LIMITS);
    try {
      return await this.staging.writePage(batch, linesByDestination(rows));
    } catch (error) {
      throw new DestinationWriteError(`DuckDB destination could not stage ${page} in ${this.staging.runDir(batch.syncRunId)}: ${(error as Error).message}`, { cause: error });
    }
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    const outputs = await this.withTransaction('publish', async (connection) => {
      await this.ensureBookkeeping(connection);
      const done = await connection.runAndReadAll(`SELECT CAST(outputs AS VARCHAR) AS outputs FROM ${this.table(PUBLISHED_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
      const published = done.getRowObjectsJS()[0];
      if (published) return JSON.parse(String(published.outputs)) as PublishedOutput[];
      const destinationIds = await this.staging.destinationIds(run.syncRunId);
      if (run.mode === 'replace' && !destinationIds.includes(this.defaultDestinationId)) destinationIds.push(this.defaultDestinationId);
      refuseCaseCollisions(destinationIds);
      const results: PublishedOutput[] = [];
      for (const destinationId of destinationIds.sort()) {
        const { records, discarded } = await this.publishOne(connection, run, destinationId);
        results.push({ destinationId, records, location: `duckdb ${this.file} ${this.config.schema}.${destinationId}`, ...(discarded ? { discarded } : {}) });
      }
      await connection.run(`INSERT INTO ${this.table(PUBLISHED_TABLE)} (sync_run_id, outputs) VALUES ($1, $2)`, [run.syncRunId, JSON.stringify(results)]);
      return results;
    });
    await this.staging.removeRun(run.syncRunId);
    await this.staging.removeRootIfEmpty();
    return outputs;
  }

  /** Publishes the staged pages of one destination id; returns how many rows went in, and how many the contract left out. */
  private async publishOne(connection: DuckDBConnection, run: { syncRunId: string; mode: PublishMode }, destinationId: string): Promise<{ records: number; discarded: number }> {
    const target = this.table(destinationId);
    const schema = this.recordSchemas.get(destinationId);
    const files = await this.staging.pageFiles(run.syncRunId, destinationId);
    // read_json expands * ? [ in a path as a pattern: only exact paths may go in (checkConnection refused others).
    if (files.some(hasGlobPattern)) throw new NonRetryableError(globPathMessage(this.staging.root));
    const read = `read_json([${files.map(literal).join(', ')}], format = 'newline_delimited', filename = true, columns = ${STAGED_COLUMNS})`;
    const existing = await this.existingColumns(connection, destinationId);
    const plan = this.config.unnest && files.length > 0 && mayStageOthers(contractFor(this.config.schema_contract, schema !== undefined), schema !== undefined) ? await this.planColumns(connection, read, destinationId, schema, existing) : { columns: [], drop: [] };
    const columns = await this.prepareTable(connection, destinationId, schema, existing, plan.columns);
    if (run.mode === 'replace') await connection.run(`DELETE FROM ${target}`);
    if (files.length === 0) return { records: 0, discarded: 0 };
    const fields = new Map((schema?.record_schema ?? []).map((field) => [field.name, field]));
    const planned = new Map(plan.columns.map((column) => [column.name, column]));
    const select = columns.map((column) =>
      fields.has(column) ? `${fieldExpression(fields.get(column)!)} AS ${identifier(column)}` : planned.has(column) ? `${plannedExpression(planned.get(column)!)} AS ${identifier(column)}` : identifier(column),
    );
    const dropped = droppedRowsCondition(plan.drop);
    const discarded = dropped ? Number((await connection.runAndReadAll(`SELECT count(*) AS n FROM ${read} WHERE ${dropped}`)).getRowObjectsJS()[0]!.n) : 0;
    const staged = `SELECT filename, ${select.join(', ')} FROM ${read}${dropped ? ` WHERE NOT (${dropped})` : ''}`;
    const list = columns.map(identifier).join(', ');
    if (this.config.write_mode === 'append') {
      return { records: (await connection.run(`INSERT INTO ${target} (${list}) SELECT ${list} FROM (${staged}) ORDER BY filename`)).rowsChanged, discarded };
    }
    if (!columns.includes(this.config.primary_key)) throw new NonRetryableError(primaryKeyMissing(this.config.primary_key, `${this.config.schema}.${destinationId}`));
    // merge: the last staged version of each record replaces the table's row (see DUCKDB.bizonId on indexes).
    const key = identifier(this.config.primary_key);
    await connection.run(`CREATE TEMP TABLE bizon_merge AS SELECT * FROM (${staged}) QUALIFY row_number() OVER (PARTITION BY ${key} ORDER BY filename DESC, bizon_id DESC) = 1`);
    try {
      await connection.run(`DELETE FROM ${target} WHERE ${key} IN (SELECT ${key} FROM bizon_merge)`);
      return { records: (await connection.run(`INSERT INTO ${target} (${list}) SELECT ${list} FROM bizon_merge ORDER BY filename`)).rowsChanged, discarded };
    } finally {
      await connection.run('DROP TABLE bizon_merge');
    }
  }

  /** The table's columns and their catalog types; undefined when there is no table yet. */
  private async existingColumns(connection: DuckDBConnection, destinationId: string): Promise<Map<string, string> | undefined> {
    const existing = await connection.runAndReadAll('SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [
      this.config.schema,
      destinationId,
    ]);
    const rows = existing.getRowObjectsJS();
    return rows.length === 0 ? undefined : new Map(rows.map((row) => [String(row.name), String(row.type).replace(/\s+/g, ' ').replace(/, /g, ',')]));
  }

  /** The columns the run's staged fields beyond the record schema get, by the schema contract. */
  private async planColumns(connection: DuckDBConnection, read: string, destinationId: string, schema: RecordSchema | undefined, existing: Map<string, string> | undefined): Promise<ColumnPlan> {
    const staged = await stagedKinds(connection, `SELECT source_record_id, source_data FROM ${read}`);
    return planColumns({
      table: `${this.config.schema}.${destinationId}`,
      staged,
      declared: schema ? new Set(schema.record_schema.map((field) => field.name)) : undefined,
      existing: existing && new Map([...existing].map(([name, type]) => [name, reportedType(type, DUCKDB.types)])),
      contract: contractFor(this.config.schema_contract, schema !== undefined),
    });
  }

  /** Creates a destination id's table, or adds the columns its record schema (or the plan) gained since; returns its columns. */
  private async prepareTable(
    connection: DuckDBConnection,
    destinationId: string,
    schema: RecordSchema | undefined,
    existing: Map<string, string> | undefined,
    planned: readonly PlannedColumn[],
  ): Promise<string[]> {
    const target = this.table(destinationId);
    const wanted = [...tableColumns(DUCKDB, this.config.unnest, schema), ...planned.map((column) => ({ name: column.name, ...DUCKDB.types[column.type] }))];
    if (existing === undefined) {
      await connection.run(`CREATE TABLE ${target} (${wanted.map((column) => `${identifier(column.name)} ${column.ddl}`).join(', ')})`);
      return wanted.map((column) => column.name);
    }
    for (const column of columnsToAdd(`${this.config.schema}.${destinationId}`, existing, wanted.filter((column) => !planned.some((plan) => plan.name === column.name && !plan.added)))) {
      await connection.run(`ALTER TABLE ${target} ADD COLUMN ${identifier(column.name)} ${addedColumnDdl(column)}`);
    }
    return wanted.map((column) => column.name);
  }

  async abort(run: { syncRunId: string }): Promise<void> {
    await this.staging.removeRun(run.syncRunId);
    await this.staging.removeRootIfEmpty();
  }

  /** Forgets published runs older than `olderThanMs`, and removes staging a crash left behind after publishing. */
  async prune(olderThanMs: number): Promise<void> {
    const runs = await this.staging.runDirs();
    const published = await this.withTransaction('prune', async (connection) => {
      await this.ensureBookkeeping(connection);
      await connection.run(`DELETE FROM ${this.table(PUBLISHED_TABLE)} WHERE published_at < now() - to_milliseconds(CAST($1 AS BIGINT))`, [Math.round(olderThanMs)]);
      if (runs.length === 0) return new Set<string>();
      const rows = await connection.runAndReadAll(`SELECT sync_run_id FROM ${this.table(PUBLISHED_TABLE)}`);
      return new Set(rows.getRowObjectsJS().map((row) => String(row.sync_run_id)));
    });
    for (const dir of runs) {
      const syncRunId = decodeURIComponent(path.basename(dir));
      if (published.has(syncRunId)) await this.staging.removeRun(syncRunId);
    }
  }
}

