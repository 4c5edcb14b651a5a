/**
 * Date windows of the declarative `rest` source: a stream with `incremental.start`, `end` or `window` is read in
 * slices, each a `[window_start, window_end)` its requests send as `last_run` and `run_started_at`.
 */
import { NonRetryableError } from '../errors.ts';
import { MAX_SLICES } from './iteration.ts';
import type { SourceIncrementalState, SourceSlice } from './models.ts';
import { spanMs, type RestEndpoint } from './rest-config.ts';
import type { RequestContext } from './rest-templates.ts';

type Incremental = NonNullable<RestEndpoint['incremental']>;

/** Whether a stream is read in date windows (it says where the data starts or ends, or how wide a window is). */
export function isWindowed(endpoint: RestEndpoint): boolean {
  const incremental = endpoint.incremental;
  return incremental !== undefined && (incremental.start !== undefined || incremental.end !== undefined || incremental.window !== undefined);
}

/**
 * The windows a sync reads: from the watermark less `lookback` (or, without a watermark, from `start`) to `end` or
 * the sync's start, `window` wide (one window without it). Without a watermark or a start: one slice, everything.
 */
export function dateWindows(incremental: Incremental, state: Pick<SourceIncrementalState, 'lastRun'> | null, runStartedAt: Date): SourceSlice[] {
  const lookback = incremental.lookback ? spanMs(incremental.lookback)! : 0;
  const from = state ? state.lastRun.getTime() - lookback : incremental.start ? Date.parse(incremental.start) : undefined;
  if (from === undefined) return [{}];
  const until = Math.min(incremental.end ? Date.parse(incremental.end) : Infinity, runStartedAt.getTime());
  const width = incremental.window ? spanMs(incremental.window)! : Math.max(until - from, 1);
  const count = Math.ceil((until - from) / width);
  if (count > MAX_SLICES) {
    throw new NonRetryableError(`window: ${incremental.window} cuts ${new Date(from).toISOString()} → ${new Date(until).toISOString()} into ${count} windows, more than the ${MAX_SLICES} a sync reads: make it wider`);
  }
  const slices: SourceSlice[] = [];
  for (let start = from; start < until; start += width) {
    const end = Math.min(start + width, until);
    const [startIso, endIso] = [new Date(start).toISOString(), new Date(end).toISOString()];
    slices.push({ window_start: startIso, window_end: endIso, label: `${startIso.slice(0, 16)} → ${endIso.slice(0, 16)}` });
  }
  return slices;
}

/** The window of a slice from {@link dateWindows}, or undefined. */
export function windowOfSlice(slice: SourceSlice | undefined): NonNullable<RequestContext['window']> | undefined {
  if (typeof slice?.window_start !== 'string' || typeof slice.window_end !== 'string') return undefined;
  return { lastRun: new Date(slice.window_start), runStartedAt: new Date(slice.window_end) };
}
