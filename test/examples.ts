import path from 'node:path';
import { startExampleApi, type ExampleApi } from '../examples/api/server.ts';
import { cliEnv, readExampleConfig, ROOT, unique, writeConfig } from './helpers.ts';

const TOKEN = 'example-token-0f3a';
const SECRET = 'example-secret-77c1';

/** The example APIs the examples' configs are pointed at: the page example authenticates with a token, as in the seed. */
export interface ExampleApis {
  api: ExampleApi;
  tokenApi: ExampleApi;
  close(): Promise<void>;
}

export async function startExampleApis(): Promise<ExampleApis> {
  const api = await startExampleApi({ signing: { apiKey: 'example-key', apiSecret: SECRET } });
  const tokenApi = await startExampleApi({ token: TOKEN });
  return { api, tokenApi, close: async () => void (await Promise.all([api.close(), tokenApi.close()])) };
}

/** Every example with a source of its own: where its config puts the API URL, the stream, and its outputs. */
export const EXAMPLE_CASES: Array<{ example: string; key: string; urlPath: string; stream: string; outputs: string[]; sourceFrom?: string }> = [
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

/** Points an example's config at the test API, a temp output directory and a task queue of its own; returns its path. */
export function adaptExample(apis: ExampleApis, { example, key, urlPath }: { example: string; key: string; urlPath: string }, dir: string): string {
  const config = readExampleConfig(example);
  config.name = unique(config.name);
  config.source[key] = `${example === 'page' ? apis.tokenApi.url : apis.api.url}${urlPath}`;
  config.destination.config.directory = path.join(dir, 'output');
  config.engine = { ...config.engine, temporal: { task_queue: unique('examples') } };
  return writeConfig(dir, config);
}

/** The source file of an example. */
export function exampleSource({ example, sourceFrom }: { example: string; sourceFrom?: string | undefined }): string {
  return path.join(ROOT, 'examples', sourceFrom ?? example, 'source.ts');
}

/** The CLI environment with the examples' secrets. */
export function exampleEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return cliEnv({ BIZON_ENV_EXAMPLE_API_TOKEN: TOKEN, BIZON_ENV_EXAMPLE_API_SECRET: SECRET, ...extra });
}

export const EXAMPLE_API_TOKEN = TOKEN;
