import { NonRetryableError } from '../errors.ts';
import { columnType, type ColumnType, type RecordSchema } from './record-schema.ts';

/** How a database stores a column type: its DDL, and how its catalog (`information_schema`) names it. */
export interface SqlType {
  ddl: string;
  reported: string;
}

/** A SQL database as the SQL destinations see it: its name in messages, its identifier limit and its types. */
export interface SqlDialect {
  name: string;
  /** The database cuts (or refuses) longer identifiers: refused here first, so two tables never merge. */
  maxIdentifierBytes: number;
  /** The types of the record schema's fields. */
  types: Record<ColumnType, SqlType>;
  /** The column types of bizon's own columns (`bizonId` with its constraint). */
  bizonId: SqlType;
  text: SqlType;
  timestamp: SqlType;
  json: SqlType;
}

/** A column a table should have. */
export interface WantedColumn extends SqlType {
  name: string;
}

/** A quoted identifier: nothing in a name can end the quotes; a name the database cannot hold is refused. */
export function quoteIdentifier(dialect: SqlDialect, name: string): string {
  if (Buffer.byteLength(name) > dialect.maxIdentifierBytes || name === '' || name.includes('\0')) {
    throw new NonRetryableError(
      `Invalid ${dialect.name} table name '${name.slice(0, 70)}': at most ${dialect.maxIdentifierBytes} bytes, not empty (shorten destination_id, or the destinationId the source gives its records)`,
    );
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The columns of a published table, bizon's first: `source_data` holds the record unless `unnest` gives its
 * schema's fields columns of their own.
 */
export function tableColumns(dialect: SqlDialect, unnest: boolean, schema: RecordSchema | undefined): WantedColumn[] {
  const required = (type: SqlType) => ({ ddl: `${type.ddl} NOT NULL`, reported: type.reported });
  return [
    { name: 'bizon_id', ...dialect.bizonId },
    { name: 'bizon_extracted_at', ...required(dialect.timestamp) },
    { name: 'bizon_loaded_at', ...required(dialect.timestamp) },
    { name: 'source_record_id', ...required(dialect.text) },
    { name: 'source_timestamp', ...required(dialect.timestamp) },
    ...(unnest ? [] : [{ name: 'source_data', ...required(dialect.json) }]),
    { name: 'destination_id', ...required(dialect.text) },
    ...(schema?.record_schema ?? []).map((field) => {
      const type = dialect.types[columnType(field)];
      return { name: field.name, ...(field.mode === 'REQUIRED' ? required(type) : type) };
    }),
  ];
}

/**
 * The columns to add to an existing table so it holds `wanted` (a field added
 * to a record schema adds its column on the next publish). A column whose type
 * changed is refused, naming it: converting data is the user's decision.
 */
export function columnsToAdd(table: string, existing: ReadonlyMap<string, string>, wanted: readonly WantedColumn[]): WantedColumn[] {
  const missing: WantedColumn[] = [];
  for (const column of wanted) {
    const reported = existing.get(column.name);
    if (reported === undefined) missing.push(column);
    else if (reported.toLowerCase() !== column.reported.toLowerCase()) {
      throw new NonRetryableError(
        `Column '${column.name}' of table ${table} is ${reported}, but the record schema now makes it ${column.reported}: change the field's type back, or convert the column yourself (ALTER TABLE … ALTER COLUMN … TYPE), or drop the table for the next full refresh to recreate it`,
      );
    }
  }
  return missing;
}

/** The DDL of a column added to a table that has rows: it cannot be NOT NULL, old rows have no value for it. */
export function addedColumnDdl(column: WantedColumn): string {
  return column.ddl.replace(/ NOT NULL$/, '');
}
