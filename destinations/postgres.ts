import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { importOptional } from '../engine/optional-package.ts';
import { z } from 'zod';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { toRows, type Destination, type DestinationRow, type PublishedOutput, type PublishMode, type WriteBatch, type WriteResult } from './destination.ts';
import { checkSqlTableConfig, columnType, primaryKeyMissing, schemasById, SqlTableConfig, unnestRows, type RecordSchema } from './record-schema.ts';
import { contractFor, mayStageOthers, planColumns, reportedType, type ColumnPlan, type Kind, type PlannedColumn } from './schema-contract.ts';
import { addedColumnDdl, columnsToAdd, tableColumns } from './sql.ts';
import { droppedRowsCondition, identifier, kindSql, plannedSql, POSTGRES } from './postgres-sql.ts';

/** Config of the `postgres` destination. */
export const PostgresDestinationConfig = z
  .strictObject({
    connection_string: z.string().min(1).optional().describe('postgres://user:password@host:port/database (a secret reference: BIZON_ENV_PG_URL); or host, port, user, password, database'),
    host: z.string().min(1).optional().describe('Server host (instead of connection_string)'),
    port: z.coerce.number().int().min(1).max(65535).default(5432).describe('Server port'),
    user: z.string().min(1).optional().describe('Role to connect as'),
    password: z.string().optional().describe('Password of the role (a secret reference: BIZON_ENV_PG_PASSWORD)'),
    database: z.string().min(1).optional().describe('Database name (default: the user name)'),
    schema: z.string().min(1).default('public').describe('Schema of the tables (created if missing)'),
    ...SqlTableConfig,
  })
  .superRefine((config, context) => {
    if ((config.connection_string === undefined) === (config.host === undefined)) {
      context.addIssue({ code: 'custom', path: ['connection_string'], message: 'give either connection_string or host (with port, user, password, database)' });
    }
    if (config.connection_string !== undefined) {
      for (const key of ['user', 'password', 'database'] as const) {
        if (config[key] !== undefined) context.addIssue({ code: 'custom', path: [key], message: 'goes in connection_string when connection_string is given' });
      }
    }
    checkSqlTableConfig(config, context);
  });
export type PostgresDestinationConfig = z.infer<typeof PostgresDestinationConfig>;

const STAGING_TABLE = '_bizon_staging';
const PUBLISHED_TABLE = '_bizon_published';
const COLUMNS = ['bizon_id', 'bizon_extracted_at', 'bizon_loaded_at', 'source_record_id', 'source_timestamp', 'source_data', 'destination_id'] as const;

/** One CSV field: quoted, quotes doubled; `null` unquoted (COPY's NULL). */
function csvField(value: string | null): string {
  return value === null ? '' : `"${value.replace(/"/g, '""')}"`;
}

function csvLine(syncRunId: string, slice: number, iteration: number, row: DestinationRow): string {
  const values = [syncRunId, String(slice), String(iteration), row.bizon_id, row.bizon_extracted_at, row.bizon_loaded_at, row.source_record_id, row.source_timestamp, JSON.stringify(row.source_data), row.destination_id];
  return `${values.map(csvField).join(',')}\n`;
}

/** Server answers that no retry can change: wrong password, unknown database or role, no permission. */
const PERMANENT_SQLSTATES = new Set(['28P01', '28000', '3D000', '42501', '3F000']);

/** A driver error as the framework's: permanent ones are non-retryable, the rest (server down, restarting) retried. */
function asDestinationError(error: unknown, doing: string): Error {
  const code = (error as { code?: string }).code;
  const message = `Postgres destination could not ${doing}: ${(error as Error).message}`;
  if ((code && PERMANENT_SQLSTATES.has(code)) || code === 'ENOTFOUND') return new NonRetryableError(message, { cause: error });
  if (code?.startsWith('22')) {
    // A data exception (a \u0000 or a lone surrogate jsonb cannot hold, a value out of range): the same record
    // fails every attempt. Postgres says where (the staged line, i.e. the record, and the column).
    const where = (error as { where?: string }).where;
    return new NonRetryableError(`${message}${where ? ` (${where.split('\n')[0]})` : ''}: a value Postgres cannot store; fix or drop it in the source`, { cause: error });
  }
  return new DestinationWriteError(message, { cause: error });
}

/** The pool's connection settings: the connection string, or its parts. */
function connectionOf(config: PostgresDestinationConfig): pg.PoolConfig {
  if (config.connection_string !== undefined) return { connectionString: config.connection_string };
  return { host: config.host, port: config.port, user: config.user, password: config.password, database: config.database ?? config.user };
}

