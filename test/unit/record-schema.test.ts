import { describe, expect, it } from 'vitest';
import { findLiteralDestinationCredentials } from '../../config/secrets.ts';
import { parseWithSchema } from '../../config/pipeline.ts';
import type { DestinationRow } from '../../destinations/destination.ts';
import { DuckDBDestinationConfig } from '../../destinations/duckdb.ts';
import { PostgresDestinationConfig } from '../../destinations/postgres.ts';
import { RecordSchema, typedRow } from '../../destinations/record-schema.ts';
import { columnsToAdd } from '../../destinations/sql.ts';

function row(data: Record<string, unknown>): DestinationRow {
  return {
    bizon_id: 'b',
    bizon_extracted_at: '2024-01-01T00:00:00.000Z',
    bizon_loaded_at: '2024-01-01T00:00:00.000Z',
    source_record_id: '17',
    source_timestamp: '2024-01-01T00:00:00.000Z',
    source_data: data,
    destination_id: 'users',
  };
}

const schemaOf = (type: string, mode = 'NULLABLE') => RecordSchema.parse({ destination_id: 'users', record_schema: [{ name: 'f', type, mode }] });
const canonical = (type: string, value: unknown) => typedRow(row({ f: value, other: 1 }), schemaOf(type), 'page 3').source_data.f;
const misfit = (type: string, value: unknown) => () => typedRow(row({ f: value }), schemaOf(type), 'page 3');

