import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadCustomCode } from '../../config/custom-code.ts';
import { pipelineJsonSchema } from '../../config/json-schema.ts';
import { EXAMPLE_CASES, exampleSource } from '../examples.ts';
import { ROOT, runBizon, tempDir } from '../helpers.ts';

const example = (...parts: string[]) => path.join(ROOT, 'examples', ...parts);
const yamlOf = (file: string) => parse(readFileSync(file, 'utf8')) as Record<string, any>;

/** Every example config, with the files its sources and destinations come from. */
const CONFIGS = [
  ...EXAMPLE_CASES.map((item) => ({ config: example(item.example, 'config.yml'), files: [exampleSource(item)] })),
  { config: example('rest-api', 'all-streams.yml'), files: [exampleSource({ example: 'rest-api' })] },
  { config: example('quickstart', 'config.yml'), files: [] },
  { config: example('quickstart', 'duckdb.yml'), files: [] },
  { config: example('declarative', 'config.yml'), files: [] },
  { config: example('custom-destination', 'config.yml'), files: [exampleSource({ example: 'rest-api' }), example('custom-destination', 'destination.ts')] },
];

async function validatorFor(files: string[]) {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  return ajv.compile(pipelineJsonSchema(await loadCustomCode(files)));
}

describe('the JSON Schema of pipeline files (bizon schema)', () => {
  it.each(CONFIGS)('accepts $config', async ({ config, files }) => {
    const validate = await validatorFor(files);
    expect(validate(yamlOf(config)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('rejects a misspelt key, an unknown stream and an unknown destination, and describes the keys', async () => {
    const validate = await validatorFor([exampleSource({ example: 'rest-api' })]);
    const config = yamlOf(example('rest-api', 'config.yml'));
    expect(validate({ ...config, source: { ...config.source, page_sise: 10 } })).toBe(false);
    expect(validate({ ...config, source: { ...config.source, stream: 'invoices' } })).toBe(false);
    expect(validate({ ...config, destination: { name: 'bigquery', config: {} } })).toBe(false);
    expect(validate({ ...config, destination: { name: 'postgres', config: { connection_string: 'BIZON_ENV_PG_URL', write_mode: 'upsert' } } })).toBe(false);
    expect(validate({ ...config, engine: { pages_per_activty: 5 } })).toBe(false);
    const schema = JSON.stringify(pipelineJsonSchema(await loadCustomCode([exampleSource({ example: 'rest-api' })])));
    expect(schema).toContain('"description":"Records per page"');
    expect(schema).toContain('"description":"Typed columns per destination id, used with unnest: true (an id without an entry gets a column per record field, its type from the values)"');
    expect(schema).toContain('"data_type":{"description":"A value its column');
  });

  it('covers the declarative source: a dependent stream with its keys passes, a misspelt one fails', async () => {
    const validate = await validatorFor([]);
    const comments = { parent: 'posts', parents: 'changed', path: '/posts/{{ parent.id }}/comments', parent_fields: { post_title: 'title' }, parent_concurrency: 3, write_parent: 'posts', incremental: { cursor_field: 'at', param: 'since' } };
    const config = (endpoint: Record<string, unknown>) => ({
      name: 'deps',
      source: { name: 'rest', stream: 'comments', base_url: 'https://api.example.com', endpoints: { posts: { path: '/posts', incremental: { cursor_field: 'at', param: 'since' } }, comments: endpoint } },
      destination: { name: 'logger', config: {} },
    });
    expect(validate(config(comments)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(config({ ...comments, parent_field: ['title'] }))).toBe(false);
    expect(validate(config({ ...comments, parents: 'some' }))).toBe(false);
  });

  it('bizon schema --output writes the file an editor points at', async () => {
    const file = path.join(tempDir(), 'bizon.schema.json');
    const result = await runBizon(['schema', '--custom-source', exampleSource({ example: 'page' }), '--output', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`put "# yaml-language-server: $schema=${file}" as the first line of a pipeline file`);
    const validate = new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(file, 'utf8')));
    expect(validate(yamlOf(example('page', 'config.yml')))).toBe(true);
  });
});
