import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parsePipelineConfig, parseWithSchema } from '../../config/pipeline.ts';
import { planSync, resolvePipeline } from '../../config/resolve.ts';
import { checkSecretReferences, findLiteralCredentials, findLiteralPipelineCredentials, findSecretReferences, resolveSecretReferences } from '../../config/secrets.ts';
import { ConfigError } from '../../errors.ts';
import { syncConfigDifferences } from '../../config/diff.ts';
import { SourceConfig } from '../../sources/config.ts';

const base = { name: 'p', source: { name: 's', stream: 'users' }, destination: { name: 'logger' } };

function errorOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('pipeline config', () => {
  it('fills every engine default', () => {
    const config = parsePipelineConfig(base);
    expect(config.engine).toEqual({
      temporal: { task_queue: 'bizon' },
      retry: { initial_interval: '1s', backoff_coefficient: 2, maximum_interval: '5m' },
      continue_as_new_every: 250,
      checkpoint_every: 10,
      pages_per_activity: 1,
      page_activity: 'regular',
      activity_time_budget: '5s',
      max_parallel_streams: 4,
      max_parallel_slices: 4,
      publish: 'auto',
      page_timeout: '10m',
      heartbeat_timeout: '10s',
    });
    expect(config.destination.config).toEqual({});
  });

  it('names nested unknown keys with the closest known key', () => {
    const message = errorOf(() => parsePipelineConfig({ ...base, engine: { retry: { initial_intervl: '2s' } } }));
    expect(message).toContain("engine.retry.initial_intervl: unknown key — did you mean 'initial_interval'?");
  });

  it('lists the known keys when nothing is close', () => {
    const message = errorOf(() => parsePipelineConfig({ ...base, engine: { zzz: 1 } }));
    expect(message).toContain('engine.zzz: unknown key (known keys: temporal, retry, continue_as_new_every, checkpoint_every, pages_per_activity, page_activity, activity_time_budget, max_parallel_streams, max_parallel_slices, publish, page_timeout, heartbeat_timeout)');
  });

  it('rejects a bad duration, and an unknown destination naming the close one', () => {
    expect(errorOf(() => parsePipelineConfig({ ...base, engine: { page_timeout: 'soon' } }))).toContain('engine.page_timeout:');
    const dummy = { ...base, source: { name: 'dummy', stream: 'plants' } };
    expect(errorOf(() => resolvePipeline(parsePipelineConfig({ ...dummy, destination: { name: 'bigquery' } }), []))).toBe(
      "Unknown destination 'bigquery'. Destinations: logger, file, postgres, duckdb, parquet. A destination of your own is exported with defineDestination() from a file given with --custom-source (docs/destinations.md).",
    );
    expect(errorOf(() => resolvePipeline(parsePipelineConfig({ ...dummy, destination: { name: 'postgre' } }), []))).toContain("Unknown destination 'postgre'. Did you mean 'postgres'?");
  });

  it("refuses a destination id that is one of bizon's bookkeeping tables", () => {
    const dummy = { ...base, source: { name: 'dummy', stream: 'plants' } };
    for (const config of [{ path: 'x.duckdb', table: '_bizon_published' }, { path: 'x.duckdb', destination_id: '_Bizon_staging' }]) {
      expect(errorOf(() => resolvePipeline(parsePipelineConfig({ ...dummy, destination: { name: 'duckdb', config } }), []))).toMatch(
        /^destination\.config: the destination id '(_bizon_published|_Bizon_staging)' is reserved: names starting with _bizon are bizon's own bookkeeping tables/,
      );
    }
  });

  it('source configs: sync_mode stream is refused with a clear message', () => {
    const message = errorOf(() => parseWithSchema(SourceConfig, { name: 's', stream: 'x', sync_mode: 'stream' }, 'source config', ['source']));
    expect(message).toContain("source.sync_mode: sync_mode 'stream' is not supported by bizon-temporal; use full_refresh or incremental");
  });

  it('an extended source config stays strict', () => {
    const Extended = SourceConfig.extend({ page_size: z.number() });
    const message = errorOf(() => parseWithSchema(Extended, { name: 's', stream: 'x', page_size: 1, pagesize: 2 }, 'source config', ['source']));
    expect(message).toContain("source.pagesize: unknown key — did you mean 'page_size'?");
  });
});

