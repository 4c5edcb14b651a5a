import { z } from 'zod';
import { NonRetryableError } from '../errors.ts';
import { BIZON_COLUMNS, type DestinationRow } from './destination.ts';
import { columnName, contractFor, kindOf, SchemaContractConfig, variantName, type SchemaContract } from './schema-contract.ts';

/**
 * The column types a record schema may give a field (bizon's BigQuery-style
 * names; SQL aliases such as `text`, `bigint`, `double` or `timestamptz` are
 * accepted too, in any case).
 */
export type ColumnType = 'STRING' | 'INTEGER' | 'FLOAT' | 'NUMERIC' | 'BOOLEAN' | 'TIMESTAMP' | 'DATE' | 'JSON';

const TYPE_ALIASES: Record<string, ColumnType> = {
  STRING: 'STRING', TEXT: 'STRING', VARCHAR: 'STRING',
  INTEGER: 'INTEGER', INT: 'INTEGER', INT64: 'INTEGER', BIGINT: 'INTEGER',
  FLOAT: 'FLOAT', FLOAT64: 'FLOAT', DOUBLE: 'FLOAT',
  NUMERIC: 'NUMERIC', DECIMAL: 'NUMERIC', BIGNUMERIC: 'NUMERIC',
  BOOLEAN: 'BOOLEAN', BOOL: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMP', TIMESTAMPTZ: 'TIMESTAMP', DATETIME: 'TIMESTAMP',
  DATE: 'DATE',
  JSON: 'JSON', JSONB: 'JSON', RECORD: 'JSON', STRUCT: 'JSON',
};

export { BIZON_COLUMNS };

/** One field of a record schema: a typed column of the table. */
export const RecordField = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a column name: letters, digits and _, not starting with a digit, at most 63 characters')
    .refine((name) => !(BIZON_COLUMNS as readonly string[]).includes(name.toLowerCase()), { message: `is one of bizon's own columns (${BIZON_COLUMNS.join(', ')})` })
    .describe('Field of the record data (source_data), and name of its column'),
  type: z
    .string()
    .refine((type) => type.toUpperCase() in TYPE_ALIASES, { message: `must be one of STRING, INTEGER, FLOAT, NUMERIC, BOOLEAN, TIMESTAMP, DATE, JSON` })
    .describe('STRING, INTEGER, FLOAT, NUMERIC, BOOLEAN, TIMESTAMP (ISO 8601; no zone = UTC), DATE (YYYY-MM-DD) or JSON'),
  mode: z.enum(['NULLABLE', 'REQUIRED']).default('NULLABLE').describe('REQUIRED: a record without this field fails its page'),
  description: z.string().optional().describe('What the field holds (documentation only)'),
});
export type RecordField = z.infer<typeof RecordField>;

/** The record schema of one destination id (bizon's `record_schemas` entry). */
export const RecordSchema = z.strictObject({
  destination_id: z.string().min(1).describe('The table (destination id) these columns are for'),
  record_schema: z.array(RecordField).min(1, 'must list at least one field').describe('The typed columns, in order'),
});
export type RecordSchema = z.infer<typeof RecordSchema>;

/** The keys every SQL destination's config has beside its connection: the table, how it publishes, typed columns. */
export const SqlTableConfig = {
  table: z.string().min(1).optional().describe('Table of records without a destinationId of their own (default: <source>_<stream>)'),
  destination_id: z.string().min(1).optional().describe('Same as table (the name every destination understands)'),
  write_mode: z
    .enum(['append', 'merge'])
    .default('append')
    .describe('How an incremental sync publishes: append its rows, or merge them on primary_key (a re-extracted record replaces its row)'),
  primary_key: z.string().min(1).default('source_record_id').describe('With write_mode: merge, the column a record is matched on: source_record_id, bizon_id, or with unnest a record_schema field'),
  unnest: z.boolean().default(false).describe('Write each record field into a typed column (of record_schemas, or inferred) instead of one source_data JSON column'),
  record_schemas: z.array(RecordSchema).optional().describe('Typed columns per destination id, used with unnest: true (an id without an entry gets a column per record field, its type from the values)'),
  schema_contract: SchemaContractConfig,
};

