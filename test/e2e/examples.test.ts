import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { ROOT, cliEnv, readExampleConfig, readRows, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';
import { queryDuckDB } from '../sql-targets.ts';

const TOKEN = 'example-token-0f3a';
const SECRET = 'example-secret-77c1';
let api: ExampleApi;
/** The page example authenticates with a token, as in the seed. */
let tokenApi: ExampleApi;

beforeAll(async () => {
  api = await startExampleApi({ signing: { apiKey: 'example-key', apiSecret: SECRET } });
  tokenApi = await startExampleApi({ token: TOKEN });
});
afterAll(async () => {
  await api?.close();
  await tokenApi?.close();
});

/** Points an example's config at the test API, a temp output directory and a task queue of its own. */
function adapt(example: string, urlKey: string, urlPath: string, dir: string): string {
  const config = readExampleConfig(example);
  config.name = unique(config.name);
  config.source[urlKey] = `${example === 'page' ? tokenApi.url : api.url}${urlPath}`;
  config.destination.config.directory = path.join(dir, 'output');
  config.engine = { ...config.engine, temporal: { task_queue: unique('examples') } };
  return writeConfig(dir, config);
}

const cases = [
  { example: 'page', key: 'api_url', urlPath: '', stream: 'users', outputs: ['my_source_users'] },
  { example: 'cursor', key: 'api_url', urlPath: '/cursor', stream: 'orders', outputs: ['cursor_source_orders'] },
  { example: 'offset', key: 'api_url', urlPath: '/offset', stream: 'products', outputs: ['offset_source_products'] },
  { example: 'total-pages', key: 'api_url', urlPath: '/total-pages', stream: 'users', outputs: ['total_pages_source_users'] },
  { example: 'rest-api', key: 'base_url', urlPath: '/rest', stream: 'users', outputs: ['rest_api_users'] },
  { example: 'custom-auth', key: 'api_url', urlPath: '', stream: 'orders', outputs: ['signed_source_orders'] },
  { example: 'error-handling', key: 'api_url', urlPath: '', stream: 'users', outputs: ['careful_source_users'] },
  { example: 'sliced', key: 'base_url', urlPath: '/rest', stream: 'users', outputs: ['date_ranges_users'] },
  { example: 'incremental', key: 'base_url', urlPath: '/rest', stream: 'users', outputs: ['rest_api_users'], sourceFrom: 'rest-api' },
  {
    example: 'routing',
    key: 'api_url',
    urlPath: '',
    stream: 'events',
    outputs: ['project.dataset.click_events', 'project.dataset.purchase_events', 'project.dataset.view_events'],
  },
];

describe('every example syncs end to end through the CLI', () => {
  it.each(cases)('$example', async ({ example, key, urlPath, stream, outputs, sourceFrom }) => {
    const dir = tempDir();
    const config = adapt(example, key, urlPath, dir);
    const result = await runBizon(['run', config, '--custom-source', path.join(ROOT, 'examples', sourceFrom ?? example, 'source.ts')], {
      cwd: dir,
      env: cliEnv({ BIZON_ENV_EXAMPLE_API_TOKEN: TOKEN, BIZON_ENV_EXAMPLE_API_SECRET: SECRET }),
    });
    expect(result.stderr).toContain('✔ Sync succeeded');
    expect(result.code).toBe(0);

    const rows = outputs.flatMap((output) => readRows(path.join(dir, 'output', `${output}.jsonl`)));
    const written = rows.map((row) => row.source_data).sort((a, b) => Number(a.id) - Number(b.id));
    expect(written).toEqual(api.data[stream]);
    if (example === 'routing') {
      for (const output of outputs) {
        const type = output.replace('project.dataset.', '').replace('_events', '');
        expect(readRows(path.join(dir, 'output', `${output}.jsonl`)).every((row) => row.source_data.type === type && row.destination_id === output)).toBe(true);
      }
    }
  });
});

describe('examples of destinations', () => {
  it('quickstart/duckdb.yml: the dummy source into a DuckDB file, then queried by another program', async () => {
    const dir = tempDir();
    const config = readExampleConfig('quickstart', 'duckdb.yml');
    config.name = unique(config.name);
    config.engine = { temporal: { task_queue: unique('examples') } };
    const result = await runBizon(['run', writeConfig(dir, config)], { cwd: dir, env: cliEnv() });
    expect(result.code).toBe(0);
    const file = path.join(dir, 'output', 'quickstart.duckdb');
    expect(result.stderr).toContain(`output: duckdb ${file} main.dummy_creatures (12 records)`);
    const rows = await queryDuckDB(file, `SELECT source_data->>'name' AS name FROM dummy_creatures ORDER BY CAST(source_record_id AS INTEGER)`);
    expect(rows.map((row) => row.name)).toEqual(['axolotl', 'bison', 'capybara', 'dugong', 'echidna', 'fennec', 'gecko', 'hoopoe', 'ibex', 'jerboa', 'kinkajou', 'lemur']);
  });

  it('custom-destination: CSV files written by a destination of your own; a misspelt destination name is refused', async () => {
    const dir = tempDir();
    const config = readExampleConfig('custom-destination');
    config.name = unique(config.name);
    config.source.base_url = `${api.url}/rest`;
    config.destination.config.directory = path.join(dir, 'output');
    config.engine = { temporal: { task_queue: unique('examples') } };
    const files = ['--custom-source', path.join(ROOT, 'examples', 'rest-api', 'source.ts'), '--custom-source', path.join(ROOT, 'examples', 'custom-destination', 'destination.ts')];
    const result = await runBizon(['run', writeConfig(dir, config), ...files], { cwd: dir, env: cliEnv() });
    expect(result.stderr).toContain('✔ Sync succeeded');
    expect(result.code).toBe(0);
    const lines = readFileSync(path.join(dir, 'output', 'rest_api_users.csv'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('id,name,updated_at');
    expect(lines.slice(1)).toEqual(api.data.users!.map((user) => `${user.id},${user.name},${user.updated_at}`));

    config.destination.name = 'csvv';
    const refused = await runBizon(['run', writeConfig(dir, config), ...files], { cwd: dir, env: cliEnv() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("Unknown destination 'csvv'. Did you mean 'csv'? Destinations: logger, file, postgres, duckdb, csv.");
  });
});
