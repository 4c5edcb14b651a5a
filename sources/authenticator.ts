import type { InternalAxiosRequestConfig } from 'axios';

/**
 * Adds credentials to each request of `this.session`. `apply` may be async
 * (to fetch a token or sign the request) and returns the request config.
 */
export interface Authenticator {
  apply(request: InternalAxiosRequestConfig): InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig>;
}
