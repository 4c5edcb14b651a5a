// The source of bench/overhead.ts's streams case: four streams of the example API, paged by number.
import { z } from 'zod';
import { AbstractSource, SourceConfig, type Pagination, type SourceIteration } from 'bizon-temporal';

export const BenchStreamsConfig = SourceConfig.extend({
  api_url: z.string(),
  page_size: z.number().int().positive().default(10),
});
export type BenchStreamsConfig = z.infer<typeof BenchStreamsConfig>;

export class BenchStreamsSource extends AbstractSource<BenchStreamsConfig> {
  static override streams(): string[] {
    return ['s1', 's2', 's3', 's4'];
  }

  static override getConfigClass() {
    return BenchStreamsConfig;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    return [true, null];
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const page = Number(pagination?.page ?? 1);
    const { data } = await this.session.get(`${this.config.api_url}/${this.config.stream}`, { params: { page, limit: this.config.page_size } });
    const records = data.items.map((item: { id: number }) => ({ id: String(item.id), data: item }));
    return { records, nextPagination: records.length === this.config.page_size ? { page: page + 1 } : {} };
  }
}
