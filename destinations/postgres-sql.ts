/**
 * Postgres as the postgres destination uses it: its types, and the SQL that reads a staged row's fields for the
 * columns a schema contract planned.
 */
import type { DroppedRows, PlannedColumn } from './schema-contract.ts';
import { quoteIdentifier, type SqlDialect } from './sql.ts';

/** Postgres, as the SQL destinations see it (it cuts identifiers beyond 63 bytes silently). */
export const POSTGRES: SqlDialect = {
  name: 'Postgres',
  maxIdentifierBytes: 63,
  types: {
    STRING: { ddl: 'text', reported: 'text' },
    INTEGER: { ddl: 'bigint', reported: 'bigint' },
    FLOAT: { ddl: 'double precision', reported: 'double precision' },
    NUMERIC: { ddl: 'numeric', reported: 'numeric' },
    BOOLEAN: { ddl: 'boolean', reported: 'boolean' },
    TIMESTAMP: { ddl: 'timestamptz', reported: 'timestamp with time zone' },
    DATE: { ddl: 'date', reported: 'date' },
    JSON: { ddl: 'jsonb', reported: 'jsonb' },
  },
  bizonId: { ddl: 'text PRIMARY KEY', reported: 'text' },
  text: { ddl: 'text', reported: 'text' },
  timestamp: { ddl: 'timestamptz', reported: 'timestamp with time zone' },
  json: { ddl: 'jsonb', reported: 'jsonb' },
};

export const identifier = (name: string) => quoteIdentifier(POSTGRES, name);
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The kind of a jsonb value (`json`, its text `text`): NULL for a JSON null or no value; integers past 18 digits, beyond a bigint, are FLOAT. */
export function kindSql(json: string, text: string): string {
  return `CASE jsonb_typeof(${json}) WHEN 'number' THEN CASE WHEN ${text} ~ '^-?[0-9]{1,18}$' THEN 'INTEGER' ELSE 'FLOAT' END WHEN 'string' THEN 'STRING' WHEN 'boolean' THEN 'BOOLEAN' WHEN 'object' THEN 'JSON' WHEN 'array' THEN 'JSON' END`;
}

/** A planned column's value: its key's values of the kinds it takes, cast to its type. */
export function plannedSql(column: PlannedColumn): string {
  const json = `s.source_data -> ${literal(column.key)}`;
  const text = `s.source_data ->> ${literal(column.key)}`;
  const value = column.type === 'JSON' ? `nullif(${json}, 'null'::jsonb)` : `(${text})::${POSTGRES.types[column.type].ddl}`;
  return column.whole ? value : `CASE WHEN ${kindSql(json, text)} IN (${column.kinds.map(literal).join(', ')}) THEN ${value} END`;
}

/** A condition true of the staged rows (alias `s`) a plan leaves out. */
export function droppedRowsCondition(drops: readonly DroppedRows[]): string | undefined {
  if (drops.length === 0) return undefined;
  return drops
    .map((drop) => {
      const kind = kindSql(`s.source_data -> ${literal(drop.key)}`, `s.source_data ->> ${literal(drop.key)}`);
      return drop.kinds ? `coalesce(${kind} IN (${drop.kinds.map(literal).join(', ')}), false)` : `${kind} IS NOT NULL`;
    })
    .join(' OR ');
}
