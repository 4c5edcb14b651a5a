export { AbstractSource, type SourceClass } from './source.ts';
export { SourceConfig, AuthenticationConfig, ApiConfig } from './config.ts';
export { OAuthAuthenticator, type OAuthParams } from './oauth.ts';
export { AuthBuilder, TokenAuthenticator, BasicAuthenticator, CookiesAuthenticator, type Authenticator, type AuthConfig } from './auth.ts';
export { isEndOfPagination, type Pagination, type SourceIncrementalState, type SourceIteration, type SourceRecord } from './models.ts';
export { BizonError, ConfigError, DestinationWriteError, HttpError, MalformedIterationError, NetworkError, NonRetryableError, RateLimitError } from './errors.ts';
export { DummySource, DummySourceConfig } from './dummy.ts';
