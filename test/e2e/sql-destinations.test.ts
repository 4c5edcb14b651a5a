import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProgress, startSync } from '../../client.ts';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import type { SyncResult } from '../../workflows/types.ts';
import { failureOf, quietWorkerLogs, REST_SOURCE, ROOT, spawnWorker, startTestEngine, tempDir, unique, type TestEngine } from '../helpers.ts';
import { startTestPostgres, type TestPostgres } from '../postgres.ts';
import { duckdbDialect, postgresDialect, type SqlDialect, type SqlTarget } from '../sql-targets.ts';
import { destinationDefinition } from '../../destinations/index.ts';

quietWorkerLogs();

const ROUTING_SOURCE = path.join(ROOT, 'examples', 'routing', 'source.ts');

let postgres: TestPostgres;
let api: ExampleApi;
let engine: TestEngine;

beforeAll(async () => {
  postgres = await startTestPostgres();
  api = await startExampleApi({ datasets: { users: 250, events: 90 } });
  engine = await startTestEngine([REST_SOURCE, ROUTING_SOURCE], 'sql');
});
afterAll(async () => {
  await engine?.stop();
  await api?.close();
  await postgres?.stop();
});

const INCREMENTAL = { sync_mode: 'incremental', cursor_field: 'updated_at' };

/** The REST API's users (or another source block) into the destination; resolves with the result, rejects with the failure. */
function sync(destination: string, config: Record<string, unknown>, source: Record<string, unknown> = {}, name = unique('sql')): Promise<SyncResult> {
  return startUsersSync(destination, config, source, name).then((started) => started.handle.result() as Promise<SyncResult>);
}

async function startUsersSync(destination: string, config: Record<string, unknown>, source: Record<string, unknown>, name: string) {
  const routed = source.name === 'events_source';
  const started = await startSync(engine.client, {
    config: {
      name,
      source: routed ? source : { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50, ...source },
      destination: { name: destination, config },
      engine: { retry: { initial_interval: '200ms', maximum_interval: '1s' } },
    },
    customSourceFiles: [REST_SOURCE, ROUTING_SOURCE],
    taskQueue: engine.taskQueue,
  });
  return started;
}


const USER_SCHEMA = [
  { name: 'id', type: 'INTEGER', mode: 'REQUIRED', description: "The user's id" },
  { name: 'name', type: 'STRING' },
  { name: 'updated_at', type: 'TIMESTAMP' },
];