describe('secret references', () => {
  const config = { authentication: { params: { token: 'BIZON_ENV_TOKEN', url: 'https://${env://HOST}/v1?key=${env://KEY}' } }, page_size: 3 };

  it('finds whole-value and inline references with their paths', () => {
    expect(findSecretReferences(config, 'source')).toEqual([
      { variable: 'BIZON_ENV_TOKEN', path: 'source.authentication.params.token' },
      { variable: 'HOST', path: 'source.authentication.params.url' },
      { variable: 'KEY', path: 'source.authentication.params.url' },
    ]);
  });

  it('names every missing variable', () => {
    expect(errorOf(() => checkSecretReferences(config, { HOST: 'h' }, 'source', ['HOST', 'KEY']))).toBe(
      'Missing environment variables: BIZON_ENV_TOKEN (used by source.authentication.params.token), KEY (used by source.authentication.params.url). Export them where the worker runs.',
    );
  });

  it('resolves values without touching the original', () => {
    const resolved = resolveSecretReferences(config, { BIZON_ENV_TOKEN: 't0k', HOST: 'api.example.com', KEY: 'k3y', BIZON_ALLOW_ENV: 'HOST, KEY' });
    expect(resolved).toEqual({ authentication: { params: { token: 't0k', url: 'https://api.example.com/v1?key=k3y' } }, page_size: 3 });
    expect(config.authentication.params.token).toBe('BIZON_ENV_TOKEN');
  });

  it('reads BIZON_ENV_ variables, and others only when allowed by name or prefix', () => {
    const env = { BIZON_ENV_TOKEN: 't0k', HOST: 'api.example.com', KEY: 'k3y' };
    expect(errorOf(() => resolveSecretReferences(config, env, 'source'))).toMatch(
      /^Not allowed to read HOST \(used by source\.authentication\.params\.url\), KEY \(used by source\.authentication\.params\.url\): .* --allow-env HOST /,
    );
    expect(errorOf(() => resolveSecretReferences(config, env, 'source', ['HOST']))).toMatch(/^Not allowed to read KEY \(/);
    expect(resolveSecretReferences(config, env, 'source', ['HOST', 'K*']).authentication.params.url).toBe('https://api.example.com/v1?key=k3y');
    expect(resolveSecretReferences(config, { ...env, BIZON_ALLOW_ENV: 'HOST,KEY' }, 'source').authentication.params.url).toBe('https://api.example.com/v1?key=k3y');
  });
});

describe('literal credentials', () => {
  it('finds them in credential-named rest headers and params, an alerting webhook and fields a source marks secret; references and other values pass', () => {
    const pipeline = {
      source: {
        name: 'rest',
        stream: 'users',
        headers: { Accept: 'application/json', 'X-Api-Key': 'k-123', Authorization: 'BIZON_ENV_AUTH' },
        params: { limit: '50', access_token: 'tok', api_key: 'pre-${env://KEY}' },
        endpoints: { users: { path: '/users', params: { client_secret: 'cs' } } },
      },
      destination: { config: {} },
      alerting: { config: { webhook_url: 'https://hooks.example.com/T0/B0/x' } },
    };
    expect(findLiteralPipelineCredentials(pipeline)).toEqual(['alerting.config.webhook_url', 'source.headers.X-Api-Key', 'source.params.access_token', 'source.endpoints.users.params.client_secret']);
    const schema = z.object({ name: z.string(), signing_key: z.string().meta({ secret: true }), region: z.string() });
    expect(findLiteralPipelineCredentials({ source: { name: 'mine', signing_key: 'raw', region: 'eu' }, destination: { config: {} } }, schema)).toEqual(['source.signing_key']);
    expect(findLiteralPipelineCredentials({ source: { name: 'mine', signing_key: 'BIZON_ENV_SIGNING', region: 'eu' }, destination: { config: {} } }, schema)).toEqual([]);
  });

  it('flags credentials written in authentication.params, not references or non-secret settings', () => {
    const source = {
      name: 's',
      authentication: {
        type: 'oauth',
        params: {
          token_url: 'https://auth.example.com/token',
          client_id: 'my-app',
          client_secret: 'hunter2',
          refresh_token: 'BIZON_ENV_REFRESH',
          password: 'pre-${env://SUFFIX}',
          cookies: { session: 'abc' },
        },
      },
    };
    expect(findLiteralCredentials(source)).toEqual(['source.authentication.params.client_secret', 'source.authentication.params.cookies.session']);
  });
});

describe('the plan of a batched sync', () => {
  const plan = (engine: Record<string, unknown>) =>
    planSync(resolvePipeline(parsePipelineConfig({ name: 'p', source: { name: 'dummy', stream: 'creatures' }, destination: { name: 'logger' }, engine }), []));

  it('one page per activity keeps page_timeout as the activity timeout', () => {
    expect(plan({})).toMatchObject({ pagesPerActivity: 1, pageTimeout: '10m' });
  });

  it('a batch may take its time budget plus one page_timeout (the last page starts just before the budget ends)', () => {
    expect(plan({ pages_per_activity: 50, activity_time_budget: '5s', page_timeout: '1m' })).toMatchObject({ pagesPerActivity: 50, activityTimeBudgetMs: 5000, pageTimeout: 65_000 });
  });
});

describe('what makes a running sync another one', () => {
  it('a changed page size does; how the sync reaches Temporal (namespace, key, TLS, task queue) does not', () => {
    const running = parsePipelineConfig({ name: 'p', source: { name: 'dummy', stream: 'plants' }, destination: { name: 'logger' }, engine: { temporal: { namespace: 'default' } } });
    const requested = parsePipelineConfig({
      name: 'p',
      source: { name: 'dummy', stream: 'plants', page_size: 7 },
      destination: { name: 'logger' },
      engine: { temporal: { api_key: 'BIZON_ENV_KEY', tls: { server_name: 'x' }, task_queue: 'other' } },
    });
    expect(syncConfigDifferences(running, requested)).toEqual(['source.page_size']);
  });
});
