// schema_contract (dlt's vocabulary) through whole syncs, the same for Postgres, DuckDB and Parquet: columns
// inferred from the records, a new field (columns) and a value of another type (data_type) under each mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSync } from '../../client.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { failureOf, quietWorkerLogs, REST_SOURCE, startTestEngine, unique, type TestEngine } from '../helpers.ts';
import { startTestPostgres, type TestPostgres } from '../postgres.ts';
import { duckdbDialect, parquetDialect, postgresDialect, type SqlDialect, type SqlTarget } from '../sql-targets.ts';

quietWorkerLogs();

let postgres: TestPostgres;
let api: ExampleApi;
let engine: TestEngine;

beforeAll(async () => {
  postgres = await startTestPostgres();
  api = await startExampleApi({ datasets: { users: 60 } });
  engine = await startTestEngine([REST_SOURCE], 'contract');
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
  await postgres?.stop();
});

const INCREMENTAL = { sync_mode: 'incremental', cursor_field: 'updated_at' };

function sync(destination: string, config: Record<string, unknown>, name: string, source: Record<string, unknown> = INCREMENTAL): Promise<SyncResult> {
  return startSync(engine.client, {
    config: {
      name,
      source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 20, ...source },
      destination: { name: destination, config },
      engine: { retry: { initial_interval: '200ms', maximum_interval: '1s' } },
    },
    customSourceFiles: [REST_SOURCE],
    taskQueue: engine.taskQueue,
  }).then((started) => started.handle.result() as Promise<SyncResult>);
}


/** Sets fields of users of the API and makes them changed since the last sync. */
function change(ids: number[], fields: Record<string, unknown>): void {
  for (const user of api.data.users!) if (ids.includes(user.id)) Object.assign(user, fields);
  api.touch('users', ids);
}

/** Puts the users back as the API made them (the tests change their fields). */
function restoreUsers(): void {
  for (const user of api.data.users! as unknown as Array<Record<string, unknown>>) {
    for (const key of Object.keys(user)) if (!['id', 'name', 'type', 'updated_at', 'value'].includes(key)) delete user[key];
    user.value = ((user.id as number) * 7919) % 1000;
  }
}