/** Checks the {@link SqlTableConfig} keys of a destination config together (a zod `superRefine`). */
export function checkSqlTableConfig(
  config: { table?: string | undefined; destination_id?: string | undefined; unnest: boolean; record_schemas?: RecordSchema[] | undefined; primary_key?: string; schema_contract?: unknown },
  context: z.RefinementCtx,
): void {
  if (config.table !== undefined && config.destination_id !== undefined) context.addIssue({ code: 'custom', path: ['table'], message: 'give table or destination_id, not both' });
  const schemas = config.record_schemas ?? [];
  schemas.forEach((schema, index) => {
    const seen = new Set<string>();
    for (const field of schema.record_schema) {
      if (seen.has(field.name.toLowerCase())) context.addIssue({ code: 'custom', path: ['record_schemas', index, 'record_schema'], message: `lists the field '${field.name}' twice` });
      seen.add(field.name.toLowerCase());
    }
    if (schemas.findIndex((other) => other.destination_id === schema.destination_id) !== index) {
      context.addIssue({ code: 'custom', path: ['record_schemas', index, 'destination_id'], message: `'${schema.destination_id}' has more than one entry` });
    }
  });
  if (config.schema_contract !== undefined && !config.unnest) {
    context.addIssue({ code: 'custom', path: ['schema_contract'], message: 'applies to typed columns: set unnest: true (without it each record is one source_data JSON column, which takes any record)' });
  }
  const key = config.primary_key;
  if (key !== undefined && key !== 'source_record_id' && key !== 'bizon_id') {
    // Without an entry, a table's columns come from its records: the key is checked when it is published.
    const everywhere = config.unnest && schemas.every((schema) => schema.record_schema.some((field) => field.name === key));
    if (!everywhere) {
      context.addIssue({ code: 'custom', path: ['primary_key'], message: `must be source_record_id, bizon_id, or (with unnest: true) a field of every record schema (or of every record, without record_schemas); '${key}' is not` });
    }
  }
}

/** A field's column type, canonical. */
export function columnType(field: RecordField): ColumnType {
  return TYPE_ALIASES[field.type.toUpperCase()]!;
}

