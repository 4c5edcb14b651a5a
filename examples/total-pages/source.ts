// Page pagination where the API says how many pages there are.
import { z } from 'zod';
import { AbstractSource, SourceConfig, type Pagination, type SourceIteration } from 'bizon-temporal';

export const TotalPagesSourceConfig = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
});
export type TotalPagesSourceConfig = z.infer<typeof TotalPagesSourceConfig>;

export class TotalPagesSource extends AbstractSource<TotalPagesSourceConfig> {
  static override streams(): string[] {
    return ['users', 'orders', 'products'];
  }

  static override getConfigClass() {
    return TotalPagesSourceConfig;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    const response = await this.session.get(`${this.config.api_url}/health`);
    return [response.status < 400, null];
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const page = Number(pagination?.page ?? 1);
    const { data } = await this.session.get(`${this.config.api_url}/${this.config.stream}`, {
      params: { page, per_page: this.config.page_size },
    });
    const records = data.items.map((item: { id: number }) => ({ id: String(item.id), data: item }));
    const totalPages = Number(data.total_pages ?? 1);
    if (page >= totalPages) return { records, nextPagination: {} };
    return { records, nextPagination: { page: page + 1 } };
  }
}
