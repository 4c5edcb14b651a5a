/**
 * `schema_contract`: what happens when records do not match a table's columns (dlt's vocabulary). Two entities:
 * `columns` (a record field the table has no column for) and `data_type` (a value its column's type does not take);
 * four modes each: evolve, freeze, discard_row, discard_value. The decisions that need the published table are
 * planned here, the same for every destination; each destination renders the plan in its own SQL.
 */
import { z } from 'zod';
import { NonRetryableError } from '../errors.ts';
import { BIZON_COLUMNS } from './destination.ts';
import type { ColumnType } from './record-schema.ts';

export const ContractMode = z.enum(['evolve', 'freeze', 'discard_row', 'discard_value']);
export type ContractMode = z.infer<typeof ContractMode>;

/** The `schema_contract` key of the SQL and Parquet destinations. */
export const SchemaContractConfig = z
  .union([
    ContractMode,
    z.strictObject({
      columns: ContractMode.optional().describe('A field the table has no column for: evolve (add the column), freeze (fail), discard_row, discard_value'),
      data_type: ContractMode.optional().describe("A value its column's type does not take: evolve (a variant column <field>__v_<type>), freeze (fail), discard_row, discard_value (NULL)"),
    }),
  ])
  .optional()
  .describe('With unnest: what records that do not match the table do (one mode for both, or columns / data_type). Default: columns evolve (discard_value for a record_schemas entry), data_type freeze');
export type SchemaContractConfig = z.infer<typeof SchemaContractConfig>;

/** The contract of one destination id. */
export interface SchemaContract {
  columns: ContractMode;
  dataType: ContractMode;
}

/**
 * The contract of a destination id: what the config says, else the defaults — a table with a record_schemas entry
 * has the columns the entry lists (other fields are dropped), one without gets a column per field; a value of
 * another type than its column's fails the run.
 */
export function contractFor(config: SchemaContractConfig, declared: boolean): SchemaContract {
  const given = typeof config === 'string' ? { columns: config, data_type: config } : (config ?? {});
  return { columns: given.columns ?? (declared ? 'discard_value' : 'evolve'), dataType: given.data_type ?? 'freeze' };
}

/**
 * Whether a run's staged rows may hold fields beyond the declared ones: not when a record schema's contract drops
 * them at staging and puts no value aside (then the publish skips reading the run for them).
 */
export function mayStageOthers(contract: SchemaContract, declared: boolean): boolean {
  return !declared || contract.columns !== 'discard_value' || contract.dataType === 'evolve' || contract.dataType === 'discard_row';
}

/** The JSON kind of a value, as the column types see it. */
export type Kind = 'STRING' | 'INTEGER' | 'FLOAT' | 'BOOLEAN' | 'JSON';

/** The kind of a JavaScript value as it will be staged (JSON); undefined for null. */
export function kindOf(value: unknown): Kind | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return 'BOOLEAN';
  if (typeof value === 'bigint') return 'INTEGER';
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 1e21 ? 'INTEGER' : 'FLOAT';
  if (typeof value === 'string' || value instanceof Date) return 'STRING';
  return 'JSON';
}

/** Which kinds a column of each type takes (numbers and booleans as text in a STRING column). */
const TAKES: Record<ColumnType, readonly Kind[]> = {
  STRING: ['STRING', 'INTEGER', 'FLOAT', 'BOOLEAN'],
  INTEGER: ['INTEGER'],
  FLOAT: ['INTEGER', 'FLOAT'],
  NUMERIC: ['INTEGER', 'FLOAT'],
  BOOLEAN: ['BOOLEAN'],
  TIMESTAMP: ['STRING'],
  DATE: ['STRING'],
  JSON: ['STRING', 'INTEGER', 'FLOAT', 'BOOLEAN', 'JSON'],
};

export function takes(type: ColumnType, kind: Kind): boolean {
  return TAKES[type].includes(kind);
}