/** About this many bytes of CSV per chunk sent to COPY: a message per row would cost more than the row. */
const COPY_CHUNK_CHARS = 256 * 1024;

/** The page's CSV in chunks, never the whole page as one string. */
function* csvChunks(syncRunId: string, slice: number, iteration: number, rows: readonly DestinationRow[], written: WriteResult): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    chunk += csvLine(syncRunId, slice, iteration, row);
    if (chunk.length >= COPY_CHUNK_CHARS) {
      written.bytes += Buffer.byteLength(chunk);
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) {
    written.bytes += Buffer.byteLength(chunk);
    yield chunk;
  }
}

/**
 * Loads records into Postgres tables, one per destination id. Each page is
 * COPYed into a staging table under (sync run, slice, page), replacing what
 * an earlier attempt staged; `finalize` publishes every staged page of the run
 * in one transaction (replace: the table's rows are swapped; append: added;
 * merge: upserted on the primary key) and remembers it published, so a
 * retried publish changes nothing. With `unnest`, each field of the record
 * schema is a typed column, checked when its page is staged.
 */
export class PostgresDestination implements Destination {
  private pool: Promise<pg.Pool> | undefined;
  private copyFrom: typeof import('pg-copy-streams').from | undefined;
  private readonly schema: string;
  private readonly recordSchemas: Map<string, RecordSchema>;

  constructor(
    private readonly config: PostgresDestinationConfig,
    private readonly defaultDestinationId: string,
  ) {
    this.schema = identifier(config.schema);
    identifier(defaultDestinationId);
    this.recordSchemas = schemasById(config.unnest ? config.record_schemas : undefined);
  }

  /** The pool, made on first use with the driver the user installed (pg is an optional dependency). */
  private connections(): Promise<pg.Pool> {
    this.pool ??= (async () => {
      const { default: driver } = await importOptional<{ default: typeof pg }>('pg', 'The postgres destination', ['pg-copy-streams']);
      this.copyFrom = (await importOptional<typeof import('pg-copy-streams')>('pg-copy-streams', 'The postgres destination', ['pg'])).from;
      const pool = new driver.Pool({ ...connectionOf(this.config), max: 2, connectionTimeoutMillis: 10_000 });
      // An idle client that loses its server must not crash the worker; the next query reports it.
      pool.on('error', () => undefined);
      return pool;
    })();
    return this.pool;
  }

  private table(name: string): string {
    return `${this.schema}.${identifier(name)}`;
  }

  private async transaction<T>(doing: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    const pool = await this.connections();
    try {
      client = await pool.connect();
    } catch (error) {
      throw asDestinationError(error, doing);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error instanceof NonRetryableError ? error : asDestinationError(error, doing);
    } finally {
      client.release();
    }
  }

