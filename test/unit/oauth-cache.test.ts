import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApi, type ExampleApi } from '../../examples/api/server.ts';
import { OAuthAuthenticator } from '../../sources/oauth.ts';

// Tokens are cached per worker process: one pipeline's token must never serve another pipeline whose grant differs.
let api: ExampleApi;
beforeAll(async () => {
  api = await startExampleApi({ oauth: { clientId: 'shared-client', clientSecret: 'right-secret', lifetimeSeconds: 3600 } });
});
afterAll(async () => api?.close());

const params = (overrides: Record<string, string>) => ({ token_url: `${api.url}/oauth/token`, client_id: 'shared-client', client_secret: 'right-secret', grant_type: 'client_credentials' as const, ...overrides });
const tokenRequests = () => api.requests.filter((request) => request.path === '/oauth/token').length;

describe('the OAuth token cache', () => {
  it('is keyed on every input of the grant: the same client id with another secret does not get the cached token', async () => {
    const right = await new OAuthAuthenticator(params({})).accessToken();
    expect(right).toBeTruthy();
    const before = tokenRequests();
    // Same client id, another secret: asks the endpoint itself, which refuses it.
    await expect(new OAuthAuthenticator(params({ client_secret: 'stolen-guess' })).accessToken()).rejects.toThrow(/refused the client_credentials grant: HTTP 400/);
    expect(tokenRequests()).toBe(before + 1);
    // Another scope or audience is another grant too; the same inputs share the token (one request for both).
    const scoped = new OAuthAuthenticator(params({ scope: 'read' }));
    expect(await scoped.accessToken()).not.toBe(right);
    expect(await new OAuthAuthenticator(params({ audience: 'other-api' })).accessToken()).not.toBe(right);
    const requests = tokenRequests();
    expect(await new OAuthAuthenticator(params({})).accessToken()).toBe(right);
    expect(tokenRequests()).toBe(requests);
  });
});
