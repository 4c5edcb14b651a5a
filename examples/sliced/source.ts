// A stream read in date-range slices, in parallel: getSlices() cuts the time range into slices of
// `slice_hours`, and get(pagination, slice) pages through one slice with the API's cursor.
import { z } from 'zod';
import { AbstractSource, SourceConfig, type Pagination, type SourceIncrementalState, type SourceIteration, type SourceSlice } from 'bizon-temporal';

export const DateRangeSourceConfig = SourceConfig.extend({
  base_url: z.string().describe('API base URL'),
  page_size: z.number().int().positive().default(100).describe('Records per page'),
  start: z.iso.datetime().describe('Records changed after this time are read (ISO 8601)'),
  end: z.iso.datetime().optional().describe('…up to this time (default: now)'),
  slice_hours: z.number().positive().default(24).describe('Length of one slice'),
});
export type DateRangeSourceConfig = z.infer<typeof DateRangeSourceConfig>;

/** One slice: the records changed in (from, to]. */
interface DateRange extends SourceSlice {
  from: string;
  to: string;
}

interface ApiPage {
  data: Array<{ id: number; updated_at: string }>;
  pagination: { next_cursor: string | null };
}

export class DateRangeSource extends AbstractSource<DateRangeSourceConfig> {
  static override sourceName = 'date_ranges';

  static override streams(): string[] {
    return ['users', 'orders', 'products', 'events'];
  }

  static override getConfigClass() {
    return DateRangeSourceConfig;
  }

  async checkConnection(): Promise<[boolean, string | null]> {
    const response = await this.session.get(`${this.config.base_url}/health`);
    return [response.status < 400, null];
  }

  /** Slices of `slice_hours` from `start` (or, incrementally, from the greatest `updated_at` synced) to `end`. */
  override getSlices(state: SourceIncrementalState | null): DateRange[] {
    const watermark = state?.state.max_cursor_value;
    const from = Date.parse(typeof watermark === 'string' ? watermark : this.config.start);
    const end = this.config.end ? Date.parse(this.config.end) : Date.now();
    const step = this.config.slice_hours * 3_600_000;
    const slices: DateRange[] = [];
    for (let at = from; at < end; at += step) slices.push({ from: new Date(at).toISOString(), to: new Date(Math.min(at + step, end)).toISOString() });
    return slices;
  }

  async get(pagination?: Pagination, slice?: SourceSlice): Promise<SourceIteration> {
    const range = slice as DateRange;
    const params: Record<string, unknown> = { limit: this.config.page_size, updated_since: range.from, updated_until: range.to };
    if (pagination?.cursor) params.after = pagination.cursor;
    const { data } = await this.session.get<ApiPage>(`${this.config.base_url}/${this.config.stream}`, { params });
    return {
      records: data.data.map((item) => ({ id: item.id, data: item, timestamp: item.updated_at })),
      nextPagination: data.pagination.next_cursor ? { cursor: data.pagination.next_cursor } : null,
    };
  }

  /** An incremental sync's slices already start at the watermark: each is read like any slice. */
  override async getRecordsAfter(_state: SourceIncrementalState, pagination?: Pagination, slice?: SourceSlice): Promise<SourceIteration> {
    return this.get(pagination, slice);
  }
}
