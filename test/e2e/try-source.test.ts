import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { testSource } from '../../testing.ts';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptExample, EXAMPLE_API_TOKEN, EXAMPLE_CASES, exampleEnv, exampleSource, startExampleApis, type ExampleApis } from '../examples.ts';
import { cliEnv, ROOT, runBizon, tempDir, unique, writeConfig } from '../helpers.ts';

let apis: ExampleApis;
beforeAll(async () => {
  apis = await startExampleApis();
});
afterAll(() => apis?.close());

/** No Temporal anywhere: these commands must not need one. */
const noTemporal = (extra: Record<string, string | undefined> = {}) => exampleEnv({ TEMPORAL_ADDRESS: '127.0.0.1:1', ...extra });

describe('bizon check and bizon dry-run, without Temporal', () => {
  it.each(EXAMPLE_CASES)('$example: check finds it ready, dry-run shows its pages and every record a sync would write', async (example) => {
    const dir = tempDir();
    const config = adaptExample(apis, example, dir);
    const source = exampleSource(example);
    const checked = await runBizon(['check', config, '--custom-source', source], { cwd: dir, env: noTemporal() });
    expect(checked.stdout).toContain('✔ checkConnection(): ok');
    expect(checked.stdout).toMatch(/✔ getTotalRecordsCount\(\): (\d+|unknown)/);
    expect(checked.stdout).toContain('✔ ready: bizon run');
    expect(checked.code).toBe(0);

    const dried = await runBizon(['dry-run', config, '--custom-source', source, '--pages', '1000', '--output', 'ndjson'], { cwd: dir, env: noTemporal() });
    expect(dried.code).toBe(0);
    expect(dried.stderr).toMatch(/^(slice 0 .* · )?page 1 · \d+ records · \d+ ms · /m);
    expect(dried.stderr).toContain('the source is exhausted');
    const records = dried.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { data: { id: number } });
    expect(records.map((record) => record.data).sort((a, b) => a.id - b.id)).toEqual(apis.api.data[example.stream]);
  });

  it('the declarative example: check and dry-run each of its streams, no source file', async () => {
    const dir = tempDir();
    const config = parse(readFileSync(path.join(ROOT, 'examples', 'declarative', 'config.yml'), 'utf8'));
    config.source.base_url = apis.api.url;
    const file = writeConfig(dir, config);
    const checked = await runBizon(['check', file], { cwd: dir, env: noTemporal() });
    expect(checked.stdout.match(/✔ checkConnection\(\): ok/g)).toHaveLength(3);
    expect(checked.code).toBe(0);
    for (const stream of ['users', 'orders', 'products']) {
      const dried = await runBizon(['dry-run', file, '--stream', stream, '--pages', '100', '--output', 'ndjson'], { cwd: dir, env: noTemporal() });
      expect(dried.code).toBe(0);
      expect(dried.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).data)).toEqual(apis.api.data[stream]);
    }
  });

  it('dry-run stops at --pages, prints the first records of each page, and says the source has more', async () => {
    const dir = tempDir();
    const config = adaptExample(apis, EXAMPLE_CASES.find((example) => example.example === 'rest-api')!, dir);
    const result = await runBizon(['dry-run', config, '--custom-source', exampleSource({ example: 'rest-api' }), '--pages', '2', '--records', '2'], { cwd: dir, env: noTemporal() });
    expect(result.code).toBe(0);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('Dry run of rest_api/users: get() called here, at most 2 pages; nothing is written');
    expect(lines[1]).toMatch(/^page 1 · 50 records · \d+ ms · next pagination \{"cursor":"50"\}$/);
    expect(lines[2]).toMatch(/^ {2}1 +2024-01-01T00:01:00\.000Z +\{"id":1,"name":"user-1",/);
    expect(lines[4]).toBe('  … 48 more');
    expect(lines.at(-1)).toBe('✔ 2 pages · 100 records · stopped at --pages 2; the source has more (next pagination {"cursor":"100"})');
  });

  it('dry-run --output json is one JSON document; --since calls getRecordsAfter() with that watermark', async () => {
    const dir = tempDir();
    const config = adaptExample(apis, EXAMPLE_CASES.find((example) => example.example === 'incremental')!, dir);
    const mark = apis.api.requests.length;
    const result = await runBizon(['dry-run', config, '--custom-source', exampleSource({ example: 'rest-api' }), '--since', '2024-01-01T04:00:00Z', '--output', 'json', '--records', '1'], {
      cwd: dir,
      env: noTemporal(),
    });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { complete: boolean; pages: Array<{ iteration: number; recordCount: number; records: Array<{ id: string }> }> };
    expect(report.complete).toBe(true);
    const changed = apis.api.data.users!.filter((user) => Date.parse(user.updated_at) > Date.parse('2024-01-01T04:00:00Z'));
    expect(report.pages.reduce((sum, page) => sum + page.recordCount, 0)).toBe(changed.length);
    expect(report.pages[0]!.records).toEqual([expect.objectContaining({ id: String(changed[0]!.id) })]);
    const sent = apis.api.requests.slice(mark).filter((request) => request.path === '/rest/users');
    expect(sent.every((request) => request.query.updated_since === '2024-01-01T04:00:00.000Z')).toBe(true);

    // A duration means that long before now.
    const relativeMark = apis.api.requests.length;
    const before = Date.now();
    const relative = await runBizon(['dry-run', config, '--custom-source', exampleSource({ example: 'rest-api' }), '--since', '2d', '--output', 'json'], { cwd: dir, env: noTemporal() });
    expect(relative.code).toBe(0);
    const [asked] = apis.api.requests.slice(relativeMark).filter((request) => request.path === '/rest/users' && request.query.updated_since !== undefined);
    const since = Date.parse(String(asked!.query.updated_since));
    expect(since).toBeGreaterThanOrEqual(before - 2 * 86_400_000);
    expect(since).toBeLessThanOrEqual(Date.now() - 2 * 86_400_000);
  });

  it('dry-run --record saves the responses; testSource() replays them into the same records, and no secret is saved', async () => {
    const dir = tempDir();
    const recordings = path.join(dir, 'recordings');
    const config = adaptExample(apis, EXAMPLE_CASES[0]!, dir);
    const recorded = await runBizon(['dry-run', config, '--custom-source', exampleSource(EXAMPLE_CASES[0]!), '--pages', '100', '--record', recordings], { cwd: dir, env: noTemporal() });
    expect(recorded.code).toBe(0);
    const files = readdirSync(recordings);
    expect(files).toEqual(['0001.json', '0002.json', '0003.json']);
    for (const file of files) expect(readFileSync(path.join(recordings, file), 'utf8')).not.toContain(EXAMPLE_API_TOKEN);
    const replayed = await testSource({ source: exampleSource(EXAMPLE_CASES[0]!), config: parse(readFileSync(config, 'utf8')).source, recordings, env: { BIZON_ENV_EXAMPLE_API_TOKEN: 'x' } });
    expect(replayed.records.map((record) => record.data)).toEqual(apis.tokenApi.data.users);
  });

  it('a malformed page stops the dry-run with the message a sync fails with', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { name: unique('malformed'), source: { name: 'malformed', stream: 'broken' }, destination: { name: 'logger' } });
    const result = await runBizon(['dry-run', config, '--custom-source', path.join(ROOT, 'test', 'fixtures', 'malformed_source.ts')], { cwd: dir, env: noTemporal() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('page 1 · 1 records');
    expect(result.stderr).toContain(
      "✖ Source 'malformed' (stream 'broken') returned a malformed SourceIteration at iteration 2: records[0].id must be a non-empty string or a number, got undefined",
    );
  });

  it('a missing secret is named, and nothing is called; --env-file and ./.env provide secrets, the environment wins', async () => {
    const dir = tempDir();
    const config = adaptExample(apis, EXAMPLE_CASES[0]!, dir);
    const source = exampleSource(EXAMPLE_CASES[0]!);
    const mark = apis.tokenApi.requests.length;
    const missing = await runBizon(['check', config, '--custom-source', source], { cwd: dir, env: noTemporal({ BIZON_ENV_EXAMPLE_API_TOKEN: undefined }) });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Missing environment variable: BIZON_ENV_EXAMPLE_API_TOKEN (used by source.authentication.params.token)');
    expect(apis.tokenApi.requests.length).toBe(mark);

    const envFile = path.join(tempDir(), 'secrets.env');
    writeFileSync(envFile, `# the API token\nBIZON_ENV_EXAMPLE_API_TOKEN=${EXAMPLE_API_TOKEN}\n`);
    const fromFile = await runBizon(['check', config, '--custom-source', source, '--env-file', envFile], { cwd: dir, env: noTemporal({ BIZON_ENV_EXAMPLE_API_TOKEN: undefined }) });
    expect(fromFile.stdout).toContain('✔ checkConnection(): ok');
    expect(fromFile.code).toBe(0);

    writeFileSync(path.join(dir, '.env'), `BIZON_ENV_EXAMPLE_API_TOKEN=${EXAMPLE_API_TOKEN}\n`);
    const fromDotEnv = await runBizon(['dry-run', config, '--custom-source', source, '--pages', '1'], { cwd: dir, env: noTemporal({ BIZON_ENV_EXAMPLE_API_TOKEN: undefined }) });
    expect(fromDotEnv.code).toBe(0);

    const overridden = await runBizon(['dry-run', config, '--custom-source', source, '--pages', '1'], { cwd: dir, env: noTemporal({ BIZON_ENV_EXAMPLE_API_TOKEN: 'the-wrong-one' }) });
    expect(overridden.code).toBe(1);
    expect(overridden.stderr).toContain('✖ HTTP 401 from GET');
    expect(overridden.stderr).not.toContain('the-wrong-one');
  });

  it('check says what is not ready: the API down, the destination not writable', async () => {
    const dir = tempDir();
    const notADirectory = path.join(dir, 'plain-file');
    writeFileSync(notADirectory, '');
    const config = writeConfig(dir, {
      name: unique('not-ready'),
      source: { name: 'rest_api', stream: 'users', base_url: 'http://127.0.0.1:1/rest' },
      destination: { name: 'duckdb', config: { path: path.join(notADirectory, 'out.duckdb') } },
    });
    const result = await runBizon(['check', config, '--custom-source', exampleSource({ example: 'rest-api' })], { cwd: dir, env: cliEnv() });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✖ checkConnection\(\): .*ECONNREFUSED/);
    expect(result.stdout).toContain(`✖ destination duckdb: DuckDB destination cannot create the directory of ${notADirectory}/out.duckdb`);
    expect(result.stdout).toContain('✖ not ready: fix what is marked ✖ above');
  });

  it('init source → dry-run → run: the scaffold syncs the local API', async () => {
    const dir = tempDir();
    const created = await runBizon(['init', 'source', 'my_api', '--api-url', apis.api.url], { cwd: dir, env: noTemporal() });
    expect(created.code).toBe(0);
    expect(created.stderr).toContain('Created my_api/source.ts and my_api/config.yml. Next:');
    const config = path.join(dir, 'my_api', 'config.yml');
    const source = path.join(dir, 'my_api', 'source.ts');
    const dried = await runBizon(['dry-run', config, '--custom-source', source], { cwd: dir, env: noTemporal() });
    expect(dried.code).toBe(0);
    expect(dried.stderr).toContain('page 1 · 100 records');

    const pipeline = parse(readFileSync(config, 'utf8'));
    writeFileSync(config, stringify({ ...pipeline, engine: { temporal: { task_queue: unique('init') } } }));
    const ran = await runBizon(['run', config, '--custom-source', source], { cwd: dir, env: cliEnv() });
    expect(ran.code).toBe(0);
    expect(readFileSync(path.join(dir, 'output', 'my_api_users.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(apis.api.data.users!.length);

    const again = await runBizon(['init', 'source', 'my_api'], { cwd: dir, env: noTemporal() });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists and is not empty');
  });

  it('init source --dir writes the scaffold under that directory, and its config dry-runs from there', async () => {
    const dir = tempDir();
    const created = await runBizon(['init', 'source', 'other_api', '--dir', 'sources', '--api-url', apis.api.url], { cwd: dir, env: noTemporal() });
    expect(created.code).toBe(0);
    expect(readdirSync(path.join(dir, 'sources', 'other_api')).sort()).toEqual(['config.yml', 'source.ts']);
    expect(existsSync(path.join(dir, 'other_api'))).toBe(false);
    const dried = await runBizon(['dry-run', path.join('sources', 'other_api', 'config.yml'), '--custom-source', path.join('sources', 'other_api', 'source.ts')], { cwd: dir, env: noTemporal() });
    expect(dried.stderr).toContain('page 1 · 100 records');
    expect(dried.code).toBe(0);
  });
});