  async checkConnection(): Promise<void> {
    await this.transaction('connect', async (client) => {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.table(STAGING_TABLE)} (sync_run_id text NOT NULL, slice integer NOT NULL, iteration integer NOT NULL,
           bizon_id text NOT NULL, bizon_extracted_at timestamptz NOT NULL, bizon_loaded_at timestamptz NOT NULL, source_record_id text NOT NULL,
           source_timestamp timestamptz NOT NULL, source_data jsonb NOT NULL, destination_id text NOT NULL)`,
      );
      await client.query(`CREATE INDEX IF NOT EXISTS ${identifier(`${STAGING_TABLE}_page`)} ON ${this.table(STAGING_TABLE)} (sync_run_id, slice, iteration)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.table(PUBLISHED_TABLE)} (sync_run_id text PRIMARY KEY, outputs jsonb NOT NULL, published_at timestamptz NOT NULL DEFAULT now())`);
    });
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    const page = `page ${batch.iteration}${batch.slice === undefined ? '' : ` of slice ${batch.slice}`}`;
    let rows: DestinationRow[] = toRows(batch, this.defaultDestinationId);
    for (const row of rows) identifier(row.destination_id);
    // Typed values are checked before anything is staged: a misfit fails the page, non-retryable.
    if (this.config.unnest) rows = unnestRows(rows, this.recordSchemas, this.config.schema_contract, page);
    const slice = batch.slice ?? -1;
    return this.transaction(`stage ${page}`, async (client) => {
      // Two attempts of one page (one of them a zombie: its worker lost the server, not the database) staging at
      // once would both find nothing to delete and both insert: the page's lock makes the second wait for the
      // first to commit, then replace its rows.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1), $2)', [`${batch.syncRunId}:${slice}`, batch.iteration]);
      await client.query(`DELETE FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1 AND slice = $2 AND iteration = $3`, [batch.syncRunId, slice, batch.iteration]);
      const written = { bytes: 0 };
      if (rows.length === 0) return written;
      const copy = client.query(this.copyFrom!(`COPY ${this.table(STAGING_TABLE)} (sync_run_id, slice, iteration, ${COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv)`));
      await pipeline(Readable.from(csvChunks(batch.syncRunId, slice, batch.iteration, rows, written)), copy);
      return written;
    });
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    if (this.config.unnest) {
      // Fresh statistics of the staged rows: without them Postgres plans the reading of a run's fields for a handful
      // of rows and sorts them on disk (3x slower at 200,000). Outside the publish's transaction: ANALYZE's lock
      // would otherwise hold other pipelines' publishes to the schema until this one commits.
      await this.transaction('analyze staged pages', (client) => client.query(`ANALYZE ${this.table(STAGING_TABLE)}`));
    }
    return this.transaction('publish', async (client) => {
      const done = await client.query<{ outputs: PublishedOutput[] }>(`SELECT outputs FROM ${this.table(PUBLISHED_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
      if (done.rows[0]) return done.rows[0].outputs;
      const staged = await client.query<{ destination_id: string }>(`SELECT DISTINCT destination_id FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
      const destinationIds = staged.rows.map((row) => row.destination_id);
      if (run.mode === 'replace' && !destinationIds.includes(this.defaultDestinationId)) destinationIds.push(this.defaultDestinationId);
      const outputs: PublishedOutput[] = [];
      for (const destinationId of destinationIds.sort()) {
        const target = this.table(destinationId);
        const existing = await this.existingColumns(client, destinationId);
        const declared = this.recordSchemas.has(destinationId);
        const plan = this.config.unnest && mayStageOthers(contractFor(this.config.schema_contract, declared), declared) ? await this.planColumns(client, run.syncRunId, destinationId, existing) : { columns: [], drop: [] };
        const columns = await this.prepareTable(client, destinationId, existing, plan.columns);
        // DELETE, not TRUNCATE: readers keep seeing the old rows until this transaction commits.
        if (run.mode === 'replace') await client.query(`DELETE FROM ${target}`);
        const dropped = droppedRowsCondition(plan.drop);
        const discarded = dropped
          ? (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.table(STAGING_TABLE)} s WHERE s.sync_run_id = $1 AND s.destination_id = $2 AND (${dropped})`, [run.syncRunId, destinationId])).rows[0]!.n
          : 0;
        const inserted = await client.query(this.publishSql(target, columns, this.recordSchemas.get(destinationId), plan), [run.syncRunId, destinationId]);
        outputs.push({ destinationId, records: inserted.rowCount ?? 0, location: `postgres ${this.config.schema}.${destinationId}`, ...(discarded ? { discarded } : {}) });
      }
      await client.query(`DELETE FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
      await client.query(`INSERT INTO ${this.table(PUBLISHED_TABLE)} (sync_run_id, outputs) VALUES ($1, $2)`, [run.syncRunId, JSON.stringify(outputs)]);
      return outputs;
    });
  }

  /** The table's columns and their catalog types; undefined when there is no table yet. */
  private async existingColumns(client: pg.PoolClient, destinationId: string): Promise<Map<string, string> | undefined> {
    const existing = await client.query<{ name: string; type: string }>(
      'SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
      [this.config.schema, destinationId],
    );
    return existing.rows.length === 0 ? undefined : new Map(existing.rows.map((row) => [row.name, row.type]));
  }

  /** The columns the run's staged fields beyond the record schema get, by the schema contract. */
  private async planColumns(client: pg.PoolClient, syncRunId: string, destinationId: string, existing: Map<string, string> | undefined): Promise<ColumnPlan> {
    const schema = this.recordSchemas.get(destinationId);
    const kind = kindSql('e.value', 'e.value #>> \'{}\'');
    const kinds = await client.query<{ key: string; kind: Kind; rows: number; example: string }>(
      `SELECT e.key, ${kind} AS kind, count(*)::int AS rows, min(s.source_record_id) AS example
         FROM ${this.table(STAGING_TABLE)} s CROSS JOIN LATERAL jsonb_each(s.source_data) e
        WHERE s.sync_run_id = $1 AND s.destination_id = $2 GROUP BY 1, 2 HAVING ${kind} IS NOT NULL ORDER BY 1, 2`,
      [syncRunId, destinationId],
    );
    return planColumns({
      table: `${this.config.schema}.${destinationId}`,
      staged: kinds.rows,
      declared: schema ? new Set(schema.record_schema.map((field) => field.name)) : undefined,
      existing: existing && new Map([...existing].map(([name, type]) => [name, reportedType(type, POSTGRES.types)])),
      contract: contractFor(this.config.schema_contract, schema !== undefined),
    });
  }

  /**
   * Creates the table of a destination id, or adds the columns its record schema (or the plan) gained since, and
   * the unique index `merge` needs. Returns the table's columns, bizon's first.
   */
  private async prepareTable(client: pg.PoolClient, destinationId: string, existing: Map<string, string> | undefined, planned: readonly PlannedColumn[]): Promise<string[]> {
    const target = this.table(destinationId);
    const schema = this.recordSchemas.get(destinationId);
    const wanted = [...tableColumns(POSTGRES, this.config.unnest, schema), ...planned.map((column) => ({ name: column.name, ...POSTGRES.types[column.type] }))];
    if (existing === undefined) {
      await client.query(`CREATE TABLE ${target} (${wanted.map((column) => `${identifier(column.name)} ${column.ddl}`).join(', ')})`);
    } else {
      const toCheck = wanted.filter((column) => !planned.some((plan) => plan.name === column.name && !plan.added));
      for (const column of columnsToAdd(`${this.config.schema}.${destinationId}`, existing, toCheck)) {
        await client.query(`ALTER TABLE ${target} ADD COLUMN ${identifier(column.name)} ${addedColumnDdl(column)}`);
      }
    }
    if (this.config.write_mode === 'merge') {
      if (!wanted.some((column) => column.name === this.config.primary_key)) throw new NonRetryableError(primaryKeyMissing(this.config.primary_key, `${this.config.schema}.${destinationId}`));
      // The unique index ON CONFLICT needs; a table that already holds duplicates of the key refuses it, clearly.
      const indexName = `bizon_${createHash('sha256').update(destinationId).digest('hex').slice(0, 16)}_${this.config.primary_key}`.slice(0, POSTGRES.maxIdentifierBytes);
      await client.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${identifier(indexName)} ON ${target} (${identifier(this.config.primary_key)})`);
    }
    return wanted.map((column) => column.name);
  }

