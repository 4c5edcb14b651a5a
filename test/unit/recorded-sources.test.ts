import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { testSource } from '../../testing.ts';
import { readExampleConfig, ROOT } from '../helpers.ts';

/** The default datasets of the example API, which the recordings were made against. */
let api: ExampleApi;
beforeAll(async () => {
  api = await startExampleApi();
});
afterAll(() => api?.close());

const RECORDED = [
  { example: 'page', stream: 'users', pages: 3 },
  { example: 'cursor', stream: 'orders', pages: 5 },
  { example: 'offset', stream: 'products', pages: 3 },
  { example: 'total-pages', stream: 'users', pages: 9 },
  { example: 'rest-api', stream: 'users', pages: 5 },
];

const sourceFile = (example: string) => path.join(ROOT, 'examples', example, 'source.ts');
const recordings = (example: string) => path.join(ROOT, 'examples', example, 'recordings');
const env = { BIZON_ENV_EXAMPLE_API_TOKEN: 'not-needed-to-replay' };

describe('testSource (bizon-temporal/testing) on the examples, from their recorded responses', () => {
  it.each(RECORDED)('$example: every page and record, no network', async ({ example, stream, pages }) => {
    const result = await testSource({ source: sourceFile(example), config: readExampleConfig(example).source, recordings: recordings(example), env });
    expect(result.pages).toHaveLength(pages);
    expect(result.records.map((record) => record.data)).toEqual(api.data[stream]);
    expect(result.pages.at(-1)!.nextPagination).toBeNull();
    expect(result.paginations).toHaveLength(pages - 1);
  });

  it('carries each page\'s pagination to the next, as a sync does', async () => {
    const result = await testSource({ source: sourceFile('rest-api'), config: readExampleConfig('rest-api').source, recordings: recordings('rest-api'), pages: 3 });
    expect(result.paginations).toEqual([{ cursor: '50' }, { cursor: '100' }]);
    expect(result.pages[2]!.nextPagination).toEqual({ cursor: '150' });
  });

  it('a request nothing was recorded for fails, naming it', async () => {
    const config = { ...readExampleConfig('rest-api').source, page_size: 7 };
    await expect(testSource({ source: sourceFile('rest-api'), config, recordings: recordings('rest-api') })).rejects.toThrow(
      'No recorded response for GET /rest/users?limit=7 (recorded: GET /rest/users?limit=50, GET /rest/users?after=50&limit=50,',
    );
  });

  it('without recordings it reads a live API, and validates its config', async () => {
    const result = await testSource({ source: sourceFile('cursor'), config: { ...readExampleConfig('cursor').source, api_url: `${api.url}/cursor` } });
    expect(result.records).toHaveLength(api.data.orders!.length);
    await expect(testSource({ source: sourceFile('cursor'), config: { ...readExampleConfig('cursor').source, page_sise: 3 } })).rejects.toThrow(
      "source.page_sise: unknown key — did you mean 'page_size'?",
    );
  });
});