/** The narrowest type that takes every kind a new column was seen with in one run. */
export function widen(kinds: readonly Kind[]): ColumnType {
  const order: ColumnType[] = ['INTEGER', 'FLOAT', 'BOOLEAN', 'STRING', 'JSON'];
  return order.find((type) => kinds.every((kind) => takes(type, kind)))!;
}

/** The column of a field's values of another kind than its column's, with data_type: evolve (dlt's variant). */
export function variantName(column: string, kind: Kind): string {
  const suffix = `__v_${kind.toLowerCase()}`;
  return `${column.slice(0, 63 - suffix.length)}${suffix}`;
}

const VARIANT = /^(.+)__v_(string|integer|float|boolean|json)$/;

/**
 * A record key as a column name: snake_case, letters, digits and `_`, not starting with a digit, at most 63
 * characters, never one of bizon's columns (those get a `_` in front).
 */
export function columnName(key: string): string {
  let name = COLUMN_NAMES.get(key);
  if (name === undefined) {
    // Records repeat their keys: each is worked out once (a bounded cache, for sources whose keys are data).
    if (COLUMN_NAMES.size >= 10_000) COLUMN_NAMES.clear();
    COLUMN_NAMES.set(key, (name = toColumnName(key)));
  }
  return name;
}

const COLUMN_NAMES = new Map<string, string>();

function toColumnName(key: string): string {
  let name = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_');
  if (name === '' || /^[0-9]/.test(name)) name = `_${name}`;
  if ((BIZON_COLUMNS as readonly string[]).includes(name)) name = `_${name}`;
  return name.slice(0, 63);
}

/** A field's values of one kind in a run's staged rows: how many, and one record that has them (for messages). */
export interface StagedKind {
  key: string;
  kind: Kind;
  rows: number;
  example: string;
}

/** A column the publish fills from a staged key: the values of the kinds it takes (others are NULL in it). */
export interface PlannedColumn {
  name: string;
  key: string;
  type: ColumnType;
  kinds: Kind[];
  /** Whether every kind of the run's values for the key goes in (no filter needed). */
  whole: boolean;
  /** A column the table does not have yet. */
  added: boolean;
}

/** Rows a publish leaves out: those whose `key` holds one of `kinds` (any value, without kinds). */
export interface DroppedRows {
  key: string;
  kinds?: Kind[];
  rows: number;
  why: string;
}

export interface ColumnPlan {
  columns: PlannedColumn[];
  drop: DroppedRows[];
}

/**
 * Plans the columns of a publish beyond the declared ones: which staged keys get (or already have) a column, of
 * which type, and which rows or values the contract drops. `existing` is the published table's columns (undefined
 * when there is none yet); `declared` the record schema's fields (undefined without an entry). Fails, naming the
 * table, the field, both types and a record, where the contract says freeze.
 */
