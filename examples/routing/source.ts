// Routing: each record names its own output with `destinationId`.
import { z } from 'zod';
import { AbstractSource, SourceConfig, type Pagination, type SourceIteration, type SourceRecord } from 'bizon-temporal';

export const EventsSourceConfig = SourceConfig.extend({
  api_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(50).describe('Records per page'),
});
export type EventsSourceConfig = z.infer<typeof EventsSourceConfig>;

export class EventsSource extends AbstractSource<EventsSourceConfig> {
  static override streams(): string[] {
    return ['events'];
  }

  static override getConfigClass() {
    return EventsSourceConfig;
  }

  checkConnection(): [boolean, string | null] {
    return [true, null];
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    const page = Number(pagination?.page ?? 1);
    const { data } = await this.session.get(`${this.config.api_url}/${this.config.stream}`, {
      params: { page, limit: this.config.page_size },
    });
    const records: SourceRecord[] = [];
    for (const item of data.items as Array<{ id: number; type: string }>) {
      records.push({ id: String(item.id), data: item, destinationId: `project.dataset.${item.type}_events` });
    }
    return { records, nextPagination: records.length === this.config.page_size ? { page: page + 1 } : {} };
  }
}
