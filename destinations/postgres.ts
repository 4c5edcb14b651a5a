import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { z } from 'zod';
import { DestinationWriteError, NonRetryableError } from '../errors.ts';
import { toRows, type Destination, type DestinationRow, type PublishedOutput, type PublishMode, type WriteBatch } from './destination.ts';

/** Config of the `postgres` destination. */
export const PostgresDestinationConfig = z.strictObject({
  connection_string: z.string().min(1).describe('postgres://user:password@host:port/database (a secret reference: BIZON_ENV_PG_URL)'),
  schema: z.string().min(1).default('public').describe('Schema of the tables (created if missing)'),
  write_mode: z
    .enum(['append', 'merge'])
    .default('append')
    .describe('How an incremental sync publishes: append its rows, or merge them on primary_key (a re-extracted record updates its row)'),
  primary_key: z.enum(['source_record_id', 'bizon_id']).default('source_record_id').describe('With write_mode: merge, the column a record is matched on'),
  destination_id: z.string().min(1).optional().describe('Table name (defaults to <source>_<stream>); records may route to other tables'),
});
export type PostgresDestinationConfig = z.infer<typeof PostgresDestinationConfig>;

/** Postgres cuts identifiers longer than this silently: refused instead, so two tables never merge. */
const MAX_IDENTIFIER_BYTES = 63;
const STAGING_TABLE = '_bizon_staging';
const PUBLISHED_TABLE = '_bizon_published';
const COLUMNS = ['bizon_id', 'bizon_extracted_at', 'bizon_loaded_at', 'source_record_id', 'source_timestamp', 'source_data', 'destination_id'] as const;

/** A quoted identifier: nothing in a name can end the quotes. */
function identifier(name: string): string {
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES || name === '' || name.includes('\0')) {
    throw new NonRetryableError(`Invalid Postgres table name '${name.slice(0, 70)}': at most ${MAX_IDENTIFIER_BYTES} bytes, not empty (shorten destination_id, or the destinationId the source gives its records)`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

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
  return new DestinationWriteError(message, { cause: error });
}

/**
 * Loads records into Postgres tables, one per destination id. Each page is
 * COPYed into a staging table under (sync run, slice, page), replacing what
 * an earlier attempt staged; `finalize` publishes every staged page of the run
 * in one transaction (replace: the table's rows are swapped; append: added)
 * and remembers it published, so a retried publish changes nothing.
 */
export class PostgresDestination implements Destination {
  private readonly pool: pg.Pool;
  private readonly schema: string;

  constructor(
    private readonly config: PostgresDestinationConfig,
    private readonly defaultDestinationId: string,
  ) {
    this.schema = identifier(config.schema);
    identifier(defaultDestinationId);
    this.pool = new pg.Pool({ connectionString: config.connection_string, max: 2, connectionTimeoutMillis: 10_000 });
    // An idle client that loses its server must not crash the worker; the next query reports it.
    this.pool.on('error', () => undefined);
  }

  private table(name: string): string {
    return `${this.schema}.${identifier(name)}`;
  }

  private async transaction<T>(doing: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
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

  async write(batch: WriteBatch): Promise<void> {
    const rows = toRows(batch, this.defaultDestinationId);
    for (const row of rows) identifier(row.destination_id);
    const slice = batch.slice ?? -1;
    await this.transaction(`stage page ${batch.iteration}`, async (client) => {
      await client.query(`DELETE FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1 AND slice = $2 AND iteration = $3`, [batch.syncRunId, slice, batch.iteration]);
      if (rows.length === 0) return;
      const copy = client.query(copyFrom(`COPY ${this.table(STAGING_TABLE)} (sync_run_id, slice, iteration, ${COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv)`));
      await pipeline(Readable.from(rows.map((row) => csvLine(batch.syncRunId, slice, batch.iteration, row))), copy);
    });
  }

  async finalize(run: { syncRunId: string; mode: PublishMode }): Promise<PublishedOutput[]> {
    return this.transaction('publish', async (client) => {
      const done = await client.query<{ outputs: PublishedOutput[] }>(`SELECT outputs FROM ${this.table(PUBLISHED_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
      if (done.rows[0]) return done.rows[0].outputs;
      const staged = await client.query<{ destination_id: string }>(`SELECT DISTINCT destination_id FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
      const destinationIds = staged.rows.map((row) => row.destination_id);
      if (run.mode === 'replace' && !destinationIds.includes(this.defaultDestinationId)) destinationIds.push(this.defaultDestinationId);
      const outputs: PublishedOutput[] = [];
      for (const destinationId of destinationIds.sort()) {
        const target = this.table(destinationId);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${target} (bizon_id text PRIMARY KEY, bizon_extracted_at timestamptz NOT NULL, bizon_loaded_at timestamptz NOT NULL,
             source_record_id text NOT NULL, source_timestamp timestamptz NOT NULL, source_data jsonb NOT NULL, destination_id text NOT NULL)`,
        );
        if (this.config.write_mode === 'merge') {
          // The unique index ON CONFLICT needs; a table that already holds duplicates of the key refuses it, clearly.
          const indexName = `bizon_${createHash('sha256').update(destinationId).digest('hex').slice(0, 16)}_${this.config.primary_key}`;
          await client.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${identifier(indexName)} ON ${target} (${this.config.primary_key})`);
        }
        // DELETE, not TRUNCATE: readers keep seeing the old rows until this transaction commits.
        if (run.mode === 'replace') await client.query(`DELETE FROM ${target}`);
        const inserted = await client.query(this.publishSql(target), [run.syncRunId, destinationId]);
        outputs.push({ destinationId, records: inserted.rowCount ?? 0, location: `postgres ${this.config.schema}.${destinationId}` });
      }
      await client.query(`DELETE FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1`, [run.syncRunId]);
      await client.query(`INSERT INTO ${this.table(PUBLISHED_TABLE)} (sync_run_id, outputs) VALUES ($1, $2)`, [run.syncRunId, JSON.stringify(outputs)]);
      return outputs;
    });
  }

  /**
   * Moves a run's staged rows of one destination id into `target`. With `write_mode: merge`, the last staged
   * version of each record wins, and a record already in the table is updated in place.
   */
  private publishSql(target: string): string {
    const staged = `FROM ${this.table(STAGING_TABLE)} WHERE sync_run_id = $1 AND destination_id = $2`;
    if (this.config.write_mode === 'append') return `INSERT INTO ${target} (${COLUMNS.join(', ')}) SELECT ${COLUMNS.join(', ')} ${staged} ORDER BY slice, iteration, bizon_id`;
    const key = this.config.primary_key;
    const updates = COLUMNS.filter((column) => column !== key).map((column) => `${column} = EXCLUDED.${column}`);
    return `INSERT INTO ${target} (${COLUMNS.join(', ')})
      SELECT DISTINCT ON (${key}) ${COLUMNS.join(', ')} ${staged} ORDER BY ${key}, slice DESC, iteration DESC, bizon_id DESC
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
    await this.pool.end();
  }
}
