// The seed's custom source, in TypeScript: page-number pagination.
import { z } from 'zod';
import { AbstractSource, AuthBuilder, SourceConfig, type Authenticator, type Pagination, type SourceIteration } from 'bizon-temporal';

export const MySourceConfig = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
});
export type MySourceConfig = z.infer<typeof MySourceConfig>;

export class MySource extends AbstractSource<MySourceConfig> {
  static override streams(): string[] {
    return ['users', 'orders'];
  }

  static override getConfigClass() {
    return MySourceConfig;
  }

  override getAuthenticator(): Authenticator | undefined {
    return this.config.authentication ? AuthBuilder.fromConfig(this.config.authentication) : undefined;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    try {
      const response = await this.session.get(`${this.config.api_url}/health`);
      return [response.status < 400, null];
    } catch (error) {
      return [false, String(error)];
    }
  }

  override async getTotalRecordsCount(): Promise<number | null> {
    return null; // Unknown
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const page = Number(pagination?.page ?? 1);
    const { data } = await this.session.get(`${this.config.api_url}/${this.config.stream}`, {
      params: { page, limit: this.config.page_size },
    });
    const records = data.items.map((item: { id: number }) => ({ id: String(item.id), data: item }));
    const hasMore = records.length === this.config.page_size;
    return { records, nextPagination: hasMore ? { page: page + 1 } : {} };
  }
}