describe.each<{ dialect: () => SqlDialect }>([{ dialect: () => postgresDialect(() => postgres) }, { dialect: () => duckdbDialect }])('the SQL destinations', ({ dialect: dialectOf }) => {
  const dialect = dialectOf();
  let target: SqlTarget;
  const counts = async (table: string) => (await target.query(`SELECT count(*) AS rows, count(DISTINCT source_record_id) AS ids FROM "${table}"`))[0];

  describe(dialect.name, () => {
    it('a full refresh fills the table, and the next one replaces it', async () => {
      target = await dialect.create('full');
      const name = unique('sql-full');
      const first = await sync(dialect.name, target.config(), {}, name);
      expect(first.outputs).toEqual([{ destinationId: 'rest_api_users', records: 250, location: dialect.location(target, 'rest_api_users') }]);
      // The next full refresh reads only two pages: the table then holds those 100 records and no other.
      await sync(dialect.name, target.config(), { max_iterations: 2 }, name);
      expect(await counts('rest_api_users')).toEqual({ rows: '100', ids: '100' });
      const [range] = await target.query(`SELECT min(CAST(source_record_id AS INTEGER)) AS low, max(CAST(source_record_id AS INTEGER)) AS high FROM rest_api_users`);
      expect([String(range!.low), String(range!.high)]).toEqual(['1', '100']);
      const [sample] = await target.query(`SELECT source_data->>'name' AS name FROM rest_api_users WHERE source_record_id = '7'`);
      expect(sample).toEqual({ name: 'user-7' });
    });

    it('an incremental sync appends what changed', async () => {
      target = await dialect.create('incremental');
      const name = unique('sql-incr');
      await sync(dialect.name, target.config(), INCREMENTAL, name);
      api.touch('users', [3, 150]);
      expect((await sync(dialect.name, target.config(), INCREMENTAL, name)).records).toBe(2);
      const twice = await target.query(`SELECT source_record_id AS id, count(*) AS n FROM rest_api_users GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`);
      expect(twice).toEqual([
        { id: '150', n: '2' },
        { id: '3', n: '2' },
      ]);
    });

    it('write_mode: merge updates a re-extracted record instead of adding it again', async () => {
      target = await dialect.create('merge');
      const name = unique('sql-merge');
      await sync(dialect.name, target.config({ write_mode: 'merge' }), INCREMENTAL, name);
      api.touch('users', [4, 200]);
      expect((await sync(dialect.name, target.config({ write_mode: 'merge' }), INCREMENTAL, name)).records).toBe(2);
      expect(await counts('rest_api_users')).toEqual({ rows: '250', ids: '250' });
      const touched = await target.query(`SELECT source_record_id AS id, source_data->>'updated_at' AS updated FROM rest_api_users WHERE source_record_id IN ('4', '200') ORDER BY 1`);
      expect(touched).toEqual(['200', '4'].map((id) => ({ id, updated: api.data.users!.find((item) => String(item.id) === id)!.updated_at })));
    });

    it('records routed by destinationId land in one table each', async () => {
      target = await dialect.create('routing');
      const result = await sync(dialect.name, target.config(), { name: 'events_source', stream: 'events', api_url: api.url, page_size: 25 });
      // A full refresh also replaces the configured table: no record went there, so it is empty.
      expect(result.outputs.map((output) => [output.destinationId, output.records])).toEqual([
        ['events_source_events', 0],
        ['project.dataset.click_events', 30],
        ['project.dataset.purchase_events', 30],
        ['project.dataset.view_events', 30],
      ]);
      const [clicks] = await target.query(`SELECT count(*) AS n, count(*) FILTER (WHERE source_data->>'type' <> 'click') AS other FROM "project.dataset.click_events"`);
      expect(clicks).toEqual({ n: '30', other: '0' });
    });

    it('unnest writes typed columns, and a field added to the record schema adds its column on the next sync', async () => {
      target = await dialect.create('unnest');
      const name = unique('sql-unnest');
      const unnested = (fields: unknown[], extra: Record<string, unknown> = {}) =>
        target.config({ unnest: true, record_schemas: [{ destination_id: 'users', record_schema: fields }], table: 'users', ...extra });
      await sync(dialect.name, unnested(USER_SCHEMA), {}, name);
      expect(await target.columnTypes('users')).toEqual({
        bizon_id: dialect.types.STRING,
        bizon_extracted_at: dialect.types.TIMESTAMP,
        bizon_loaded_at: dialect.types.TIMESTAMP,
        source_record_id: dialect.types.STRING,
        source_timestamp: dialect.types.TIMESTAMP,
        destination_id: dialect.types.STRING,
        id: dialect.types.INTEGER,
        name: dialect.types.STRING,
        updated_at: dialect.types.TIMESTAMP,
      });
      // Typed: integers add up, timestamps compare as times.
      const [typed] = await target.query(
        `SELECT count(*) AS n, sum(id) AS total, count(*) FILTER (WHERE updated_at > TIMESTAMPTZ '2024-01-01 02:00:00+00') AS late FROM users`,
      );
      const late = api.data.users!.filter((user) => Date.parse(user.updated_at) > Date.parse('2024-01-01T02:00:00Z')).length;
      expect(typed).toEqual({ n: '250', total: String((250 * 251) / 2), late: String(late) });

      await sync(dialect.name, unnested([...USER_SCHEMA, { name: 'value', type: 'INTEGER' }, { name: 'type', type: 'JSON' }]), {}, name);
      expect(await target.columnTypes('users')).toMatchObject({ value: dialect.types.INTEGER, type: dialect.types.JSON });
      const [row] = await target.query(`SELECT id, name, value FROM users WHERE id = 7`);
      expect(row).toEqual({ id: '7', name: 'user-7', value: String((7 * 7919) % 1000) });

      // merge on a field of the schema that is not the record's id: a new record named like an old one replaces its row.
      const byName = unnested(USER_SCHEMA, { write_mode: 'merge', primary_key: 'name' });
      await sync(dialect.name, byName, INCREMENTAL, `${name}-merge`);
      api.data.users!.push({ id: 251, name: 'user-9', type: 'view', updated_at: new Date().toISOString(), value: 1 });
      try {
        expect((await sync(dialect.name, byName, INCREMENTAL, `${name}-merge`)).records).toBe(1);
      } finally {
        api.data.users!.pop();
      }
      const [merged] = await target.query(`SELECT count(*) AS n, count(DISTINCT name) AS names FROM users`);
      expect(merged).toEqual({ n: '250', names: '250' });
      expect(await target.query(`SELECT id, source_record_id FROM users WHERE name = 'user-9'`)).toEqual([{ id: '251', source_record_id: '251' }]);
    });

    it('a record value that does not fit its typed column fails the page at once, naming the record, field and value; nothing is published', async () => {
      target = await dialect.create('misfit');
      const config = target.config({ unnest: true, table: 'users', record_schemas: [{ destination_id: 'users', record_schema: [{ name: 'id', type: 'INTEGER' }, { name: 'name', type: 'INTEGER' }] }] });
      const started = Date.now();
      const message = await failureOf(sync(dialect.name, config));
      expect(message).toBe(
        `Record 1 (page 1) does not fit 'users': field 'name' is "user-1", not a 64-bit integer (its type is INTEGER in record_schemas). Change the field's type, fix the value in the source, or set schema_contract.data_type`,
      );
      expect(Date.now() - started).toBeLessThan(15_000);
      const tables = await target.query(`SELECT table_name AS name FROM information_schema.tables WHERE table_name = 'users'`);
      expect(tables).toEqual([]);
    });

    it('a hostile table name is quoted, never run', async () => {
      target = await dialect.create('hostile');
      // It would drop the table the first sync made, were it run.
      const hostile = 'x"; DROP TABLE rest_api_users; --';
      await sync(dialect.name, target.config(), { max_iterations: 1 }, unique('sql-canary-made'));
      const result = await sync(dialect.name, target.config({ destination_id: hostile }), { max_iterations: 1 });
      expect(result.outputs[0]).toMatchObject({ destinationId: hostile, records: 50 });
      const tables = await target.query(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema IN ('public', 'main') ORDER BY 1`);
      expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(['rest_api_users', hostile]));
      expect(await counts('rest_api_users')).toEqual({ rows: '50', ids: '50' });
    });

    it("a destination id naming bizon's own bookkeeping table is refused before the sync starts; the bookkeeping is intact", async () => {
      target = await dialect.create('reserved');
      await sync(dialect.name, target.config(), { max_iterations: 1 }, unique('sql-reserved-made'));
      const published = await target.query('SELECT count(*) AS n FROM _bizon_published');
      for (const reserved of ['_bizon_published', '_bizon_staging', '_BIZON_anything']) {
        const error = await sync(dialect.name, target.config({ destination_id: reserved }), { max_iterations: 1 }).catch((caught: Error) => caught);
        expect((error as Error).message).toContain(`destination.config: the destination id '${reserved}' is reserved: names starting with _bizon are bizon's own bookkeeping tables (any case); choose another`);
      }
      expect(await target.query('SELECT count(*) AS n FROM _bizon_published')).toEqual(published);
    });
  });
});

