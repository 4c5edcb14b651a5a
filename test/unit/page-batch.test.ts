import { describe, expect, it } from 'vitest';
import { batchStart, runPageBatch, type PageBatchSteps, type ReadPage } from '../../activities/page-batch.ts';
import type { PageBatchProgress } from '../../workflows/activity-types.ts';

/** A deferred promise: the test decides when a read or a staging ends. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A source of `pages` pages of 2 records; every read and staging waits for the test unless `auto`. */
function batchOf(pages: number, options: { auto?: boolean; clock?: { now: number } } = {}) {
  const events: string[] = [];
  const reads = new Map<number, ReturnType<typeof deferred<void>>>();
  const stagings = new Map<number, ReturnType<typeof deferred<void>>>();
  const checkpoints: PageBatchProgress[] = [];
  const gate = (map: Map<number, ReturnType<typeof deferred<void>>>, iteration: number) => {
    if (!map.has(iteration)) map.set(iteration, deferred());
    return map.get(iteration)!;
  };
  const steps: PageBatchSteps<number> = {
    async read(iteration, pagination) {
      events.push(`read ${iteration} ${JSON.stringify(pagination)}`);
      if (!options.auto) await gate(reads, iteration).promise;
      return { iteration, page: iteration, recordCount: 2, nextPagination: iteration < pages ? { page: iteration + 1 } : null, maxCursorValue: iteration * 10, sourceMs: 5 } satisfies ReadPage<number>;
    },
    async stage(read) {
      events.push(`stage ${read.iteration}`);
      if (!options.auto) await gate(stagings, read.iteration).promise;
      events.push(`staged ${read.iteration}`);
    },
    checkpoint(progress) {
      checkpoints.push(progress);
    },
    now: () => options.clock?.now ?? 0,
  };
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
  return { steps, events, checkpoints, read: (n: number) => gate(reads, n), staging: (n: number) => gate(stagings, n), tick };
}

const fresh = (iteration: number, pagination: PageBatchProgress['nextPagination'] = null) => batchStart({ iteration, pagination }, undefined);

describe('runPageBatch', () => {
  it('reads the next page while the one before is staged, and checkpoints a page only once it is staged', async () => {
    const batch = batchOf(3);
    const running = runPageBatch({ iteration: 1, maxPages: 10, timeBudgetMs: 60_000 }, fresh(1), batch.steps);
    batch.read(1).resolve();
    await batch.tick();
    expect(batch.events).toEqual(['read 1 null', 'stage 1', 'read 2 {"page":2}']);
    expect(batch.checkpoints).toEqual([]);
    batch.read(2).resolve();
    await batch.tick();
    // Page 3 is not read before page 2 can be staged: one page in flight, one page writing.
    expect(batch.events).toEqual(['read 1 null', 'stage 1', 'read 2 {"page":2}']);
    batch.staging(1).resolve();
    await batch.tick();
    expect(batch.checkpoints.map((progress) => progress.lastIteration)).toEqual([1]);
    expect(batch.events.slice(3)).toEqual(['staged 1', 'stage 2', 'read 3 {"page":3}']);
    batch.read(3).resolve();
    batch.staging(2).resolve();
    batch.staging(3).resolve();
    const result = await running;
    expect(result).toEqual({ firstIteration: 1, lastIteration: 3, nextPagination: null, recordCount: 6, maxCursorValue: 30, sourceMs: 15, done: true });
    expect(batch.checkpoints.map((progress) => progress.lastIteration)).toEqual([1, 2, 3]);
  });

  it('stops at maxPages with the pagination of the next page', async () => {
    const batch = batchOf(100, { auto: true });
    const result = await runPageBatch({ iteration: 41, maxPages: 20, timeBudgetMs: 60_000 }, fresh(41, { page: 41 }), batch.steps);
    expect(result).toMatchObject({ firstIteration: 41, lastIteration: 60, nextPagination: { page: 61 }, recordCount: 40, done: false });
  });

  it('starts no page once the time budget is spent, but always reads one', async () => {
    const clock = { now: 0 };
    const batch = batchOf(100, { auto: true, clock });
    const steps = { ...batch.steps, read: async (iteration: number, pagination: PageBatchProgress['nextPagination']) => {
      const read = await batch.steps.read(iteration, pagination);
      clock.now += 400;
      return read;
    } };
    expect(await runPageBatch({ iteration: 1, maxPages: 50, timeBudgetMs: 1000 }, fresh(1), steps)).toMatchObject({ lastIteration: 3 });
    expect(await runPageBatch({ iteration: 1, maxPages: 50, timeBudgetMs: 0 }, fresh(1), steps)).toMatchObject({ lastIteration: 1 });
  });

  it('a failed read ends the batch after the page before is staged and checkpointed', async () => {
    const batch = batchOf(10, { auto: true });
    const steps = { ...batch.steps, read: async (iteration: number, pagination: PageBatchProgress['nextPagination']) => {
      if (iteration === 4) throw new Error('429 Too Many Requests');
      return batch.steps.read(iteration, pagination);
    } };
    await expect(runPageBatch({ iteration: 1, maxPages: 10, timeBudgetMs: 60_000 }, fresh(1), steps)).rejects.toThrow('429');
    expect(batch.checkpoints.at(-1)).toMatchObject({ lastIteration: 3, nextPagination: { page: 4 }, recordCount: 6 });
  });

  it('a failed staging fails the batch with its own error; the page is not checkpointed', async () => {
    const batch = batchOf(10, { auto: true });
    const steps = { ...batch.steps, stage: async (read: ReadPage<number>) => {
      if (read.iteration === 2) throw new Error('disk full');
      return batch.steps.stage(read);
    } };
    await expect(runPageBatch({ iteration: 1, maxPages: 10, timeBudgetMs: 60_000 }, fresh(1), steps)).rejects.toThrow('disk full');
    expect(batch.checkpoints.map((progress) => progress.lastIteration)).toEqual([1]);
  });

  it('a retried attempt resumes after the last checkpoint of the same batch', async () => {
    const batch = batchOf(10, { auto: true });
    const checkpoint: PageBatchProgress = { firstIteration: 1, lastIteration: 3, nextPagination: { page: 4 }, recordCount: 6, maxCursorValue: 30, sourceMs: 15, done: false };
    const start = batchStart({ iteration: 1, pagination: null }, checkpoint);
    const result = await runPageBatch({ iteration: 1, maxPages: 5, timeBudgetMs: 60_000 }, start, batch.steps);
    expect(batch.events.filter((event) => event.startsWith('read'))).toEqual(['read 4 {"page":4}', 'read 5 {"page":5}']);
    expect(result).toMatchObject({ firstIteration: 1, lastIteration: 5, recordCount: 10, maxCursorValue: 50, sourceMs: 25 });
  });

  it('ignores heartbeat details of another batch', () => {
    const other: PageBatchProgress = { firstIteration: 11, lastIteration: 13, nextPagination: { page: 14 }, recordCount: 6, maxCursorValue: null, sourceMs: 1, done: false };
    expect(batchStart({ iteration: 1, pagination: null }, other)).toMatchObject({ firstIteration: 1, lastIteration: 0, nextPagination: null });
    expect(batchStart({ iteration: 1, pagination: null }, 'garbage')).toMatchObject({ lastIteration: 0 });
  });
});
