import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { boundHosts, checkSecretHosts, isAllowedVariable, sourceHostBinding } from '../../config/secrets.ts';
import { bindSessionHosts } from '../../activities/host-binding.ts';
import { createSession } from '../../sources/session.ts';

const ENV = { BIZON_ENV_STRIPE_KEY: 'sk_live_x', BIZON_ENV_PG_PASSWORD: 'pw' };
const BOUND = ['BIZON_ENV_STRIPE_*=api.stripe.com', 'BIZON_ENV_STRIPE_*=files.stripe.com', 'BIZON_ENV_PG_PASSWORD=db.internal:5432'];

describe("secrets bound to hosts (--allow-env 'NAME=host')", () => {
  it('a binding allows the variable and lists its hosts; an unbound variable may go anywhere', () => {
    expect(isAllowedVariable('APP_TOKEN', {}, ['APP_TOKEN=api.example.com'])).toBe(true);
    expect(boundHosts('BIZON_ENV_STRIPE_KEY', {}, BOUND)).toEqual(['api.stripe.com', 'files.stripe.com']);
    expect(boundHosts('BIZON_ENV_OTHER', {}, BOUND)).toBeNull();
    expect(boundHosts('BIZON_ENV_STRIPE_KEY', { BIZON_ALLOW_ENV: 'BIZON_ENV_STRIPE_KEY=https://api.stripe.com' })).toEqual(['https://api.stripe.com']);
  });

  it('a pipeline sending a bound secret to its own host passes; to another host, by any URL of the block, fails naming reference, host and flag', () => {
    const source = (url: string, extra: Record<string, unknown> = {}) => ({
      source: { name: 'rest', stream: 'charges', base_url: url, authentication: { type: 'bearer', params: { token: 'BIZON_ENV_STRIPE_KEY' } }, ...extra },
      destination: { name: 'file', config: { directory: '/tmp/x' } },
    });
    expect(() => checkSecretHosts(source('https://api.stripe.com/v1'), ENV, BOUND)).not.toThrow();
    expect(() => checkSecretHosts(source('https://evil.example/v1'), ENV, BOUND)).toThrow(
      "BIZON_ENV_STRIPE_KEY (used by source.authentication.params.token) may be sent only to api.stripe.com, files.stripe.com — the worker's operator bound it there (--allow-env 'BIZON_ENV_STRIPE_KEY=…') — but source.base_url would send it to evil.example. Point the pipeline at an allowed host, or have the operator start the worker with --allow-env 'BIZON_ENV_STRIPE_KEY=evil.example'",
    );
    expect(() => checkSecretHosts(source('https://api.stripe.com', { api_config: { allowed_hosts: ['cdn.evil.example'] } }), ENV, BOUND)).toThrow(/source\.api_config\.allowed_hosts\[0\] would send it to cdn\.evil\.example/);
    expect(() => checkSecretHosts(source('https://api.stripe.com', { authentication: { type: 'oauth', params: { token_url: 'https://evil.example/token', client_secret: 'BIZON_ENV_STRIPE_KEY' } } }), ENV, BOUND)).toThrow(
      /source\.authentication\.params\.token_url would send it to evil\.example/,
    );
  });

  it("a bound destination password goes only to the bound database host", () => {
    const pipeline = (host: string) => ({ source: { name: 'dummy', stream: 'plants' }, destination: { name: 'postgres', config: { host, port: 5432, password: 'BIZON_ENV_PG_PASSWORD' } } });
    expect(() => checkSecretHosts(pipeline('db.internal'), ENV, BOUND)).not.toThrow();
    expect(() => checkSecretHosts(pipeline('collector.evil.example'), ENV, BOUND)).toThrow(/destination\.config\.host would send it to collector\.evil\.example/);
  });

  it("the session of a source reading a bound secret refuses, before sending, a URL its code builds for another host", async () => {
    const received: string[] = [];
    const server = createServer((request, response) => {
      received.push(request.url ?? '');
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const home = `127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const binding = sourceHostBinding({ source: { authentication: { params: { token: 'BIZON_ENV_STRIPE_KEY' } } }, destination: { name: 'logger' } }, ENV, [`BIZON_ENV_STRIPE_KEY=${home}`]);
      expect(binding).toEqual({ variable: 'BIZON_ENV_STRIPE_KEY', hosts: [home] });
      const session = createSession({ timeoutMs: 5000 });
      bindSessionHosts(session, binding!);
      await session.get(`http://${home}/ok`);
      const elsewhere = `localhost:${home.split(':')[1]}`;
      await expect(session.get(`http://${elsewhere}/stolen`)).rejects.toThrow(`Refused a request to ${elsewhere}: this source reads BIZON_ENV_STRIPE_KEY, which the worker's operator bound to ${home}`);
      expect(received).toEqual(['/ok']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
