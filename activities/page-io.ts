import { setTimeout as sleep } from 'node:timers/promises';
import { Context, log } from '@temporalio/activity';
import type { PipelineConfig } from '../config/pipeline.ts';
import type { ResolvedPipeline } from '../config/resolve.ts';
import type { Destination } from '../destinations/index.ts';
import { validateIteration, type ValidatedRecord } from '../sources/iteration.ts';
import { callGetRecordsAfter } from '../sources/read-pages.ts';
import type { Pagination, SourceIncrementalState } from '../sources/models.ts';
import type { AbstractSource } from '../sources/source.ts';
import type { compileTransforms } from '../transforms/steps.ts';
import { pageMaxCursor } from '../workflows/cursor.ts';
import type { IncrementalStateJson } from '../workflows/types.ts';
import type { ActivityInput, ExtractPageInput } from '../workflows/activity-types.ts';
import type { SyncMetrics } from './metrics.ts';
import type { ReadPage } from './page-batch.ts';
import { reserveRequestSlot } from './pacing.ts';
import { inSpan } from './tracing.ts';

/** A sync's source and destination on this worker, built once from its pipeline and reused across its pages. */
export interface SyncContext {
  resolved: ResolvedPipeline;
  source: AbstractSource;
  destination: Destination;
  /** The pipeline it was built from: a failed sync resumed with a fixed config (same run id) gets new ones. */
  pipeline: PipelineConfig;
  pipelineJson: string;
  /** `configKey(pipeline)`, which page activities name it by. */
  configKey: string;
  /** The pipeline's `transforms:`, when it has some. */
  transform?: ReturnType<typeof compileTransforms>;
}

/** A page activity's input with its sync's pipeline at hand. */
export type PageWithPipeline<T extends ExtractPageInput = ExtractPageInput> = T & ActivityInput;

/** A page as `get()` returned it, validated, with its extraction time. */
export interface SourcePage {
  records: ValidatedRecord[];
  extractedAt: Date;
}

/** Reads one page in a `bizon.page` span, the parent of its HTTP requests. */
export async function readPage(...args: Parameters<typeof readValidatedPage>): Promise<ReadPage<SourcePage>> {
  const [, , input, iteration] = args;
  const attributes = {
    'bizon.pipeline': input.pipeline.name,
    'bizon.source': input.pipeline.source.name,
    'bizon.stream': input.pipeline.source.stream,
    'bizon.iteration': iteration,
    ...(input.slice ? { 'bizon.slice': input.slice.index } : {}),
  };
  return inSpan('bizon.page', attributes, async (span) => {
    const read = await readValidatedPage(...args);
    span.setAttribute('bizon.records', read.recordCount);
    return read;
  });
}

/** Calls the source for one page, after its pacing slot if any, and validates what it returned. */
async function readValidatedPage(
  metrics: SyncMetrics | undefined,
  { source, resolved, transform }: SyncContext,
  input: Omit<PageWithPipeline, 'iteration' | 'pagination'>,
  iteration: number,
  pagination: Pagination | null,
): Promise<ReadPage<SourcePage>> {
  const slot = input.pacer ? await reserveRequestSlot(Context.current().client, input.pipeline.source.name, input.pacer) : null;
  if (slot !== null && slot > Date.now()) await sleep(slot - Date.now());
  const extractedAt = new Date();
  const slice = input.slice?.slice;
  const raw = input.incrementalState ? await callGetRecordsAfter(source, incrementalStateOf(input.incrementalState), pagination ?? undefined, slice) : await source.get(pagination ?? undefined, slice);
  const sourceMs = Date.now() - extractedAt.getTime();
  const page = validateIteration(raw, {
    source: input.pipeline.source.name,
    stream: resolved.sourceConfig.stream,
    iteration,
    ...(input.slice ? { slice: input.slice.index } : {}),
  });
  metrics?.pageRead(input.pipeline, page.records.length, sourceMs);
  // The watermark follows what the source read (its cursor field), whatever the transforms keep of it.
  const maxCursorValue = input.cursorField ? pageMaxCursor(page.records, input.cursorField) : null;
  const records = transform ? await transform(page.records, resolved.sourceConfig.stream) : page.records;
  return {
    iteration,
    page: { records, extractedAt },
    recordCount: records.length,
    nextPagination: page.nextPagination,
    maxCursorValue,
    sourceMs,
    ...(page.nextState !== undefined ? { nextState: page.nextState } : {}),
  };
}

/** Stages a page, keyed by (sync run, iteration): staging it again replaces it. */
export async function stagePage(metrics: SyncMetrics | undefined, { destination, resolved }: SyncContext, input: ActivityInput & Pick<ExtractPageInput, 'slice'>, read: ReadPage<SourcePage>): Promise<void> {
  log.debug('Page read', { pipeline: input.pipeline.name, stream: resolved.sourceConfig.stream, iteration: read.iteration, records: read.recordCount, ...(input.slice ? { slice: input.slice.index } : {}) });
  const attributes = { 'bizon.pipeline': input.pipeline.name, 'bizon.destination': input.pipeline.destination.name, 'bizon.iteration': read.iteration, 'bizon.records': read.recordCount };
  await inSpan('bizon.stage', attributes, async (span) => {
    const written = await destination.write({
      syncRunId: input.syncRunId,
      iteration: read.iteration,
      ...(input.slice ? { slice: input.slice.index } : {}),
      extractedAt: read.page.extractedAt,
      records: read.page.records,
    });
    if (written) {
      span.setAttribute('bizon.bytes', written.bytes);
      metrics?.bytesWritten(input.pipeline, written.bytes);
    }
  });
}

export function incrementalStateOf(state: IncrementalStateJson): SourceIncrementalState {
  return {
    lastRun: new Date(state.lastRun),
    state: state.state,
    ...(state.cursorField ? { cursorField: state.cursorField } : {}),
    ...(state.runStartedAt ? { runStartedAt: new Date(state.runStartedAt) } : {}),
  };
}
