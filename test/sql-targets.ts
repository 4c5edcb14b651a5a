import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { tempDir } from './helpers.ts';
import type { TestPostgres } from './postgres.ts';

/** A database the SQL destination tests fill and then query, the same way for Postgres and DuckDB. */
export interface SqlTarget {
  /** The `destination.config` block that writes into this database (plus `extra`). */
  config(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Runs a query, every value as JSON gives it (counts as strings, as `pg` does). */
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  /** The column types of a table, by name, as the database names them. */
  columnTypes(table: string): Promise<Record<string, string>>;
}

/** How each database names the types the record schema tests use. */
export interface SqlDialect {
  name: 'postgres' | 'duckdb' | 'parquet';
  types: { STRING: string; INTEGER: string; FLOAT: string; TIMESTAMP: string; JSON: string };
  /** Where a sync's output says the table is. */
  location(target: SqlTarget, table: string): string;
  create(prefix: string): Promise<SqlTarget>;
}

export async function queryPostgres(url: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Reads a DuckDB file the way another program would: opened read-only for the query, then closed. */
export async function queryDuckDB(file: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    const rows = (await connection.runAndReadAll(sql)).getRowObjectsJson();
    return rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'number' ? String(value) : value])));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const columnsSql = (schema: string, table: string) =>
  `SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = '${table.replace(/'/g, "''")}' ORDER BY ordinal_position`;

export function postgresDialect(postgres: () => TestPostgres): SqlDialect {
  return {
    name: 'postgres',
    types: { STRING: 'text', INTEGER: 'bigint', FLOAT: 'double precision', TIMESTAMP: 'timestamp with time zone', JSON: 'jsonb' },
    location: (_target, table) => `postgres public.${table}`,
    async create(prefix) {
      const url = await postgres().createDatabase(prefix);
      const target: SqlTarget = {
        config: (extra = {}) => ({ connection_string: url, ...extra }),
        query: (sql) => queryPostgres(url, sql),
        async columnTypes(table) {
          return Object.fromEntries((await target.query(columnsSql('public', table))).map((row) => [row.name, row.type]));
        },
      };
      return target;
    },
  };
}

export const duckdbDialect: SqlDialect = {
  name: 'duckdb',
  types: { STRING: 'VARCHAR', INTEGER: 'BIGINT', FLOAT: 'DOUBLE', TIMESTAMP: 'TIMESTAMP WITH TIME ZONE', JSON: 'JSON' },
  location: (target, table) => `duckdb ${(target.config() as { path: string }).path} main.${table}`,
  async create(prefix) {
    const file = path.join(tempDir(`bizon-${prefix}-`), 'out.duckdb');
    const target: SqlTarget = {
      config: (extra = {}) => ({ path: file, ...extra }),
      query: (sql) => queryDuckDB(file, sql),
      async columnTypes(table) {
        return Object.fromEntries((await target.query(columnsSql('main', table))).map((row) => [row.name, row.type]));
      },
    };
    return target;
  },
};

/**
 * The parquet destination as a database: a folder per table, queried by an in-memory DuckDB through a view per
 * table over the files its manifest lists (columns by name, as a lake reader unions files of different runs).
 */
export const parquetDialect: SqlDialect = {
  name: 'parquet',
  types: { STRING: 'VARCHAR', INTEGER: 'BIGINT', FLOAT: 'DOUBLE', TIMESTAMP: 'TIMESTAMP WITH TIME ZONE', JSON: 'JSON' },
  location: (target, table) => `${path.join((target.config() as { path: string }).path, table)} (parquet, _bizon_manifest.json)`,
  async create(prefix) {
    const folder = tempDir(`bizon-${prefix}-`);
    const views = (sql: string) => {
      const tables = [...new Set([...sql.matchAll(/\bFROM\s+"?([A-Za-z0-9_]+)"?/gi)].map((match) => match[1]!))];
      return tables
        .map((table) => {
          const manifest = path.join(folder, table, '_bizon_manifest.json');
          const files = existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { files: string[] }).files : [];
          const list = files.map((file) => `'${path.join(folder, table, file)}'`).join(', ');
          return `CREATE VIEW "${table}" AS SELECT * FROM read_parquet([${list}], union_by_name = true);`;
        })
        .join('\n');
    };
    const target: SqlTarget = {
      config: (extra = {}) => ({ path: folder, ...extra }),
      async query(sql) {
        const instance = await DuckDBInstance.create(':memory:');
        const connection = await instance.connect();
        try {
          await connection.run(views(sql));
          const rows = (await connection.runAndReadAll(sql)).getRowObjectsJson();
          return rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'number' ? String(value) : value])));
        } finally {
          connection.closeSync();
          instance.closeSync();
        }
      },
      async columnTypes(table) {
        return Object.fromEntries((await target.query(`SELECT column_name AS name, column_type AS type FROM (DESCRIBE SELECT * FROM ${table})`)).map((row) => [row.name, row.type]));
      },
    };
    return target;
  },
};
