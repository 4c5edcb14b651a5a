import { createHash } from 'node:crypto';
import axios, { type InternalAxiosRequestConfig } from 'axios';
import type { Authenticator } from './authenticator.ts';
import { ConfigError, HttpError, isRetryableStatus, NonRetryableError } from '../errors.ts';
import { toSourceHttpError } from './session.ts';

/** Settings of the `oauth` authenticator (`authentication.params`). */
export interface OAuthParams {
  token_url: string;
  client_id: string;
  client_secret: string;
  /** `refresh_token` (default when a refresh token is given) or `client_credentials`. */
  grant_type?: 'refresh_token' | 'client_credentials';
  refresh_token?: string;
  scope?: string;
  audience?: string;
}

interface CachedToken {
  accessToken: string;
  /** Epoch ms after which the token is not used any more (refreshed a little before it expires). */
  refreshAt: number;
  /** A rotated refresh token, when the endpoint returns one. */
  refreshToken: string | undefined;
}

/** Tokens shared by every source instance of this worker process, even across copies of this module. */
const CACHE_KEY = Symbol.for('bizon-temporal.oauth.tokens');
const tokenCache: Map<string, CachedToken> = ((globalThis as Record<symbol, unknown>)[CACHE_KEY] ??= new Map()) as Map<string, CachedToken>;
const DEFAULT_LIFETIME_S = 3600;
const TOKEN_TIMEOUT_MS = 30_000;

/**
 * OAuth 2 bearer tokens from a token endpoint, with the refresh-token or the
 * client-credentials grant. A token is cached per worker and replaced before
 * it expires. The endpoint's 429 and 5xx are retried by Temporal like any
 * page; its 4xx (bad client, revoked refresh token) fail the sync at once
 * with the endpoint's own message.
 */
export class OAuthAuthenticator implements Authenticator {
  private readonly grant: 'refresh_token' | 'client_credentials';
  private readonly cacheKey: string;
  private pending: Promise<string> | undefined;

  constructor(private readonly params: OAuthParams) {
    for (const key of ['token_url', 'client_id', 'client_secret'] as const) {
      if (typeof params[key] !== 'string' || params[key] === '') throw new ConfigError(`authentication.params.${key} is required for authentication type 'oauth'`);
    }
    this.grant = params.grant_type ?? (params.refresh_token ? 'refresh_token' : 'client_credentials');
    if (this.grant === 'refresh_token' && !params.refresh_token) {
      throw new ConfigError("authentication.params.refresh_token is required with grant_type 'refresh_token'");
    }
    // Every input of the grant: two pipelines with the same client id but another secret, scope or audience
    // never share a token. Hashed, so the cache holds no credential in its keys.
    const inputs = [params.token_url, params.client_id, params.client_secret, this.grant, params.refresh_token ?? '', params.scope ?? '', params.audience ?? ''];
    this.cacheKey = createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
  }

  async apply(request: InternalAxiosRequestConfig): Promise<InternalAxiosRequestConfig> {
    request.headers.set('Authorization', `Bearer ${await this.accessToken()}`);
    return request;
  }

  /** A token valid now: the cached one, or a new one (one request at a time). */
  async accessToken(): Promise<string> {
    const cached = tokenCache.get(this.cacheKey);
    if (cached && Date.now() < cached.refreshAt) return cached.accessToken;
    this.pending ??= this.fetchToken(cached?.refreshToken).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetchToken(rotatedRefreshToken: string | undefined): Promise<string> {
    const form = new URLSearchParams({ grant_type: this.grant, client_id: this.params.client_id, client_secret: this.params.client_secret });
    if (this.grant === 'refresh_token') form.set('refresh_token', rotatedRefreshToken ?? this.params.refresh_token!);
    if (this.params.scope) form.set('scope', this.params.scope);
    if (this.params.audience) form.set('audience', this.params.audience);
    const requestedAt = Date.now();
    let data: Record<string, unknown>;
    try {
      ({ data } = await axios.post(this.params.token_url, form, {
        timeout: TOKEN_TIMEOUT_MS,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      }));
    } catch (error) {
      const mapped = toSourceHttpError(error);
      if (mapped instanceof HttpError && !isRetryableStatus(mapped.status)) {
        throw new NonRetryableError(`OAuth token endpoint refused the ${this.grant} grant: ${mapped.message}`, { cause: mapped });
      }
      throw mapped;
    }
    const accessToken = data?.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw new NonRetryableError(`OAuth token endpoint ${this.params.token_url} answered without an access_token`);
    }
    const lifetimeMs = (typeof data.expires_in === 'number' && data.expires_in > 0 ? data.expires_in : DEFAULT_LIFETIME_S) * 1000;
    // Replace it before it expires: a fifth of its lifetime early, at most a minute.
    const margin = Math.min(60_000, lifetimeMs / 5);
    tokenCache.set(this.cacheKey, {
      accessToken,
      refreshAt: requestedAt + lifetimeMs - margin,
      refreshToken: typeof data.refresh_token === 'string' ? data.refresh_token : rotatedRefreshToken,
    });
    return accessToken;
  }
}
