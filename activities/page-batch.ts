import type { Pagination } from '../sources/models.ts';
import { maxCursor } from '../workflows/cursor.ts';
import type { CursorValue } from '../workflows/types.ts';
import type { ExtractPagesInput, PageBatchProgress } from '../workflows/activity-types.ts';

/** One page read from the source, validated, not yet staged. */
export interface ReadPage<Page> {
  iteration: number;
  page: Page;
  recordCount: number;
  nextPagination: Pagination | null;
  maxCursorValue: CursorValue | null;
  sourceMs: number;
  nextState?: Record<string, unknown>;
}

/** What a batch needs from the activity around it. */
export interface PageBatchSteps<Page> {
  /** Calls the source for one page (pacing included). */
  read(iteration: number, pagination: Pagination | null): Promise<ReadPage<Page>>;
  /** Stages a page in the destination (idempotent by iteration). */
  stage(page: ReadPage<Page>): Promise<void>;
  /** Records the checkpoint after a staged page (the activity heartbeat). */
  checkpoint(progress: PageBatchProgress): void;
  /** Epoch ms (a parameter so tests control time). */
  now(): number;
}

/**
 * Where a batch starts: after the last page a previous attempt checkpointed
 * (its heartbeat details), or at the batch's first page.
 */
export function batchStart(input: Pick<ExtractPagesInput, 'iteration' | 'pagination'>, heartbeatDetails: unknown): PageBatchProgress {
  const fresh: PageBatchProgress = {
    firstIteration: input.iteration,
    lastIteration: input.iteration - 1,
    nextPagination: input.pagination,
    recordCount: 0,
    maxCursorValue: null,
    sourceMs: 0,
    done: false,
  };
  const previous = heartbeatDetails as Partial<PageBatchProgress> | undefined;
  const sameBatch =
    previous !== null &&
    typeof previous === 'object' &&
    previous.firstIteration === input.iteration &&
    typeof previous.lastIteration === 'number' &&
    previous.lastIteration >= input.iteration - 1 &&
    typeof previous.recordCount === 'number';
  return sameBatch ? { ...fresh, ...(previous as PageBatchProgress) } : fresh;
}

/**
 * Reads and stages up to `maxPages` pages, starting at `progress`, and
 * checkpoints after each staged page. The read of a page overlaps the staging
 * of the one before (one page in flight, one writing), and a checkpoint is
 * only recorded once its page is staged, so a crash at any point loses at
 * most the pages after the last checkpoint, which the next attempt reads again
 * and stages over themselves.
 *
 * It stops at the source's last page, at `maxPages`, or when `timeBudgetMs`
 * has passed since `startedAt` (a page always starts). An error of a read
 * ends the batch after the page before it is staged and checkpointed.
 */
export async function runPageBatch<Page>(
  input: Pick<ExtractPagesInput, 'iteration' | 'maxPages' | 'timeBudgetMs'>,
  start: PageBatchProgress,
  steps: PageBatchSteps<Page>,
): Promise<PageBatchProgress> {
  const progress = { ...start };
  const startedAt = steps.now();
  const lastAllowed = input.iteration + input.maxPages - 1;
  // The staging in flight; it settles to its error (or undefined), so an error never goes unhandled while a read runs.
  let staging: Promise<unknown> = Promise.resolve(undefined);
  let nextIteration = progress.lastIteration + 1;
  let nextPagination = progress.nextPagination;
  let sourceDone = progress.done;
  let readThisAttempt = 0;

  const stageAndCheckpoint = async (read: ReadPage<Page>): Promise<void> => {
    await steps.stage(read);
    progress.lastIteration = read.iteration;
    progress.nextPagination = read.nextPagination;
    progress.recordCount += read.recordCount;
    progress.maxCursorValue = maxCursor(progress.maxCursorValue, read.maxCursorValue);
    progress.sourceMs += read.sourceMs;
    progress.done = read.nextPagination === null;
    if (read.nextState !== undefined) progress.nextState = read.nextState;
    steps.checkpoint({ ...progress });
  };
  const waitForStaging = async (): Promise<void> => {
    const error = await staging;
    if (error !== undefined) throw error;
  };

  while (!sourceDone && nextIteration <= lastAllowed && (readThisAttempt === 0 || steps.now() - startedAt < input.timeBudgetMs)) {
    let read: ReadPage<Page>;
    try {
      read = await steps.read(nextIteration, nextPagination);
    } catch (error) {
      // The page before is kept (and checkpointed) if it stages; its own error wins otherwise.
      await waitForStaging();
      throw error;
    }
    readThisAttempt += 1;
    await waitForStaging();
    staging = stageAndCheckpoint(read).then(
      () => undefined,
      (error: unknown) => error ?? new Error('staging failed'),
    );
    nextIteration = read.iteration + 1;
    nextPagination = read.nextPagination;
    sourceDone = read.nextPagination === null;
  }
  await waitForStaging();
  return progress;
}