export function planColumns(input: {
  table: string;
  staged: readonly StagedKind[];
  declared: ReadonlySet<string> | undefined;
  existing: ReadonlyMap<string, ColumnType> | undefined;
  contract: SchemaContract;
}): ColumnPlan {
  const { table, contract, existing } = input;
  const declared = input.declared ?? new Set<string>();
  // A table's columns are settled once it was published, or from the start when record_schemas lists them.
  const settled = existing !== undefined || input.declared !== undefined;
  const byKey = new Map<string, StagedKind[]>();
  for (const staged of input.staged) {
    if (declared.has(staged.key) || (BIZON_COLUMNS as readonly string[]).includes(staged.key)) continue;
    byKey.set(staged.key, [...(byKey.get(staged.key) ?? []), staged]);
  }
  const plan: ColumnPlan = { columns: [], drop: [] };
  for (const [key, kinds] of [...byKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const all = kinds.map((staged) => staged.kind);
    const count = kinds.reduce((sum, staged) => sum + staged.rows, 0);
    const current = existing?.get(key);
    const variantOf = VARIANT.exec(key);
    // A declared field's values of another type, put aside as the page was staged (data_type: evolve).
    const isVariant = variantOf !== null && declared.has(variantOf[1]!);
    if (isVariant && contract.dataType === 'discard_row') {
      // Staged aside so that the publish drops (and counts) the record with the others it leaves out.
      plan.drop.push({ key, rows: count, why: `their '${variantOf[1]}' does not fit its type in record_schemas (schema_contract.data_type: discard_row)` });
      continue;
    }
    if (current === undefined) {
      if (settled && !isVariant && contract.columns !== 'evolve') {
        if (contract.columns === 'freeze') {
          throw new NonRetryableError(
            `Record ${kinds[0]!.example} has the field '${key}', which ${table} has no column for, and schema_contract.columns is freeze: nothing was published. ` +
              'Add the field to record_schemas, or set schema_contract.columns to evolve (add the column), discard_value (drop the field) or discard_row (drop such records)',
          );
        }
        if (contract.columns === 'discard_row') plan.drop.push({ key, rows: count, why: `they have the field '${key}', which ${table} has no column for (schema_contract.columns: discard_row)` });
        continue;
      }
      plan.columns.push({ name: key, key, type: widen(all), kinds: all, whole: true, added: true });
      continue;
    }
    const fitting = all.filter((kind) => takes(current, kind));
    const misfits = kinds.filter((staged) => !takes(current, staged.kind));
    // A column none of whose values this run fits is left out: NULL in the run's rows.
    if (fitting.length > 0) plan.columns.push({ name: key, key, type: current, kinds: fitting, whole: misfits.length === 0, added: false });
    if (misfits.length === 0) continue;
    const first = misfits[0]!;
    switch (contract.dataType) {
      case 'freeze':
        throw new NonRetryableError(
          `Column '${key}' of ${table} is ${current}, but record ${first.example} has a ${first.kind} value for it, and schema_contract.data_type is freeze: nothing was published. ` +
            `Set schema_contract.data_type to evolve (such values go to a column ${variantName(key, first.kind)}), discard_value (NULL) or discard_row, or fix the source`,
        );
      case 'discard_row':
        plan.drop.push({
          key,
          kinds: misfits.map((staged) => staged.kind),
          rows: misfits.reduce((sum, staged) => sum + staged.rows, 0),
          why: `their '${key}' is not a ${current} (schema_contract.data_type: discard_row)`,
        });
        break;
      case 'evolve':
        for (const misfit of misfits) {
          const name = variantName(key, misfit.kind);
          const type = existing?.get(name) ?? widen([misfit.kind]);
          plan.columns.push({ name, key, type, kinds: [misfit.kind], whole: false, added: !existing?.has(name) });
        }
        break;
      case 'discard_value':
        break;
    }
  }
  const added = plan.columns.filter((column) => column.added).length;
  const total = (existing ? existing.size : BIZON_COLUMNS.length + declared.size) + added;
  if (total > MAX_COLUMNS) {
    throw new NonRetryableError(
      `The records of ${table} would make it ${total} columns, more than the ${MAX_COLUMNS} bizon makes (Postgres holds 1,600): nothing was published. ` +
        'Their fields look like data (ids or dates as keys): list the fields you want in record_schemas, or keep each record as one JSON column (unnest: false)',
    );
  }
  return plan;
}

/** The most columns a table gets from its records: beyond, their fields are data (keys that are ids), not a schema. */
export const MAX_COLUMNS = 1000;

/** A column's type from what a database's catalog reports (types bizon did not make are read as STRING). */
export function reportedType(reported: string, types: Record<ColumnType, { reported: string }>): ColumnType {
  const normalized = reported.toLowerCase().replace(/\s+/g, ' ').replace(/, /g, ',');
  const found = (Object.keys(types) as ColumnType[]).find((type) => types[type].reported.toLowerCase() === normalized);
  return found ?? 'STRING';
}
