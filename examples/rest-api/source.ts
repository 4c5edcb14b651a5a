// The seed's full REST API source: cursor pagination, total count, timestamps, incremental reads.
import { z } from 'zod';
import {
  AbstractSource,
  AuthBuilder,
  SourceConfig,
  type Authenticator,
  type Pagination,
  type SourceIncrementalState,
  type SourceIteration,
  type SourceRecord,
} from 'bizon-temporal';

export const RestApiSourceConfig = SourceConfig.extend({
  base_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
  timeout: z.number().positive().default(30).describe('Request timeout in seconds'),
});
export type RestApiSourceConfig = z.infer<typeof RestApiSourceConfig>;

interface ApiPage {
  data?: Array<{ id: number; updated_at?: string }>;
  pagination?: { next_cursor?: string | null };
}

/** Generic REST API source connector. */
export class RestApiSource extends AbstractSource<RestApiSourceConfig> {
  static override streams(): string[] {
    return ['users', 'orders', 'products'];
  }

  static override getConfigClass() {
    return RestApiSourceConfig;
  }

  override getAuthenticator(): Authenticator | undefined {
    return this.config.authentication ? AuthBuilder.fromConfig(this.config.authentication) : undefined;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    try {
      const response = await this.session.get(`${this.config.base_url}/health`, { timeout: this.config.timeout * 1000 });
      return [response.status < 400, null];
    } catch (error) {
      return [false, String(error)];
    }
  }

  override async getTotalRecordsCount(): Promise<number | null> {
    try {
      const { data } = await this.session.get(`${this.config.base_url}/${this.config.stream}/count`);
      return typeof data.total === 'number' ? data.total : null;
    } catch {
      return null;
    }
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    return this.fetchPage(pagination, {});
  }

  override async getRecordsAfter(state: SourceIncrementalState, pagination?: Pagination): Promise<SourceIteration> {
    return this.fetchPage(pagination, { updated_since: state.lastRun.toISOString() });
  }

  private async fetchPage(pagination: Pagination | undefined, filters: Record<string, string>): Promise<SourceIteration> {
    const cursor = pagination?.cursor as string | undefined;
    const params: Record<string, unknown> = { limit: this.config.page_size, ...filters };
    if (cursor) params.after = cursor;
    const { data } = await this.session.get<ApiPage>(`${this.config.base_url}/${this.config.stream}`, {
      params,
      timeout: this.config.timeout * 1000,
    });
    const records: SourceRecord[] = (data.data ?? []).map((item) => ({
      id: String(item.id),
      data: item,
      timestamp: item.updated_at ? new Date(item.updated_at) : new Date(),
    }));
    const nextCursor = data.pagination?.next_cursor;
    return { records, nextPagination: nextCursor ? { cursor: nextCursor } : {} };
  }
}