/** Another process reading a DuckDB file, holding it open until told to close it. */
async function openReader(file: string, table: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'duckdb-reader.mjs'), file, table], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => String((await lines.next()).value);
  const opened = JSON.parse(await next()) as { n: string; newest: string };
  return {
    opened,
    async count() {
      child.stdin!.write('count\n');
      return JSON.parse(await next()) as { n: string; newest: string };
    },
    async close() {
      child.stdin!.end('close\n');
      expect(await next()).toBe('closed');
      await exited;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

describe('the postgres destination and two attempts of one page', () => {
  it('staging the same page twice at once (a zombie attempt beside its retry) leaves one copy of its rows, published once', async () => {
    const target = await postgresDialect(() => postgres).create('twice');
    const definition = destinationDefinition('postgres');
    const destination = definition.create(definition.config.parse(target.config()) as never, 'pages');
    try {
      await destination.checkConnection();
      const records = Array.from({ length: 500 }, (_, index) => ({ id: String(index + 1), data: { n: index + 1 }, timestamp: undefined, destinationId: undefined }));
      const page = (extractedAt: Date) => ({ syncRunId: 'run-twice', iteration: 1, extractedAt, records });
      // Five attempts of page 1 at once, then page 2 once.
      await Promise.all(Array.from({ length: 5 }, (_, attempt) => destination.write(page(new Date(Date.UTC(2026, 0, 1, 0, 0, attempt))))));
      await destination.write({ syncRunId: 'run-twice', iteration: 2, extractedAt: new Date(), records: records.slice(0, 10).map((record) => ({ ...record, id: `b${record.id}` })) });
      const outputs = await destination.finalize({ syncRunId: 'run-twice', mode: 'replace' });
      expect(outputs).toEqual([{ destinationId: 'pages', records: 510, location: 'postgres public.pages' }]);
      expect(await target.query('SELECT count(*) AS rows, count(DISTINCT source_record_id) AS ids FROM pages')).toEqual([{ rows: '510', ids: '510' }]);
    } finally {
      await destination.close?.();
    }
  });
});

describe('the postgres destination and values it cannot store', () => {
  it('a \\u0000 in a record fails the sync at once, naming where; nothing is published', async () => {
    const nul = await startExampleApi({
      fault: (request) => (request.path === '/events' ? { status: 200, body: { items: [{ id: 1, type: 'ok' }, { id: 2, type: 'bad', note: 'a\u0000b' }] } } : undefined),
    });
    try {
      const target = await postgresDialect(() => postgres).create('nul');
      const started = Date.now();
      const message = await failureOf(sync('postgres', target.config(), { name: 'events_source', stream: 'events', api_url: nul.url, page_size: 25 }));
      expect(message).toMatch(/^Postgres destination could not .+ \(.*line \d+.*\): a value Postgres cannot store; fix or drop it in the source$/);
      expect(message).toMatch(/unsupported Unicode escape sequence|\\u0000/);
      // Not retried with backoff: failed in one attempt.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await target.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'project.%'`)).toEqual([{ n: '0' }]);
    } finally {
      await nul.close();
    }
  });
});

describe('the duckdb destination and other programs reading its file', () => {
  it('a path under a file, not a directory, fails at once, naming it', async () => {
    const notADirectory = path.join(tempDir(), 'plain-file');
    writeFileSync(notADirectory, 'not a directory');
    const started = Date.now();
    const message = await failureOf(sync('duckdb', { path: path.join(notADirectory, 'out.duckdb') }));
    expect(message).toMatch(new RegExp(`^DuckDB destination cannot create the directory of ${notADirectory}/out\\.duckdb: EEXIST: file already exists`));
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('destination ids holding * ? [ are tables like any other: each gets its own rows, never another\'s pages', async () => {
    // The API answers page 1 with events whose types make routed ids that DuckDB would read as file patterns.
    const types = ['plain', 'plain', '*', '*', '?lain', 'p[l]ain', 'pl[a]in'];
    const hostile = await startExampleApi({
      fault: (request) => (request.path === '/events' ? { status: 200, body: { items: types.map((type, index) => ({ id: index + 1, type })) } } : undefined),
    });
    try {
      const target = await duckdbDialect.create('globs');
      const result = await sync('duckdb', target.config(), { name: 'events_source', stream: 'events', api_url: hostile.url, page_size: 25 });
      const counts = Object.fromEntries(result.outputs.map((output) => [output.destinationId, output.records]));
      expect(counts).toMatchObject({ 'project.dataset.plain_events': 2, 'project.dataset.*_events': 2, 'project.dataset.?lain_events': 1, 'project.dataset.p[l]ain_events': 1, 'project.dataset.pl[a]in_events': 1 });
      for (const [id, records] of Object.entries(counts).filter(([id]) => id.startsWith('project.'))) {
        const type = id.slice('project.dataset.'.length, -'_events'.length);
        expect(await target.query(`SELECT count(*) AS n, count(*) FILTER (WHERE source_data->>'type' <> '${type}') AS other FROM "${id}"`)).toEqual([{ n: String(records), other: '0' }]);
      }
    } finally {
      await hostile.close();
    }
  });

  it('a NUMERIC beyond DECIMAL(38, 9) fails the page as it is staged, naming record, field and value; nothing is published', async () => {
    const huge = await startExampleApi({
      fault: (request) => (request.path === '/events' ? { status: 200, body: { items: [{ id: 1, type: 'big', amount: 12.5 }, { id: 2, type: 'big', amount: 1e50 }] } } : undefined),
    });
    try {
      const target = await duckdbDialect.create('numeric');
      const schema = { destination_id: 'project.dataset.big_events', record_schema: [{ name: 'id', type: 'INTEGER' }, { name: 'amount', type: 'NUMERIC' }] };
      const message = await failureOf(sync('duckdb', target.config({ unnest: true, record_schemas: [schema] }), { name: 'events_source', stream: 'events', api_url: huge.url, page_size: 25 }));
      expect(message).toBe(
        `Record 2 (page 1) does not fit 'project.dataset.big_events': field 'amount' is 1e+50, more than the 29 digits before the decimal point this destination's NUMERIC column holds (its type is NUMERIC in record_schemas). Change the field's type, fix the value in the source, or set schema_contract.data_type`,
      );
      expect(await target.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'project.%'`)).toEqual([{ n: '0' }]);
    } finally {
      await huge.close();
    }
  });

  it('destination ids that differ only in case fail the publish naming both; the tables are as they were', async () => {
    const cased = await startExampleApi({
      fault: (request) => (request.path === '/events' ? { status: 200, body: { items: ['Click', 'click', 'view'].map((type, index) => ({ id: index + 1, type })) } } : undefined),
    });
    try {
      const target = await duckdbDialect.create('cased');
      const message = await failureOf(sync('duckdb', target.config(), { name: 'events_source', stream: 'events', api_url: cased.url, page_size: 25 }));
      expect(message).toBe(
        `destination ids 'project.dataset.Click_events' and 'project.dataset.click_events' differ only in case, and DuckDB table names do not: they would be one table. Route the records to ids that differ in more than case`,
      );
      const tables = await target.query(`SELECT table_name AS name FROM information_schema.tables WHERE table_name LIKE 'project.%'`);
      expect(tables).toEqual([]);
    } finally {
      await cased.close();
    }
  });

  it('a database under a path DuckDB would read as a pattern is refused before any page, naming it', async () => {
    const dir = path.join(tempDir(), 'data[1]');
    const message = await failureOf(sync('duckdb', { path: path.join(dir, 'out.duckdb') }, { max_iterations: 1 }));
    expect(message).toBe(`DuckDB destination cannot stage pages in ${path.join(dir, 'out.duckdb')}.bizon-staging: DuckDB reads * ? [ in a path as a pattern, which could pull in other files. Put the database in a directory whose path has none of them`);
  });

  it('a publish beyond memory_limit fails at once, naming the setting and what to do; the table published before is whole', async () => {
    const target = await duckdbDialect.create('memory');
    const name = unique('duckdb-memory');
    await sync('duckdb', target.config(), {}, name);
    const started = Date.now();
    const message = await failureOf(sync('duckdb', target.config({ memory_limit: '1MB' }), {}, name));
    const file = (target.config() as { path: string }).path;
    expect(message).toMatch(
      new RegExp(
        `^DuckDB destination could not publish in ${file} within destination\\.config\\.memory_limit \\(1MB\\): Out of Memory Error: [^\\n]+\\. ` +
          'Raise memory_limit \\(reading staged pages needs at least ~100MB\\), or remove it to let DuckDB use most of the memory; the tables are as they were before this sync$',
      ),
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    // The full refresh that failed replaced nothing.
    expect(await target.query(`SELECT count(*) AS n, count(DISTINCT source_record_id) AS ids FROM rest_api_users`)).toEqual([{ n: '250', ids: '250' }]);
    // With the limit raised, the next run resumes the failed one: its staged pages are published as they are.
    const enough = await sync('duckdb', target.config({ memory_limit: '256MB' }), {}, name);
    expect(enough.outputs).toEqual([{ destinationId: 'rest_api_users', records: 250, location: duckdbDialect.location(target, 'rest_api_users') }]);
    expect(await target.query(`SELECT count(*) AS n, count(DISTINCT source_record_id) AS ids FROM rest_api_users`)).toEqual([{ n: '250', ids: '250' }]);
  });

  it('a reader holding the file open while a full refresh publishes: the publish is retried until it closes, and it saw the old table whole', async () => {
    const target = await duckdbDialect.create('reader');
    const file = (target.config() as { path: string }).path;
    const name = unique('duckdb-reader');
    await sync('duckdb', target.config(), {}, name);
    // Page 2 of the second sync waits: it has checked the file, and has not published yet.
    const held = api.hold((request) => request.path === '/rest/users' && request.query.after === '50');
    let reader: Awaited<ReturnType<typeof openReader>> | undefined;
    try {
      const started = await startUsersSync('duckdb', target.config(), {}, name);
      await held.reached;
      reader = await openReader(file, 'rest_api_users');
      expect(reader.opened.n).toBe('250');
      held.release();
      for (;;) {
        const progress = await getProgress(engine.client, started.workflowId).catch(() => undefined);
        if (progress?.retrying?.activity === 'finalizeSync') {
          expect(progress.retrying.lastFailure).toMatch(/DuckDB destination could not publish in .*out\.duckdb: .*lock.*another process has the database open: it is retried until that process closes it/s);
          break;
        }
        await sleep(50);
      }
      expect(await reader.count()).toEqual(reader.opened);
      await reader.close();
      reader = undefined;
      const result = (await started.handle.result()) as SyncResult;
      expect(result.records).toBe(250);
      const [after] = await target.query(`SELECT count(*) AS n, count(DISTINCT source_record_id) AS ids FROM rest_api_users`);
      expect(after).toEqual({ n: '250', ids: '250' });
      // Published: nothing is left beside the database file.
      expect(readdirSync(path.dirname(file)).filter((name) => name.includes('bizon-staging'))).toEqual([]);
    } finally {
      held.release();
      reader?.kill();
    }
  });
});

describe('a DuckDB publish cut by a SIGKILL', () => {
  it('the worker killed while its publish waits for the file: a new worker publishes, every row once, the old table seen whole until then', async () => {
    const target = await duckdbDialect.create('publish-kill');
    const file = (target.config() as { path: string }).path;
    const name = unique('duckdb-publish-kill');
    await sync('duckdb', target.config(), { max_iterations: 1 }, name); // 50 rows
    const taskQueue = unique('duckdb-publish-kill');
    const workers = [spawnWorker(taskQueue, { customSources: [REST_SOURCE] })];
    // A reader holds the file: the publish is retried, in the worker that is then killed.
    const held = api.hold((request) => request.path === '/rest/users' && request.query.after === '50');
    let reader: Awaited<ReturnType<typeof openReader>> | undefined;
    try {
      const started = await startSync(engine.client, {
        config: { name, source: { name: 'rest_api', stream: 'users', base_url: `${api.url}/rest`, page_size: 50 }, destination: { name: 'duckdb', config: target.config() }, engine: { retry: { initial_interval: '200ms', maximum_interval: '1s' }, heartbeat_timeout: '2s' } },
        customSourceFiles: [REST_SOURCE],
        taskQueue,
      });
      await held.reached;
      reader = await openReader(file, 'rest_api_users');
      held.release();
      for (;;) {
        const progress = await getProgress(engine.client, started.workflowId).catch(() => undefined);
        if (progress?.retrying?.activity === 'finalizeSync') break;
        await sleep(50);
      }
      workers[0]!.kill('SIGKILL');
      expect(await reader.count()).toEqual({ n: '50', newest: reader.opened.newest });
      await reader.close();
      reader = undefined;
      workers.push(spawnWorker(taskQueue, { customSources: [REST_SOURCE] }));
      expect(((await started.handle.result()) as SyncResult).records).toBe(250);
      const [after] = await target.query(`SELECT count(*) AS n, count(DISTINCT source_record_id) AS ids FROM rest_api_users`);
      expect(after).toEqual({ n: '250', ids: '250' });
      expect(readdirSync(path.dirname(file)).filter((entry) => entry.includes('bizon-staging'))).toEqual([]);
    } finally {
      held.release();
      reader?.kill();
      for (const worker of workers) worker.kill('SIGKILL');
    }
  });
});
