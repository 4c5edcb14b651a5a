import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExampleApi } from '../../examples/api/server.ts';
import { adaptExample, EXAMPLE_CASES, exampleEnv, exampleSource, startExampleApis, type ExampleApis } from '../examples.ts';
import { ROOT, cliEnv, readExampleConfig, readRows, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';
import { queryDuckDB } from '../sql-targets.ts';

let apis: ExampleApis;
let api: ExampleApi;
beforeAll(async () => {
  apis = await startExampleApis();
  api = apis.api;
});
afterAll(() => apis?.close());

describe('every example syncs end to end through the CLI', () => {
  it.each(EXAMPLE_CASES)('$example', async ({ example, key, urlPath, stream, outputs, sourceFrom }) => {
    const dir = tempDir();
    const config = adaptExample(apis, { example, key, urlPath }, dir);
    const result = await runBizon(['run', config, '--custom-source', exampleSource({ example, sourceFrom })], { cwd: dir, env: exampleEnv() });
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
    expect(refused.stderr).toContain("Unknown destination 'csvv'. Did you mean 'csv'? Destinations: logger, file, postgres, duckdb, parquet, csv.");
  });
});
