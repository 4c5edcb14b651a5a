// Error handling: say what went wrong, and whether retrying can help.
// Errors from this.session are mapped for you (429 -> rate limit, 5xx/network -> retried, other 4xx -> fail fast);
// this source adds its own messages on top.
import { z } from 'zod';
import {
  AbstractSource,
  HttpError,
  NetworkError,
  NonRetryableError,
  RateLimitError,
  SourceConfig,
  type Pagination,
  type SourceIteration,
} from 'bizon-temporal';

export const CarefulSourceConfig = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
  timeout: z.number().positive().default(30).describe('Request timeout in seconds'),
});
export type CarefulSourceConfig = z.infer<typeof CarefulSourceConfig>;

export class CarefulSource extends AbstractSource<CarefulSourceConfig> {
  static override streams(): string[] {
    return ['users', 'orders'];
  }

  static override getConfigClass() {
    return CarefulSourceConfig;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    const response = await this.session.get(`${this.config.api_url}/health`);
    return [response.status < 400, null];
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const page = Number(pagination?.page ?? 1);
    let data: { items: Array<{ id: number }> };
    try {
      ({ data } = await this.session.get(`${this.config.api_url}/${this.config.stream}`, {
        params: { page, limit: this.config.page_size },
        timeout: this.config.timeout * 1000,
      }));
    } catch (error) {
      if (error instanceof RateLimitError) {
        // Rate limited - Temporal retries the page after Retry-After.
        throw new RateLimitError(`Rate limited on page ${page}, will retry`, { retryAfterMs: error.retryAfterMs, cause: error });
      }
      if (error instanceof NetworkError) throw new Error(`Request timed out or failed after ${this.config.timeout}s: ${error.message}`, { cause: error });
      if (error instanceof HttpError && !error.retryable) {
        throw new NonRetryableError(`API error on page ${page} (status ${error.status}): ${error.bodyExcerpt}`, { cause: error });
      }
      throw new Error(`Failed to fetch page ${page}: ${(error as Error).message}`, { cause: error });
    }
    const records = data.items.map((item) => ({ id: String(item.id), data: item }));
    return { records, nextPagination: records.length === this.config.page_size ? { page: page + 1 } : {} };
  }
}