  /**
   * Moves a run's staged rows of one destination id into `target`, unnesting the record schema's fields
   * into their columns. With `write_mode: merge`, the last staged version of each record wins, and a
   * record already in the table is updated in place.
   */
  private publishSql(target: string, columns: readonly string[], schema: RecordSchema | undefined, plan: ColumnPlan): string {
    // The declared fields and the planned columns that take every value of their key are read in one go.
    const whole = plan.columns.filter((column) => column.whole && column.name === column.key);
    const record = new Map([
      ...(schema?.record_schema ?? []).map((field) => [field.name, POSTGRES.types[columnType(field)].ddl] as const),
      ...whole.map((column) => [column.name, POSTGRES.types[column.type].ddl] as const),
    ]);
    const typed = record.size > 0 ? `, jsonb_to_record(s.source_data) AS x(${[...record].map(([name, ddl]) => `${identifier(name)} ${ddl}`).join(', ')})` : '';
    const planned = new Map(plan.columns.map((column) => [column.name, column]));
    const select = columns.map((column) => (record.has(column) ? `x.${identifier(column)}` : planned.has(column) ? `${plannedSql(planned.get(column)!)} AS ${identifier(column)}` : `s.${column}`));
    const dropped = droppedRowsCondition(plan.drop);
    const staged = `SELECT s.slice, s.iteration, ${select.join(', ')} FROM ${this.table(STAGING_TABLE)} s${typed} WHERE s.sync_run_id = $1 AND s.destination_id = $2${dropped ? ` AND NOT (${dropped})` : ''}`;
    const list = columns.map(identifier).join(', ');
    if (this.config.write_mode === 'append') return `INSERT INTO ${target} (${list}) SELECT ${list} FROM (${staged}) staged ORDER BY slice, iteration, bizon_id`;
    const key = identifier(this.config.primary_key);
    const updates = columns.filter((column) => column !== this.config.primary_key).map((column) => `${identifier(column)} = EXCLUDED.${identifier(column)}`);
    return `INSERT INTO ${target} (${list})
      SELECT DISTINCT ON (${key}) ${list} FROM (${staged}) staged ORDER BY ${key}, slice DESC, iteration DESC, bizon_id DESC
      ON CONFLICT (${key}) DO UPDATE SET ${updates.join(', ')}`;
  }

  async abort(run: { syncRunId: string }): Promise<void> {
    await this.transaction('discard staged pages', async (client) => {
      await client.query(`DELETE FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
    });
  }

  async prune(olderThanMs: number): Promise<void> {
    await this.transaction('prune', async (client) => {
      await client.query(`DELETE FROM ${this.table(PUBLISHED_TABLE)} WHERE published_at < now() - make_interval(secs => $1)`, [olderThanMs / 1000]);
    });
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await (await pool?.catch(() => undefined))?.end();
  }
}
