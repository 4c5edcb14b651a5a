import type { InternalAxiosRequestConfig } from 'axios';
import { ConfigError } from '../errors.ts';
import { OAuthAuthenticator, type OAuthParams } from './oauth.ts';
import type { Authenticator } from './authenticator.ts';
import { restHook } from './rest-hooks.ts';

export type { Authenticator } from './authenticator.ts';

/** The `authentication` block of a source config. */
export interface AuthConfig {
  type: string;
  params: Record<string, unknown>;
}

/** Sends a token in a header: `<auth_header>: <auth_method> <token>` (`Authorization: Bearer <token>` by default). */
export class TokenAuthenticator implements Authenticator {
  constructor(
    private readonly token: string,
    private readonly authMethod = 'Bearer',
    private readonly authHeader = 'Authorization',
  ) {}

  apply(request: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
    request.headers.set(this.authHeader, this.authMethod ? `${this.authMethod} ${this.token}` : this.token);
    return request;
  }
}

/** HTTP basic authentication. */
export class BasicAuthenticator implements Authenticator {
  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  apply(request: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
    const encoded = Buffer.from(`${this.username}:${this.password}`).toString('base64');
    request.headers.set('Authorization', `Basic ${encoded}`);
    return request;
  }
}

/** Sends fixed cookies with every request. */
export class CookiesAuthenticator implements Authenticator {
  constructor(private readonly cookies: Record<string, string>) {}

  apply(request: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
    const header = Object.entries(this.cookies)
      .map(([key, value]) => `${key}=${value}`)
      .join('; ');
    request.headers.set('Cookie', header);
    return request;
  }
}

function requireString(params: Record<string, unknown>, key: string, type: string): string {
  const value = params[key];
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError(`authentication.params.${key} is required for authentication type '${type}' (a string)`);
  }
  return value;
}

function optionalString(params: Record<string, unknown>, key: string): string | undefined {
  const value = params[key];
  return typeof value === 'string' ? value : undefined;
}

/** Builds the built-in authenticators from a source's `authentication` config. */
export const AuthBuilder = {
  /**
   * `api_key` / `bearer`: `params.token`, optional `auth_method` (default `Bearer`,
   * `''` for the bare token) and `auth_header` (default `Authorization`).
   * `basic`: `params.username`, `params.password`. `cookies`: `params.cookies`, a map.
   * `oauth`: `params.token_url`, `client_id`, `client_secret`, and `refresh_token` (refresh-token grant)
   * or `grant_type: client_credentials`; optional `scope`, `audience`. `custom`: `params.function`, an
   * authenticator exported with `defineAuthenticator()` from a `--custom-source` file, given the params.
   */
  fromConfig(config: AuthConfig): Authenticator {
    const params = config.params ?? {};
    switch (config.type) {
      case 'api_key':
      case 'bearer':
        return new TokenAuthenticator(
          requireString(params, 'token', config.type),
          optionalString(params, 'auth_method') ?? 'Bearer',
          optionalString(params, 'auth_header') ?? 'Authorization',
        );
      case 'basic':
        return new BasicAuthenticator(requireString(params, 'username', 'basic'), requireString(params, 'password', 'basic'));
      case 'cookies': {
        const cookies = params.cookies;
        if (!cookies || typeof cookies !== 'object') {
          throw new ConfigError("authentication.params.cookies is required for authentication type 'cookies' (a map of name: value)");
        }
        return new CookiesAuthenticator(Object.fromEntries(Object.entries(cookies).map(([k, v]) => [k, String(v)])));
      }
      case 'oauth':
        return new OAuthAuthenticator(params as unknown as OAuthParams);
      case 'custom': {
        const hook = restHook('bizon-rest-authenticator', requireString(params, 'function', 'custom'));
        return { apply: (request) => hook.apply(request, params) };
      }
      default:
        throw new ConfigError(
          `Unknown authentication type '${config.type}'. Use one of: api_key, bearer, basic, oauth, cookies, custom (a function of yours: defineAuthenticator()) — or return your own Authenticator from getAuthenticator().`,
        );
    }
  },
};
