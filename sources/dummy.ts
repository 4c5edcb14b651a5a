import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { SourceConfig } from './config.ts';
import type { Pagination, SourceIncrementalState, SourceIteration } from './models.ts';
import { AbstractSource } from './source.ts';

const CREATURES = ['axolotl', 'bison', 'capybara', 'dugong', 'echidna', 'fennec', 'gecko', 'hoopoe', 'ibex', 'jerboa', 'kinkajou', 'lemur'];
const PLANTS = ['agave', 'baobab', 'cactus', 'dahlia', 'edelweiss', 'fern', 'ginkgo', 'hosta', 'iris', 'juniper'];

/** Config of the built-in `dummy` source. */
export const DummySourceConfig = SourceConfig.extend({
  page_size: z.number().int().positive().default(4).describe('Records per page'),
  delay_ms: z.number().int().min(0).default(0).describe('Pause before each page, to watch progress'),
});
export type DummySourceConfig = z.infer<typeof DummySourceConfig>;

/**
 * A built-in source with no network: streams `creatures` and `plants`, a few
 * pages each. The quickstart runs it anywhere.
 */
export class DummySource extends AbstractSource<DummySourceConfig> {
  static override streams(): string[] {
    return ['creatures', 'plants'];
  }

  static override getConfigClass() {
    return DummySourceConfig;
  }

  checkConnection(): [boolean, string | null] {
    return [true, null];
  }

  private names(): string[] {
    return this.config.stream === 'plants' ? PLANTS : CREATURES;
  }

  override getTotalRecordsCount(): number {
    return this.names().length;
  }

  async get(pagination?: Pagination): Promise<SourceIteration> {
    return this.page(pagination, () => true);
  }

  override async getRecordsAfter(state: SourceIncrementalState, pagination?: Pagination): Promise<SourceIteration> {
    // The dummy data never changes after 2024-01-01, so an incremental run finds nothing new.
    return this.page(pagination, (updatedAt) => updatedAt > state.lastRun);
  }

  private async page(pagination: Pagination | undefined, keep: (updatedAt: Date) => boolean): Promise<SourceIteration> {
    if (this.config.delay_ms > 0) await sleep(this.config.delay_ms);
    const offset = Number(pagination?.offset ?? 0);
    const names = this.names();
    const slice = names.slice(offset, offset + this.config.page_size);
    const records = slice
      .map((name, index) => {
        const id = offset + index + 1;
        const updatedAt = new Date(Date.UTC(2024, 0, 1) - id * 3_600_000);
        return { id, data: { id, name, updated_at: updatedAt.toISOString() }, timestamp: updatedAt };
      })
      .filter((record) => keep(record.timestamp));
    const nextOffset = offset + this.config.page_size;
    return { records, nextPagination: nextOffset < names.length ? { offset: nextOffset } : {} };
  }
}
