export { AbstractSource, type SourceClass } from './source.ts';
export { SourceConfig, AuthenticationConfig, ApiConfig } from './config.ts';
export { OAuthAuthenticator, type OAuthParams } from './oauth.ts';
export { AuthBuilder, TokenAuthenticator, BasicAuthenticator, CookiesAuthenticator, type Authenticator, type AuthConfig } from './auth.ts';
export type { Pagination, SourceIncrementalState, SourceIteration, SourceRecord, SourceSlice } from './models.ts';
export { DummySource, DummySourceConfig } from './dummy.ts';
