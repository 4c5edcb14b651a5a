// Cursor pagination: the API returns `next_cursor` until the last page.
import { z } from 'zod';
import { AbstractSource, SourceConfig, type Pagination, type SourceIteration } from 'bizon-temporal';

export const CursorSourceConfig = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
});
export type CursorSourceConfig = z.infer<typeof CursorSourceConfig>;

export class CursorSource extends AbstractSource<CursorSourceConfig> {
  static override streams(): string[] {
    return ['users', 'orders', 'products'];
  }

  static override getConfigClass() {
    return CursorSourceConfig;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    const response = await this.session.get(`${this.config.api_url}/health`);
    return [response.status < 400, null];
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const cursor = pagination?.cursor as string | undefined;
    const params: Record<string, unknown> = { limit: this.config.page_size };
    if (cursor) params.cursor = cursor;
    const { data } = await this.session.get(`${this.config.api_url}/${this.config.stream}`, { params });
    const records = data.items.map((item: { id: number }) => ({ id: String(item.id), data: item }));
    const nextCursor: string | null = data.next_cursor ?? null;
    return { records, nextPagination: nextCursor ? { cursor: nextCursor } : {} };
  }
}
