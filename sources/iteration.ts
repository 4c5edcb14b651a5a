import { MalformedIterationError } from '../errors.ts';
import type { Pagination } from './models.ts';

/** A record after validation: id a string, timestamp an ISO string. */
export interface ValidatedRecord {
  id: string;
  data: Record<string, unknown>;
  timestamp: string | undefined;
  destinationId: string | undefined;
}

/** A validated page: records ready to write, and a JSON-only next pagination (`null` = the end). */
export interface ValidatedIteration {
  records: ValidatedRecord[];
  nextPagination: Pagination | null;
  /** The page's `nextState`, if it returned one. */
  nextState?: Record<string, unknown>;
}

/** A `nextState` is durable workflow state: larger than this is a mistake (keep cursors, not data). */
export const MAX_NEXT_STATE_BYTES = 64 * 1024;

/** Where a page came from, to name it in errors. */
export interface IterationContext {
  source: string;
  stream: string;
  iteration: number;
  /** The slice of the page, for a source with `getSlices()`. */
  slice?: number;
}

/** More slices than this is a mistake (one per second of a year?), and would bloat the sync's durable state. */
export const MAX_SLICES = 10_000;

/**
 * Checks what `getSlices()` returned: an array of plain JSON objects (each is
 * durable workflow state), at most {@link MAX_SLICES}. Throws a non-retryable
 * {@link MalformedIterationError} naming the faulty slice.
 */
