import { describe, expect, it } from 'vitest';
import type { DestinationRow } from '../../destinations/destination.ts';
import { RecordSchema, unnestRows } from '../../destinations/record-schema.ts';
import { columnName, contractFor, planColumns, widen, type StagedKind } from '../../destinations/schema-contract.ts';

const row = (id: string, data: Record<string, unknown>): DestinationRow => ({
  bizon_id: `b${id}`,
  bizon_extracted_at: '2024-01-01T00:00:00.000Z',
  bizon_loaded_at: '2024-01-01T00:00:00.000Z',
  source_record_id: id,
  source_timestamp: '2024-01-01T00:00:00.000Z',
  source_data: data,
  destination_id: 'users',
});
const schemas = new Map([['users', RecordSchema.parse({ destination_id: 'users', record_schema: [{ name: 'id', type: 'INTEGER', mode: 'REQUIRED' }, { name: 'age', type: 'INTEGER' }] })]]);
const staged = (key: string, kind: StagedKind['kind'], rows = 1, example = '7'): StagedKind => ({ key, kind, rows, example });

describe('schema_contract', () => {
  it('defaults: a record_schemas entry keeps its columns (other fields dropped), an inferred table evolves; a misfit fails', () => {
    expect(contractFor(undefined, true)).toEqual({ columns: 'discard_value', dataType: 'freeze' });
    expect(contractFor(undefined, false)).toEqual({ columns: 'evolve', dataType: 'freeze' });
    expect(contractFor('discard_row', true)).toEqual({ columns: 'discard_row', dataType: 'discard_row' });
    expect(contractFor({ data_type: 'evolve' }, true)).toEqual({ columns: 'discard_value', dataType: 'evolve' });
  });

  it('fields become snake_case column names that are never bizon columns', () => {
    expect(['userId', 'Sign-up Date', '2fa', 'source_data', 'HTTPStatus', ''].map(columnName)).toEqual(['user_id', 'sign_up_date', '_2fa', '_source_data', 'httpstatus', '_']);
    expect(columnName('x'.repeat(80))).toHaveLength(63);
  });

  it('a new column takes the narrowest type that holds every kind its values had in the run', () => {
    expect(widen(['INTEGER'])).toBe('INTEGER');
    expect(widen(['INTEGER', 'FLOAT'])).toBe('FLOAT');
    expect(widen(['BOOLEAN'])).toBe('BOOLEAN');
    expect(widen(['INTEGER', 'STRING'])).toBe('STRING');
    expect(widen(['STRING', 'JSON'])).toBe('JSON');
  });

  describe('at staging, for the fields a record schema declares', () => {
    const page = (data: Record<string, unknown>, contract: unknown) => unnestRows([row('7', data)], schemas, contract as never, 'page 1');
    it('freeze (default) fails naming the record, field and value; discard_value empties the field; evolve and discard_row keep it in a variant', () => {
      expect(() => page({ id: 1, age: 'old' }, undefined)).toThrow(`Record 7 (page 1) does not fit 'users': field 'age' is "old", not a 64-bit integer (its type is INTEGER in record_schemas). Change the field's type`);
      // discard_row: staged aside (like evolve), for the publish to leave the record out and count it.
      expect({ ...page({ id: 1, age: 'old' }, { data_type: 'discard_row' })[0]!.source_data }).toEqual({ id: 1, age: null, age__v_string: 'old' });
      expect({ ...page({ id: 1, age: 'old' }, { data_type: 'discard_value' })[0]!.source_data }).toEqual({ id: 1, age: null });
      expect({ ...page({ id: 1, age: 4.5 }, { data_type: 'evolve' })[0]!.source_data }).toEqual({ id: 1, age: null, age__v_float: 4.5 });
    });
    it('a REQUIRED field is never left empty by the contract', () => {
      expect(() => page({ id: 'x' }, { data_type: 'discard_value' })).toThrow('A REQUIRED field is not left empty by schema_contract.data_type discard_value.');
      expect({ ...page({ id: 'x' }, { data_type: 'discard_row' })[0]!.source_data }).toEqual({ id: null, id__v_string: 'x', age: null });
    });
    it('other fields are dropped by default, kept (as column names) for the publish to decide otherwise', () => {
      expect({ ...page({ id: 1, nickName: 'z' }, undefined)[0]!.source_data }).toEqual({ id: 1, age: null });
      expect({ ...page({ id: 1, nickName: 'z' }, { columns: 'freeze' })[0]!.source_data }).toEqual({ id: 1, age: null, nick_name: 'z' });
    });
  });

  describe('at publish, for the fields beyond the record schema', () => {
    const plan = (keys: StagedKind[], existing: Record<string, string> | undefined, contract: unknown, declared?: string[]) =>
      planColumns({
        table: 'public.users',
        staged: keys,
        declared: declared && new Set(declared),
        existing: existing && (new Map(Object.entries(existing)) as never),
        contract: contractFor(contract as never, declared !== undefined),
      });

    it('a first publish makes a column of every field, whatever the contract (a table is made from its records)', () => {
      expect(plan([staged('age', 'INTEGER'), staged('age', 'FLOAT'), staged('tags', 'JSON')], undefined, 'freeze').columns).toEqual([
        { name: 'age', key: 'age', type: 'FLOAT', kinds: ['INTEGER', 'FLOAT'], whole: true, added: true },
        { name: 'tags', key: 'tags', type: 'JSON', kinds: ['JSON'], whole: true, added: true },
      ]);
    });

    it('columns: a field new to a published table is added, refused, or its rows or values dropped', () => {
      const keys = [staged('id', 'INTEGER', 3), staged('plan', 'STRING', 2, '12')];
      const table = { id: 'INTEGER' };
      expect(plan(keys, table, 'evolve').columns.map((column) => [column.name, column.type, column.added])).toEqual([
        ['id', 'INTEGER', false],
        ['plan', 'STRING', true],
      ]);
      expect(() => plan(keys, table, 'freeze')).toThrow("Record 12 has the field 'plan', which public.users has no column for, and schema_contract.columns is freeze: nothing was published.");
      expect(plan(keys, table, { columns: 'discard_row' })).toMatchObject({ columns: [{ name: 'id' }], drop: [{ key: 'plan', rows: 2 }] });
      expect(plan(keys, table, { columns: 'discard_value' })).toEqual({ columns: [{ name: 'id', key: 'id', type: 'INTEGER', kinds: ['INTEGER'], whole: true, added: false }], drop: [] });
      // A record_schemas entry settles the table before its first publish.
      expect(() => plan(keys, undefined, 'freeze', ['id'])).toThrow("Record 12 has the field 'plan'");
    });

    it('data_type: a value its column does not take fails naming both types, goes to a variant column, or is dropped', () => {
      const keys = [staged('age', 'INTEGER', 5), staged('age', 'STRING', 1, '9')];
      const table = { age: 'INTEGER' };
      expect(() => plan(keys, table, undefined)).toThrow(
        "Column 'age' of public.users is INTEGER, but record 9 has a STRING value for it, and schema_contract.data_type is freeze: nothing was published. Set schema_contract.data_type to evolve (such values go to a column age__v_string)",
      );
      expect(plan(keys, table, { data_type: 'evolve' }).columns).toEqual([
        { name: 'age', key: 'age', type: 'INTEGER', kinds: ['INTEGER'], whole: false, added: false },
        { name: 'age__v_string', key: 'age', type: 'STRING', kinds: ['STRING'], whole: false, added: true },
      ]);
      expect(plan(keys, { ...table, age__v_string: 'STRING' }, { data_type: 'evolve' }).columns[1]).toMatchObject({ added: false });
      expect(plan(keys, table, { data_type: 'discard_row' }).drop).toEqual([{ key: 'age', kinds: ['STRING'], rows: 1, why: expect.stringContaining('discard_row') }]);
      expect(plan(keys, table, { data_type: 'discard_value' })).toMatchObject({ columns: [{ name: 'age', kinds: ['INTEGER'], whole: false }], drop: [] });
      // A STRING column takes numbers as text; a FLOAT column takes integers.
      expect(plan([staged('n', 'INTEGER'), staged('s', 'FLOAT')], { n: 'FLOAT', s: 'STRING' }, undefined).columns.every((column) => column.whole)).toBe(true);
    });

    it('records whose fields are data (an id per key) are refused before they make a table of thousands of columns', () => {
      const keys = Array.from({ length: 1200 }, (_, index) => staged(`user_${index}`, 'INTEGER'));
      expect(() => plan(keys, undefined, undefined)).toThrow('The records of public.users would make it 1207 columns, more than the 1000 bizon makes (Postgres holds 1,600): nothing was published.');
      expect(plan(keys.slice(0, 900), undefined, undefined).columns).toHaveLength(900);
    });

    it("a declared field's variant under data_type: discard_row leaves its records out", () => {
      expect(plan([staged('age__v_string', 'STRING', 4)], { id: 'INTEGER', age: 'INTEGER' }, { data_type: 'discard_row' }, ['id', 'age'])).toEqual({
        columns: [],
        drop: [{ key: 'age__v_string', rows: 4, why: "their 'age' does not fit its type in record_schemas (schema_contract.data_type: discard_row)" }],
      });
    });

    it("a declared field's variant (put aside at staging) gets its column even when columns are frozen", () => {
      expect(plan([staged('age__v_string', 'STRING')], { id: 'INTEGER', age: 'INTEGER' }, { columns: 'freeze', data_type: 'evolve' }, ['id', 'age']).columns).toEqual([
        { name: 'age__v_string', key: 'age__v_string', type: 'STRING', kinds: ['STRING'], whole: true, added: true },
      ]);
    });
  });
});
