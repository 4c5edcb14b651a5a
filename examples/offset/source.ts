// Offset pagination: a short page is the last one.
import { z } from 'zod';
import { AbstractSource, SourceConfig, type Pagination, type SourceIteration } from 'bizon-temporal';

export const OffsetSourceConfig = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
});
export type OffsetSourceConfig = z.infer<typeof OffsetSourceConfig>;

export class OffsetSource extends AbstractSource<OffsetSourceConfig> {
  static override streams(): string[] {
    return ['users', 'orders', 'products'];
  }

  static override getConfigClass() {
    return OffsetSourceConfig;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    const response = await this.session.get(`${this.config.api_url}/health`);
    return [response.status < 400, null];
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const offset = Number(pagination?.offset ?? 0);
    const { data } = await this.session.get(`${this.config.api_url}/${this.config.stream}`, {
      params: { offset, limit: this.config.page_size },
    });
    const records = data.items.map((item: { id: number }) => ({ id: String(item.id), data: item }));
    if (records.length < this.config.page_size) return { records, nextPagination: {} };
    return { records, nextPagination: { offset: offset + this.config.page_size } };
  }
}