export function validateSlices(raw: unknown, context: { source: string; stream: string }): Array<Record<string, unknown>> {
  const where = `Source '${context.source}' (stream '${context.stream}') returned malformed slices from getSlices()`;
  if (!Array.isArray(raw)) throw new MalformedIterationError(`${where}: expected an array of JSON objects, got ${raw === null ? 'null' : typeof raw}`);
  if (raw.length > MAX_SLICES) throw new MalformedIterationError(`${where}: ${raw.length} slices, at most ${MAX_SLICES}; make them larger`);
  for (const [index, slice] of raw.entries()) {
    if (!isPlainObject(slice)) throw new MalformedIterationError(`${where}: slices[${index}] must be a JSON object, got ${Array.isArray(slice) ? 'an array' : typeof slice}`);
    const nonJson = findNonJson(slice, `slices[${index}]`);
    if (nonJson) throw new MalformedIterationError(`${where}: ${nonJson} is not JSON: a slice is durable workflow state and must be plain JSON`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(raw));
  if (bytes > MAX_SLICES_BYTES) {
    throw new MalformedIterationError(
      `${where}: ${raw.length} slices take ${kilobytes(bytes)} as JSON, more than the ${kilobytes(MAX_SLICES_BYTES)} they may: they are the sync's durable state, in its checkpoints and memo. ` +
        'Keep keys and ranges in a slice, not data (a dependent rest stream: fewer parent_fields, or no write_parent)',
    );
  }
  return raw as Array<Record<string, unknown>>;
}

/** The most all of a sync's slices may take as JSON: they travel in its checkpoints, and Temporal refuses a payload over 2 MB. */
export const MAX_SLICES_BYTES = 1024 * 1024;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns the path of the first value that would not survive a JSON round
 * trip (a Date, a class instance, NaN, a circular reference), or undefined.
 */
function findNonJson(value: unknown, path: string, ancestors: Set<object> = new Set()): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} (${value})`;
  if (typeof value === 'object' && ancestors.has(value)) return `${path} (a circular reference)`;
  if (Array.isArray(value) || isPlainObject(value)) {
    ancestors.add(value);
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((item, index) => [`${path}[${index}]`, item]) : Object.entries(value).map(([key, item]) => [`${path}.${key}`, item]);
    for (const [itemPath, item] of entries) {
      const bad = findNonJson(item, itemPath, ancestors);
      if (bad) return bad;
    }
    ancestors.delete(value);
    return undefined;
  }
  const kind = value === undefined ? 'undefined' : value instanceof Date ? 'a Date' : typeof value;
  return `${path} (${kind})`;
}

const MAX_LISTED_PROBLEMS = 3;
/** The most a page's `nextPagination` may take as JSON: far below Temporal's 2 MB, since it travels several times. */
export const MAX_PAGINATION_BYTES = 256 * 1024;
/** Whether `text` holds a UTF-16 surrogate without its pair: not Unicode, so no file name or database takes it. */
const hasLoneSurrogate = (text: string) => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
const kilobytes = (bytes: number) => `${Math.ceil(bytes / 1024)} KB`;

/** Names bizon keeps for its own bookkeeping in a destination (staging and published-run tables). */
export const RESERVED_DESTINATION_IDS = 'names starting with _bizon are bizon\'s own bookkeeping tables (any case); choose another';

/** Whether a destination id (a table, a file) would be one of bizon's own bookkeeping names. */
export function isReservedDestinationId(id: string): boolean {
  return id.toLowerCase().startsWith('_bizon');
}

/**
 * Checks what a source's `get()` returned and normalises it. Throws a
 * non-retryable {@link MalformedIterationError} naming source, stream,
 * iteration and the faulty field.
 */
export function validateIteration(raw: unknown, context: IterationContext): ValidatedIteration {
  const at = context.slice === undefined ? `iteration ${context.iteration}` : `iteration ${context.iteration} of slice ${context.slice}`;
  const where = `Source '${context.source}' (stream '${context.stream}') returned a malformed SourceIteration at ${at}`;
  const fail = (problem: string): never => {
    throw new MalformedIterationError(`${where}: ${problem}`);
  };
  if (!isPlainObject(raw)) fail(`expected an object { records, nextPagination }, got ${raw === null ? 'null' : typeof raw}`);
  const iteration = raw as Record<string, unknown>;
  if ('next_pagination' in iteration && !('nextPagination' in iteration)) {
    fail("found 'next_pagination'; the TypeScript API names it 'nextPagination'");
  }
  if (!Array.isArray(iteration.records)) fail(`'records' must be an array, got ${typeof iteration.records}`);

  const problems: string[] = [];
  const records: ValidatedRecord[] = [];
  for (const [index, item] of (iteration.records as unknown[]).entries()) {
    if (problems.length >= MAX_LISTED_PROBLEMS) break;
    if (!isPlainObject(item)) {
      problems.push(`records[${index}] must be an object { id, data }`);
      continue;
    }
    const { id, data, timestamp, destinationId } = item;
    if (!(typeof id === 'string' && id !== '') && !(typeof id === 'number' && Number.isFinite(id))) {
      problems.push(`records[${index}].id must be a non-empty string or a number, got ${JSON.stringify(id) ?? 'undefined'}`);
      continue;
    }
    if (!isPlainObject(data)) {
      problems.push(`records[${index}].data must be a JSON object`);
      continue;
    }
    let nonJson: string | undefined;
    try {
      nonJson = findNonJson(data, `records[${index}].data`);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // The same record is as deep on every attempt: a malformed page, not a failure to retry.
      problems.push(`records[${index}].data is nested too deeply to be stored as JSON (${error.message})`);
      continue;
    }
    if (nonJson) {
      problems.push(`${nonJson} is not JSON`);
      continue;
    }
    let isoTimestamp: string | undefined;
    if (timestamp !== undefined && timestamp !== null) {
      const date = timestamp instanceof Date ? timestamp : typeof timestamp === 'string' ? new Date(timestamp) : undefined;
      if (!date || Number.isNaN(date.getTime())) {
        problems.push(`records[${index}].timestamp must be a Date or a date string, got ${JSON.stringify(timestamp)}`);
        continue;
      }
      isoTimestamp = date.toISOString();
    }
    if (destinationId !== undefined && (typeof destinationId !== 'string' || destinationId === '')) {
      problems.push(`records[${index}].destinationId must be a non-empty string`);
      continue;
    }
    if (typeof destinationId === 'string' && hasLoneSurrogate(destinationId)) {
      problems.push(`records[${index}].destinationId ${JSON.stringify(destinationId)} holds a lone surrogate (not valid Unicode)`);
      continue;
    }
    if (typeof destinationId === 'string' && isReservedDestinationId(destinationId)) {
      problems.push(`records[${index}].destinationId '${destinationId}' is reserved: ${RESERVED_DESTINATION_IDS}`);
      continue;
    }
    records.push({ id: String(id), data, timestamp: isoTimestamp, destinationId: destinationId as string | undefined });
  }
  if (problems.length > 0) fail(problems.join('; '));

  const next = iteration.nextPagination;
  let nextPagination: Pagination | null = null;
  if (next !== undefined && next !== null) {
    if (!isPlainObject(next)) fail(`'nextPagination' must be a JSON object, null or undefined, got ${Array.isArray(next) ? 'an array' : typeof next}`);
    const nonJson = findNonJson(next, 'nextPagination');
    if (nonJson) fail(`${nonJson} is not JSON: pagination is durable workflow state and must be plain JSON`);
    nextPagination = Object.keys(next as object).length === 0 ? null : (next as Pagination);
    const bytes = nextPagination ? Buffer.byteLength(JSON.stringify(nextPagination)) : 0;
    if (bytes > MAX_PAGINATION_BYTES) {
      fail(
        `'nextPagination' is ${kilobytes(bytes)} as JSON, more than the ${kilobytes(MAX_PAGINATION_BYTES)} a pagination may take: it is durable workflow state, carried in every page's input, ` +
          'the checkpoints and the memo, and Temporal refuses a payload over 2 MB. Keep a cursor or a page number in it, not data',
      );
    }
  }
  const state = iteration.nextState;
  if (state === undefined || state === null) return { records, nextPagination };
  if (!isPlainObject(state)) fail(`'nextState' must be a JSON object, null or undefined, got ${Array.isArray(state) ? 'an array' : typeof state}`);
  const nonJson = findNonJson(state, 'nextState');
  if (nonJson) fail(`${nonJson} is not JSON: nextState is durable workflow state and must be plain JSON`);
  const bytes = Buffer.byteLength(JSON.stringify(state));
  if (bytes > MAX_NEXT_STATE_BYTES) fail(`'nextState' is ${bytes} bytes, at most ${MAX_NEXT_STATE_BYTES}: keep cursors and ids in it, not records`);
  return { records, nextPagination, nextState: state as Record<string, unknown> };
}