describe.each<{ dialect: () => SqlDialect }>([{ dialect: () => postgresDialect(() => postgres) }, { dialect: () => duckdbDialect }, { dialect: () => parquetDialect }])(
  'schema_contract',
  ({ dialect: dialectOf }) => {
    const dialect = dialectOf();
    const table = 'rest_api_users';
    let target: SqlTarget;
    const rows = async (where: string, columns: string) => target.query(`SELECT source_record_id AS id, ${columns} FROM ${table} WHERE ${where} ORDER BY CAST(source_record_id AS INTEGER), bizon_loaded_at`);
    const count = async () => Number((await target.query(`SELECT count(*) AS n FROM ${table}`))[0]!.n);

    describe(dialect.name, () => {
      it('unnest without record_schemas: a column per field, typed from the values; a new field adds its column (evolve)', async () => {
        restoreUsers();
        target = await dialect.create('contract-evolve');
        const name = unique('contract-evolve');
        expect((await sync(dialect.name, target.config({ unnest: true }), name)).records).toBe(60);
        const types = await target.columnTypes(table);
        expect(types).toMatchObject({ id: dialect.types.INTEGER, name: dialect.types.STRING, type: dialect.types.STRING, updated_at: dialect.types.STRING, value: dialect.types.INTEGER });
        expect(types).not.toHaveProperty('source_data');
        expect(await rows('id = 7', 'name, CAST(value AS VARCHAR) AS value')).toEqual([{ id: '7', name: 'user-7', value: String((7 * 7919) % 1000) }]);

        change([3, 7], { plan: 'pro', tags: ['a', 'b'], 'Sign-up Date': '2024-05-01' });
        expect((await sync(dialect.name, target.config({ unnest: true }), name)).records).toBe(2);
        expect(await target.columnTypes(table)).toMatchObject({ plan: dialect.types.STRING, tags: dialect.types.JSON, sign_up_date: dialect.types.STRING });
        expect(await rows('plan IS NOT NULL', 'plan, sign_up_date')).toEqual([
          { id: '3', plan: 'pro', sign_up_date: '2024-05-01' },
          { id: '7', plan: 'pro', sign_up_date: '2024-05-01' },
        ]);
        expect(await count()).toBe(62);
      });

      it('columns: freeze fails before publishing, naming the field and a record; discard_row and discard_value then load without it', async () => {
        restoreUsers();
        target = await dialect.create('contract-freeze');
        const name = unique('contract-freeze');
        await sync(dialect.name, target.config({ unnest: true, schema_contract: 'freeze' }), name);
        change([5], { plan: 'pro' });
        const message = await failureOf(sync(dialect.name, target.config({ unnest: true, schema_contract: 'freeze' }), name));
        expect(message).toMatch(/^Record 5 has the field 'plan', which \S*rest_api_users has no column for, and schema_contract\.columns is freeze: nothing was published\. Add the field to record_schemas, or set schema_contract\.columns to evolve/);
        expect(await count()).toBe(60);

        // The next sync resumes the failed run (its pages staged): discard_row drops user 5 at the publish.
        const dropped = await sync(dialect.name, target.config({ unnest: true, schema_contract: { columns: 'discard_row' } }), name);
        expect(dropped.outputs).toEqual([expect.objectContaining({ records: 0, discarded: 1 })]);
        expect(await count()).toBe(60);

        change([5], { plan: 'team' });
        change([6], {});
        expect((await sync(dialect.name, target.config({ unnest: true, schema_contract: { columns: 'discard_value' } }), name)).outputs).toMatchObject([{ records: 2 }]);
        expect(await rows('id IN (5, 6)', 'name')).toEqual([
          { id: '5', name: 'user-5' },
          { id: '5', name: 'user-5' },
          { id: '6', name: 'user-6' },
          { id: '6', name: 'user-6' },
        ]);
        expect(await target.columnTypes(table)).not.toHaveProperty('plan');
      });

      it('data_type: freeze names both types; evolve puts other values in variant columns; discard_row and discard_value drop them', async () => {
        restoreUsers();
        target = await dialect.create('contract-types');
        const name = unique('contract-types');
        await sync(dialect.name, target.config({ unnest: true }), name);
        change([9], { value: 'n/a' });
        change([10], { value: 2.5 });
        expect(await failureOf(sync(dialect.name, target.config({ unnest: true }), name))).toMatch(
          /^Column 'value' of \S*rest_api_users is INTEGER, but record 10 has a FLOAT value for it, and schema_contract\.data_type is freeze: nothing was published\. Set schema_contract\.data_type to evolve \(such values go to a column value__v_float\), discard_value \(NULL\) or discard_row/,
        );
        expect(await count()).toBe(60);

        const evolve = target.config({ unnest: true, schema_contract: { data_type: 'evolve' } });
        expect((await sync(dialect.name, evolve, name)).outputs[0]!.records).toBe(2);
        expect(await target.columnTypes(table)).toMatchObject({ value: dialect.types.INTEGER, value__v_float: dialect.types.FLOAT, value__v_string: dialect.types.STRING });
        expect(await rows('id IN (9, 10) AND bizon_loaded_at = (SELECT max(bizon_loaded_at) FROM rest_api_users)', 'value, CAST(value__v_float AS VARCHAR) AS f, value__v_string AS s')).toEqual([
          { id: '9', value: null, f: null, s: 'n/a' },
          { id: '10', value: null, f: '2.5', s: null },
        ]);

        change([9, 10, 11], {});
        expect((await sync(dialect.name, target.config({ unnest: true, schema_contract: { data_type: 'discard_row' } }), name)).outputs).toEqual([expect.objectContaining({ records: 1, discarded: 2 })]);
        change([9], {});
        expect((await sync(dialect.name, target.config({ unnest: true, schema_contract: { data_type: 'discard_value' } }), name)).outputs[0]!.records).toBe(1);
        const nine = await rows('id = 9', 'CAST(value AS VARCHAR) AS value, value__v_string AS s');
        expect(nine).toEqual([
          { id: '9', value: String((9 * 7919) % 1000), s: null },
          { id: '9', value: null, s: 'n/a' },
          { id: '9', value: null, s: null },
        ]);
        expect(await count()).toBe(60 + 2 + 1 + 1);
      });

      it.skipIf(dialect.name === 'parquet')('write_mode: merge on an inferred column: a record read again replaces its row', async () => {
        restoreUsers();
        target = await dialect.create('contract-merge');
        const name = unique('contract-merge');
        const config = target.config({ unnest: true, write_mode: 'merge', primary_key: 'id' });
        await sync(dialect.name, config, name);
        change([2, 3], { name: 'renamed' });
        expect((await sync(dialect.name, config, name)).outputs).toMatchObject([{ records: 2 }]);
        expect(await count()).toBe(60);
        expect(await rows("name = 'renamed'", 'CAST(id AS VARCHAR) AS key')).toEqual([
          { id: '2', key: '2' },
          { id: '3', key: '3' },
        ]);
        // A key no record has fails the publish, naming it.
        const missing = await failureOf(sync(dialect.name, target.config({ unnest: true, write_mode: 'merge', primary_key: 'uuid' }), unique('contract-merge-missing')));
        expect(missing).toContain("primary_key 'uuid' is not a column of");
      });

      it('record_schemas with data_type: evolve: a value its declared type refuses goes to a variant column; other fields are dropped', async () => {
        restoreUsers();
        target = await dialect.create('contract-declared');
        change([12], { value: 'n/a' });
        const config = target.config({
          unnest: true,
          schema_contract: { data_type: 'evolve' },
          record_schemas: [{ destination_id: table, record_schema: [{ name: 'id', type: 'INTEGER', mode: 'REQUIRED' }, { name: 'value', type: 'INTEGER' }] }],
        });
        expect((await sync(dialect.name, config, unique('contract-declared'), {})).records).toBe(60);
        const types = await target.columnTypes(table);
        expect(types).toMatchObject({ id: dialect.types.INTEGER, value: dialect.types.INTEGER, value__v_string: dialect.types.STRING });
        expect(types).not.toHaveProperty('name');
        expect(await rows('id IN (11, 12)', 'CAST(value AS VARCHAR) AS value, value__v_string AS s')).toEqual([
          { id: '11', value: String((11 * 7919) % 1000), s: null },
          { id: '12', value: null, s: 'n/a' },
        ]);

        // data_type: discard_row — the next full refresh leaves user 12 out, and says how many it left out.
        const discarding = { ...config, schema_contract: { data_type: 'discard_row' } };
        expect((await sync(dialect.name, discarding, unique('contract-declared-discard'), {})).outputs).toEqual([expect.objectContaining({ records: 59, discarded: 1 })]);
        expect(await count()).toBe(59);
        expect(await rows('id = 12', 'value')).toEqual([]);
      });
    });
  },
);