describe('record schemas (unnest)', () => {
  it.each([
    ['STRING', 'x', 'x'],
    ['string', 42, '42'],
    ['INTEGER', 42, 42],
    ['bigint', '9223372036854775807', '9223372036854775807'],
    ['FLOAT', '1.5', 1.5],
    ['NUMERIC', '12345678901234567890.123', '12345678901234567890.123'],
    ['BOOLEAN', 'false', false],
    ['TIMESTAMP', '2024-03-01T10:20:30Z', '2024-03-01T10:20:30+00:00'],
    ['TIMESTAMP', '2024-03-01 10:20', '2024-03-01T10:20:00+00:00'],
    ['timestamptz', '2024-03-01T10:20:30.1234567+0200', '2024-03-01T10:20:30.123456+02:00'],
    ['TIMESTAMP', new Date('2024-03-01T10:20:30.5Z'), '2024-03-01T10:20:30.500Z'],
    ['DATE', '2024-02-29', '2024-02-29'],
    ['JSON', { a: [1] }, { a: [1] }],
    ['INTEGER', null, null],
  ])('%s takes %j as %j', (type, value, expected) => {
    expect(canonical(type, value)).toEqual(expected);
  });

  it('keeps only the schema fields', () => {
    expect(typedRow(row({ f: 'x', other: 1 }), schemaOf('STRING'), 'page 3').source_data).toEqual({ f: 'x' });
  });

  it.each([
    ['INTEGER', 'abc', `field 'f' is "abc", not a 64-bit integer`],
    ['INTEGER', 1.5, `field 'f' is 1.5, not a 64-bit integer`],
    ['INTEGER', '9223372036854775808', 'not a 64-bit integer'],
    ['FLOAT', 'NaN', 'not a finite number'],
    ['BOOLEAN', 1, 'not true or false'],
    ['TIMESTAMP', 1700000000, 'a number; TIMESTAMP takes an ISO 8601 string'],
    ['TIMESTAMP', '2024-13-01T00:00:00Z', 'not an ISO 8601 timestamp'],
    ['DATE', '2024-02-30', 'not a date (YYYY-MM-DD)'],
    ['STRING', { a: 1 }, 'an object; give the field type JSON to keep it whole'],
    ['FLOAT', '1e400', `field 'f' is "1e400", beyond what a FLOAT (a double) holds`],
  ])('%s refuses %j, naming the record, field and value', (type, value, message) => {
    expect(misfit(type, value)).toThrow(message);
    expect(misfit(type, value)).toThrow(/^Record 17 \(page 3\) does not fit 'users'/);
  });

  it("NUMERIC: a destination's limit on the digits before the point is checked as the page is written", () => {
    const duckdb = { numericIntegerDigits: 29 };
    const numeric = (value: unknown, limits = {}) => typedRow(row({ f: value }), schemaOf('NUMERIC'), 'page 3', limits).source_data.f;
    expect(numeric(1e50)).toBe(1e50);
    expect(numeric('12345678901234567890123456789.5', duckdb)).toBe('12345678901234567890123456789.5');
    expect(numeric('0.000001e30', duckdb)).toBe('0.000001e30');
    for (const value of [1e50, '1e50', '123456789012345678901234567890', '0.5e31']) {
      expect(() => numeric(value, duckdb)).toThrow(/^Record 17 \(page 3\) does not fit 'users': field 'f' is .*, more than the 29 digits before the decimal point this destination's NUMERIC column holds/);
    }
  });

  it('a REQUIRED field must be there; a destination id without a schema keeps every field', () => {
    expect(() => typedRow(row({}), schemaOf('STRING', 'REQUIRED'), 'page 1')).toThrow("Record 17 (page 1) has no value for the REQUIRED field 'f' of 'users'");
    // Without an entry, every field is kept under its column name, for the publish to infer the columns.
    expect({ ...typedRow(row({ userId: 1, 'e-mail': 'a@b', bizon_id: 'x' }), undefined, 'page 1').source_data }).toEqual({ user_id: 1, e_mail: 'a@b', _bizon_id: 'x' });
  });

  it('a field named like an inherited property (constructor, __proto__, toString) reads only the record: absent is null', () => {
    const schema = RecordSchema.parse({
      destination_id: 'users',
      record_schema: ['constructor', '__proto__', 'toString'].map((name) => ({ name, type: 'STRING', mode: 'NULLABLE' })),
    });
    const empty = typedRow(row({}), schema, 'page 1').source_data;
    expect(JSON.stringify(empty)).toBe('{"constructor":null,"__proto__":null,"toString":null}');
    const given = typedRow(row(JSON.parse('{"constructor": "c", "__proto__": "p", "toString": "t"}') as Record<string, unknown>), schema, 'page 1').source_data;
    expect(JSON.stringify(given)).toBe('{"constructor":"c","__proto__":"p","toString":"t"}');
    const required = RecordSchema.parse({ destination_id: 'users', record_schema: [{ name: 'constructor', type: 'STRING', mode: 'REQUIRED' }] });
    expect(() => typedRow(row({}), required, 'page 1')).toThrow("has no value for the REQUIRED field 'constructor'");
  });

  it('a table gains the columns its schema gained; a changed type is refused, naming the column', () => {
    const existing = new Map([['id', 'bigint']]);
    expect(columnsToAdd('public.users', existing, [{ name: 'id', ddl: 'bigint', reported: 'bigint' }, { name: 'age', ddl: 'bigint', reported: 'bigint' }]).map((column) => column.name)).toEqual(['age']);
    expect(() => columnsToAdd('public.users', existing, [{ name: 'id', ddl: 'text', reported: 'text' }])).toThrow("Column 'id' of table public.users is bigint, but the record schema now makes it text");
  });

  it('the config is checked before a sync starts', () => {
    const parse = (config: unknown) => () => parseWithSchema(PostgresDestinationConfig, config, 'destination config', ['destination', 'config']);
    expect(parse({ host: 'db', unnest: true, write_mode: 'merge', primary_key: 'id' })()).toMatchObject({ unnest: true, primary_key: 'id' });
    expect(parse({ host: 'db', unnest: true, schema_contract: 'thaw' })).toThrow('destination.config.schema_contract');
    expect(parse({ host: 'db', schema_contract: 'freeze' })).toThrow('destination.config.schema_contract: applies to typed columns: set unnest: true');
    expect(parse({ connection_string: 'postgres://x', host: 'db' })).toThrow('give either connection_string or host');
    expect(parse({ connection_string: 'postgres://x', password: 'p' })).toThrow('destination.config.password: goes in connection_string');
    expect(parse({ host: 'db', table: 'a', destination_id: 'b' })).toThrow('give table or destination_id, not both');
    expect(parse({ host: 'db', record_schemas: [{ destination_id: 'u', record_schema: [{ name: 'source_data', type: 'JSON' }] }] })).toThrow("is one of bizon's own columns");
    expect(parse({ host: 'db', record_schemas: [{ destination_id: 'u', record_schema: [{ name: 'a', type: 'VARCHAR2' }] }] })).toThrow('must be one of STRING, INTEGER');
    expect(parse({ host: 'db', write_mode: 'merge', primary_key: 'email' })).toThrow("destination.config.primary_key: must be source_record_id, bizon_id, or (with unnest: true) a field of every record schema (or of every record, without record_schemas); 'email' is not");
    const duckdb = () => parseWithSchema(DuckDBDestinationConfig, { unnest: true, primary_key: 'id', record_schemas: [{ destination_id: 'u', record_schema: [{ name: 'id', type: 'INTEGER' }] }] }, 'destination config');
    expect(duckdb()).toMatchObject({ path: 'bizon.duckdb', schema: 'main', primary_key: 'id' });
  });

  it('a password written in a destination config is found, a reference is not', () => {
    expect(findLiteralDestinationCredentials({ password: 'hunter2', connection_string: 'postgres://u:pw@db/x' })).toEqual(['destination.config.password', 'destination.config.connection_string']);
    expect(findLiteralDestinationCredentials({ password: 'BIZON_ENV_PG_PASSWORD', connection_string: 'postgres://u@db/x' })).toEqual([]);
    expect(findLiteralDestinationCredentials({ connection_string: 'postgres://u:${env://PG_PASSWORD}@db/x' })).toEqual([]);
  });
});