/** A record's row with its schema fields checked and written in canonical form: what the typed columns are filled from. */
export interface TypedRow extends DestinationRow {
  source_data: Record<string, unknown>;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMERIC_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT64_MAX = 2n ** 63n - 1n;

class Misfit extends Error {}

/** Whether `YYYY-MM-DD` is a day of the calendar (not February 30th). */
function isCalendarDate(date: string): boolean {
  const day = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().startsWith(date);
}

/**
 * An ISO 8601 timestamp as `YYYY-MM-DDTHH:MM:SS[.ffffff]±HH:MM` (both databases keep microseconds), or
 * undefined when it is not one. With no zone the time is UTC, whatever the database session's time zone.
 */
function canonicalTimestamp(text: string): string | undefined {
  const match = ISO_TIMESTAMP.exec(text.trim());
  if (!match) return undefined;
  const [, date, hours = '00', minutes = '00', seconds = '00', fraction, zone] = match;
  const offset = !zone || /^z$/i.test(zone) ? '+00:00' : `${zone.slice(0, 3)}:${zone.slice(3).replace(':', '') || '00'}`;
  const micros = fraction ? `.${fraction.slice(0, 6)}` : '';
  const result = `${date}T${hours}:${minutes}:${seconds}${micros}${offset}`;
  // Date.parse checks the ranges (month 13, hour 25) on the millisecond form.
  const check = `${date}T${hours}:${minutes}:${seconds}${fraction ? `.${fraction.slice(0, 3).padEnd(3, '0')}` : ''}${offset}`;
  if (Number.isNaN(new Date(check).getTime()) || !isCalendarDate(date!)) return undefined;
  return result;
}

/** The canonical value of `value` for a column of `type`; throws {@link Misfit} when it does not fit. */
/** How many digits a number written as `text` (NUMERIC_TEXT) has before its decimal point, exponent applied. */
function integerDigits(text: string): number {
  const [, whole = '', fraction = '', exponent = '0'] = /^[+-]?(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(text) ?? [];
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return 0;
  const leadingZeros = `${whole}${fraction}`.length - digits.length;
  return Math.max(0, whole.length - leadingZeros + Number(exponent));
}

/** What a destination's columns can hold beyond the type itself (DuckDB's DECIMAL(38, 9): 29 digits before the point). */
export interface ColumnLimits {
  numericIntegerDigits?: number;
}

function canonical(type: ColumnType, value: unknown, limits: ColumnLimits = {}): unknown {
  if (type === 'NUMERIC' && limits.numericIntegerDigits !== undefined && (typeof value === 'number' || typeof value === 'string')) {
    const text = typeof value === 'number' ? String(value) : value;
    if (NUMERIC_TEXT.test(text) && integerDigits(text) > limits.numericIntegerDigits) {
      throw new Misfit(`more than the ${limits.numericIntegerDigits} digits before the decimal point this destination's NUMERIC column holds`);
    }
  }
  switch (type) {
    case 'STRING':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
      throw new Misfit('an object; give the field type JSON to keep it whole');
    case 'INTEGER':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      if (typeof value === 'bigint' && value <= INT64_MAX && value >= -INT64_MAX - 1n) return value.toString();
      if (typeof value === 'string' && INTEGER_TEXT.test(value)) {
        const big = BigInt(value);
        if (big <= INT64_MAX && big >= -INT64_MAX - 1n) return big.toString();
      }
      throw new Misfit('not a 64-bit integer');
    case 'FLOAT':
    case 'NUMERIC':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (typeof value === 'string' && NUMERIC_TEXT.test(value)) {
        if (type === 'NUMERIC') return value;
        // '1e400' is Infinity as a double: it would be stored as null.
        if (Number.isFinite(Number(value))) return Number(value);
        throw new Misfit('beyond what a FLOAT (a double) holds');
      }
      throw new Misfit('not a finite number');
    case 'BOOLEAN':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw new Misfit('not true or false');
    case 'TIMESTAMP': {
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
      const timestamp = typeof value === 'string' ? canonicalTimestamp(value) : undefined;
      if (timestamp) return timestamp;
      throw new Misfit(typeof value === 'number' ? 'a number; TIMESTAMP takes an ISO 8601 string (convert epoch values in the source)' : 'not an ISO 8601 timestamp');
    }
    case 'DATE': {
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().slice(0, 10);
      if (typeof value === 'string' && ISO_DATE.test(value) && isCalendarDate(value)) return value;
      throw new Misfit('not a date (YYYY-MM-DD)');
    }
    case 'JSON':
      return value;
  }
}

/** Shows a value in an error message, shortened. */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Checks a row's record against its destination's schema, each schema field in canonical form, so the database's
 * casts at publish cannot fail. A value that does not fit is a mistake no retry can fix: it fails the page naming
 * the record, the field and the value. The record's other fields are kept under column names (for the publish to
 * add columns, or not, by the contract), unless the schema's contract drops them here.
 */
export function typedRow(row: DestinationRow, schema: RecordSchema | undefined, page: string, limits: ColumnLimits = {}): TypedRow {
  return contractedRow(row, schema, page, limits, contractFor(undefined, schema !== undefined));
}

/** {@link typedRow} under a schema contract (records it discards are left out at publish, where they are counted). */
export function contractedRow(row: DestinationRow, schema: RecordSchema | undefined, page: string, limits: ColumnLimits, contract: SchemaContract): TypedRow {
  // No prototype: a field named __proto__ is a column like any other, not the object's prototype.
  const data: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const declared = new Set(schema?.record_schema.map((field) => field.name));
  // DuckDB's column names ignore case: an inferred `name` beside a declared `Name` would be the same column.
  const declaredNames = new Set(schema?.record_schema.map((field) => field.name.toLowerCase()));
  for (const field of schema?.record_schema ?? []) {
    // Own properties only: a field named constructor or __proto__ must not read what every object inherits.
    const value = Object.hasOwn(row.source_data, field.name) ? row.source_data[field.name] : undefined;
    if (value === undefined || value === null) {
      if (field.mode === 'REQUIRED') {
        throw new NonRetryableError(`Record ${row.source_record_id} (${page}) has no value for the REQUIRED field '${field.name}' of '${schema!.destination_id}': make the field NULLABLE in record_schemas, or fix the source`);
      }
      data[field.name] = null;
      continue;
    }
    try {
      data[field.name] = canonical(columnType(field), value, limits);
    } catch (error) {
      if (!(error instanceof Misfit)) throw error;
      if (contract.dataType === 'freeze' || (field.mode === 'REQUIRED' && contract.dataType !== 'discard_row')) {
        const required = field.mode === 'REQUIRED' && contract.dataType !== 'freeze' ? ` A REQUIRED field is not left empty by schema_contract.data_type ${contract.dataType}.` : '';
        throw new NonRetryableError(
          `Record ${row.source_record_id} (${page}) does not fit '${schema!.destination_id}': field '${field.name}' is ${shown(value)}, ${error.message} (its type is ${field.type} in record_schemas).${required} Change the field's type, fix the value in the source, or set schema_contract.data_type`,
        );
      }
      data[field.name] = null;
      // evolve keeps the value in its variant column; discard_row stages it there too, for the publish to drop the
      // record and count it with the others the contract leaves out.
      if (contract.dataType === 'evolve' || contract.dataType === 'discard_row') data[variantName(field.name, kindOf(value)!)] = value;
    }
  }
  // Without a schema entry the first publish makes a column of every field, whatever the contract says.
  if (!schema || contract.columns !== 'discard_value') {
    for (const [key, value] of Object.entries(row.source_data)) {
      if (value === undefined || declared.has(key)) continue;
      const name = columnName(key);
      if (!declaredNames.has(name)) data[name] = value;
    }
  }
  return { ...row, source_data: data };
}

/** The record schemas by destination id. */
export function schemasById(schemas: readonly RecordSchema[] | undefined): Map<string, RecordSchema> {
  return new Map((schemas ?? []).map((schema) => [schema.destination_id, schema]));
}

/** A page's rows as typed rows, each under its destination id's schema and contract. */
export function unnestRows(rows: readonly DestinationRow[], schemas: ReadonlyMap<string, RecordSchema>, contract: SchemaContractConfig, page: string, limits: ColumnLimits = {}): TypedRow[] {
  return rows.map((row) => {
    const schema = schemas.get(row.destination_id);
    return contractedRow(row, schema, page, limits, contractFor(contract, schema !== undefined));
  });
}

/** The error of a merge whose primary_key is not a column of the table (inferred tables: a field no record had). */
export function primaryKeyMissing(key: string, table: string): string {
  return `primary_key '${key}' is not a column of ${table}: its records have no field '${key}' (fields become snake_case columns). Give the field, or set primary_key to a column it has`;
}
