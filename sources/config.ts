import { z } from 'zod';

/** The `authentication` block: `type` picks an authenticator of `AuthBuilder`, `params` are its settings. */
export const AuthenticationConfig = z
  .strictObject({
    type: z.string().describe('api_key | bearer | basic | oauth | cookies'),
    params: z.record(z.string(), z.unknown()).default({}).describe('Settings of the authenticator (token, username, ...)'),
  })
  .describe('How the session authenticates');
export type AuthenticationConfig = z.infer<typeof AuthenticationConfig>;

/** Settings of the calls to the API. */
export const ApiConfig = z
  .strictObject({
    retry_limit: z.number().int().min(1).default(10).describe('Maximum attempts of one page before the sync fails'),
    request_timeout: z.number().positive().default(30).describe('Timeout of one HTTP request of this.session, in seconds'),
    max_response_mb: z.number().positive().default(100).describe('Largest response (and request body) of this.session, in MB: a larger one fails the page at once'),
    allowed_hosts: z
      .array(z.string().min(1))
      .optional()
      .describe("Origins (https://eu.api.example.com) or hosts besides the API's own (the first request's, or the rest source's base_url) that may get the source's credentials and, for the rest source, its next-page requests"),
    requests_per_second: z
      .number()
      .positive()
      .optional()
      .describe("Cap on get() calls per second for this source name, across all workers (a rate-limited Temporal task queue)"),
  })
  .describe('Settings of the calls to the API');
export type ApiConfig = z.infer<typeof ApiConfig>;

/**
 * The base of every source's config (the `source:` block of the pipeline).
 * Extend it with the source's own fields: `SourceConfig.extend({ api_url: z.string() })`.
 * Unknown keys are rejected.
 */
export const SourceConfig = z.strictObject({
  name: z.string().min(1).describe('Source identifier'),
  stream: z.string().min(1).describe('Stream to sync'),
  sync_mode: z
    .enum(['full_refresh', 'incremental', 'stream'])
    .default('full_refresh')
    .refine((mode) => mode !== 'stream', {
      message: "sync_mode 'stream' is not supported by bizon-temporal; use full_refresh or incremental",
    })
    .describe('full_refresh (default) reads everything; incremental reads what changed since the last successful sync'),
  cursor_field: z.string().optional().describe('Field of a record holding its change time (incremental syncs)'),
  authentication: AuthenticationConfig.optional(),
  force_ignore_checkpoint: z
    .boolean()
    .default(false)
    .describe("Start from the first page even if the last sync failed and left a checkpoint (its staged output is discarded)"),
  reset: z.boolean().default(false).describe('Re-read the whole stream, replace the destination, and make this run the new watermark'),
  max_iterations: z.number().int().positive().optional().describe('Stop after this many pages (unset = until the source is exhausted)'),
  api_config: ApiConfig.default({ retry_limit: 10, request_timeout: 30, max_response_mb: 100 }),
});
export type SourceConfig = z.infer<typeof SourceConfig>;
