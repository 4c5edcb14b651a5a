/**
 * `bizon backfill`: a date range of a pipeline's declarative streams, read again as a pipeline of its own — its own
 * sync and state, appending to the same output — so the pipeline's watermark never moves.
 */
import { ConfigError } from '../errors.ts';

/** A range to backfill: ISO 8601 dates or times, `from` included, `to` excluded. */
export interface BackfillRange {
  from: string;
  to: string;
}

function isoTime(text: string, option: string): string {
  const time = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || !Number.isFinite(time)) throw new ConfigError(`${option} ${JSON.stringify(text)} is not an ISO 8601 date or time (2026-01-01, 2026-01-01T06:00:00Z)`);
  return new Date(time).toISOString();
}

/** The name of the pipeline that backfills `range` of `name`: one per range, so a failed backfill resumes as it was. */
export function backfillName(name: string, range: BackfillRange): string {
  const compact = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.000Z$/, 'Z');
  return `${name}.backfill.${compact(range.from)}-${compact(range.to)}`;
}

/**
 * The pipeline (as written) that reads `range` of a pipeline's declarative `rest` streams: each stream from
 * `incremental.start` = from to `end` = to, in its `window`s, as a full read (no watermark, so running it again reads
 * the range again), every sync appending (`engine.publish: append`), under a name of its own.
 */
export function backfillPipeline(written: Record<string, unknown>, range: BackfillRange): Record<string, unknown> {
  const from = isoTime(range.from, '--from');
  const to = isoTime(range.to, '--to');
  if (Date.parse(from) >= Date.parse(to)) throw new ConfigError(`--to (${to}) must come after --from (${from})`);
  const source = (written.source ?? {}) as Record<string, unknown>;
  if (source.name !== 'rest') {
    throw new ConfigError(
      `bizon backfill reads a date range of the declarative rest source's streams (their incremental.start and end); source '${String(source.name)}' is a class: ` +
        'give it the range in its own config and run that pipeline under another name with engine.publish: append',
    );
  }
  const streams = (Array.isArray(source.streams) ? source.streams : [source.stream]) as string[];
  const endpoints = { ...((source.endpoints ?? {}) as Record<string, Record<string, unknown>>) };
  for (const stream of streams) {
    const endpoint = endpoints[stream];
    if (!endpoint?.incremental) throw new ConfigError(`bizon backfill: stream '${stream}' has no incremental: { cursor_field, param, until_param }, so it cannot ask for a range`);
    endpoints[stream] = { ...endpoint, incremental: { ...(endpoint.incremental as Record<string, unknown>), start: from, end: to } };
  }
  const name = backfillName(String(written.name), { from, to });
  const engine = (written.engine ?? {}) as Record<string, unknown>;
  return { ...written, name, source: { ...source, sync_mode: 'full_refresh', endpoints }, engine: { ...engine, publish: 'append' } };
}
