/**
 * DuckDB as bizon's destinations use it: its types, how a staged page file is read, a typed field's expression —
 * shared by the `duckdb` destination (tables) and the `parquet` one (DuckDB writes the files).
 */
import { NonRetryableError } from '../errors.ts';
import { columnType, type ColumnLimits, type RecordField } from './record-schema.ts';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DroppedRows, Kind, PlannedColumn, StagedKind } from './schema-contract.ts';
import { quoteIdentifier, type SqlDialect } from './sql.ts';

/** DuckDB, as the SQL destinations see it. */
export const DUCKDB: SqlDialect = {
  name: 'DuckDB',
  maxIdentifierBytes: 255,
  types: {
    STRING: { ddl: 'VARCHAR', reported: 'VARCHAR' },
    INTEGER: { ddl: 'BIGINT', reported: 'BIGINT' },
    FLOAT: { ddl: 'DOUBLE', reported: 'DOUBLE' },
    NUMERIC: { ddl: 'DECIMAL(38, 9)', reported: 'DECIMAL(38,9)' },
    BOOLEAN: { ddl: 'BOOLEAN', reported: 'BOOLEAN' },
    TIMESTAMP: { ddl: 'TIMESTAMPTZ', reported: 'TIMESTAMP WITH TIME ZONE' },
    DATE: { ddl: 'DATE', reported: 'DATE' },
    JSON: { ddl: 'JSON', reported: 'JSON' },
  },
  // No key constraint: DuckDB's unique indexes refuse a key deleted and inserted again in one transaction.
  bizonId: { ddl: 'VARCHAR NOT NULL', reported: 'VARCHAR' },
  text: { ddl: 'VARCHAR', reported: 'VARCHAR' },
  timestamp: { ddl: 'TIMESTAMPTZ', reported: 'TIMESTAMP WITH TIME ZONE' },
  json: { ddl: 'JSON', reported: 'JSON' },
};

export const identifier = (name: string) => quoteIdentifier(DUCKDB, name);

export const PUBLISHED_TABLE = '_bizon_published';

/** The columns of a staged page file, as `read_json` reads them. */
export const STAGED_COLUMNS =
  "{bizon_id: 'VARCHAR', bizon_extracted_at: 'TIMESTAMPTZ', bizon_loaded_at: 'TIMESTAMPTZ', source_record_id: 'VARCHAR', source_timestamp: 'TIMESTAMPTZ', source_data: 'JSON', destination_id: 'VARCHAR'}";

/** A SQL string literal. */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The value of a record schema field, from a staged row's (already checked) `source_data`. */
export function fieldExpression(field: RecordField): string {
  const jsonPath = literal(`$.${field.name}`);
  const type = columnType(field);
  if (type === 'JSON') return `CASE json_type(source_data, ${jsonPath}) WHEN 'NULL' THEN NULL ELSE json_extract(source_data, ${jsonPath}) END`;
  return `CAST(json_extract_string(source_data, ${jsonPath}) AS ${DUCKDB.types[type].ddl})`;
}

/**
 * DuckDB's names are case-insensitive: ids that differ only in case would be one table, each publish replacing
 * or doubling the other's rows. Refused before anything is published, naming them.
 */
export function refuseCaseCollisions(destinationIds: readonly string[]): void {
  const byName = new Map<string, string>();
  for (const id of [...destinationIds].sort()) {
    const other = byName.get(id.toLowerCase());
    if (other !== undefined) {
      throw new NonRetryableError(
        `destination ids '${other}' and '${id}' differ only in case, and DuckDB table names do not: they would be one table. Route the records to ids that differ in more than case`,
      );
    }
    byName.set(id.toLowerCase(), id);
  }
}

/** A NUMERIC is a DECIMAL(38, 9): 29 digits before the point. Checked as each page is staged, not at publish. */
export const DUCKDB_LIMITS: ColumnLimits = { numericIntegerDigits: 29 };

/** Whether DuckDB would read `file` as a glob pattern rather than as a path. */
export function hasGlobPattern(file: string): boolean {
  return /[*?[]/.test(file);
}

export function globPathMessage(stagingRoot: string): string {
  return `DuckDB destination cannot stage pages in ${stagingRoot}: DuckDB reads * ? [ in a path as a pattern, which could pull in other files. Put the database in a directory whose path has none of them`;
}


const KIND_OF_JSON_TYPE = "WHEN 'BIGINT' THEN 'INTEGER' WHEN 'UBIGINT' THEN 'INTEGER' WHEN 'DOUBLE' THEN 'FLOAT' WHEN 'VARCHAR' THEN 'STRING' WHEN 'BOOLEAN' THEN 'BOOLEAN' WHEN 'OBJECT' THEN 'JSON' WHEN 'ARRAY' THEN 'JSON'";

/** The kind of a staged row's value for `key` (NULL when absent or null). */
function kindExpression(key: string): string {
  return `CASE json_type(source_data, ${literal(`$."${key}"`)}) ${KIND_OF_JSON_TYPE} END`;
}

/**
 * The keys of staged rows (`rows`: a query with source_record_id and source_data), and per key the kinds of its
 * values with how many rows and one record of each. Two passes — the keys, then each key's kinds by a constant
 * path — read the run 3–4 times faster than one pass with a path per row.
 */
export async function stagedKinds(connection: DuckDBConnection, rows: string): Promise<StagedKind[]> {
  const keys = (await connection.runAndReadAll(`SELECT DISTINCT unnest(json_keys(source_data)) AS key FROM (${rows}) ORDER BY 1`)).getRowObjectsJS().map((row) => String(row.key));
  if (keys.length === 0) return [];
  // Positional aliases: two keys may differ only in case, which DuckDB's names do not tell apart.
  const kinds = keys.map((key, index) => `${kindExpression(key)} AS k${index}`).join(', ');
  const found = await connection.runAndReadAll(
    `SELECT position, kind, count(*) AS rows, min(source_record_id) AS example
       FROM (UNPIVOT (SELECT source_record_id, ${kinds} FROM (${rows})) ON COLUMNS(* EXCLUDE source_record_id) INTO NAME position VALUE kind)
      GROUP BY position, kind`,
  );
  return found
    .getRowObjectsJS()
    .map((row) => ({ key: keys[Number(String(row.position).slice(1))]!, kind: row.kind as Kind, rows: Number(row.rows), example: String(row.example) }))
    .sort((a, b) => (a.key === b.key ? (a.kind < b.kind ? -1 : 1) : a.key < b.key ? -1 : 1));
}

/** A planned column's value: its key's values of the kinds it takes, cast to its type. */
export function plannedExpression(column: PlannedColumn): string {
  const value = fieldExpression({ name: column.key, type: column.type, mode: 'NULLABLE' });
  const kinds = column.kinds.map(literal).join(', ');
  return column.whole ? value : `CASE WHEN ${kindExpression(column.key)} IN (${kinds}) THEN ${value} END`;
}

/** A condition true of the rows a plan leaves out. */
export function droppedRowsCondition(drops: readonly DroppedRows[]): string | undefined {
  if (drops.length === 0) return undefined;
  return drops.map((drop) => (drop.kinds ? `coalesce(${kindExpression(drop.key)} IN (${drop.kinds.map(literal).join(', ')}), false)` : `${kindExpression(drop.key)} IS NOT NULL`)).join(' OR ');
}
