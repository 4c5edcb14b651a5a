import type { CursorValue } from './types.ts';

/** Reads the value at a dotted path (`a.b.c`) of a record's data. */
function valueAt(data: Record<string, unknown>, path: string): unknown {
  let current: unknown = data;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The greatest `cursorField` value (a string or a finite number) among a page's records, or null. */
export function pageMaxCursor(records: readonly { data: Record<string, unknown> }[], cursorField: string): CursorValue | null {
  let max: CursorValue | null = null;
  for (const record of records) {
    const value = valueAt(record.data, cursorField);
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) max = maxCursor(max, value);
  }
  return max;
}

/**
 * The greater of two cursor values: as numbers when both are numbers, else
 * as strings (ISO-8601 timestamps in one format order correctly as strings).
 * Pure, so both the workflow and the activities use it (as the rest of this file).
 */
export function maxCursor(a: CursorValue | null, b: CursorValue | null): CursorValue | null {
  if (a === null) return b;
  if (b === null) return a;
  if (typeof a === 'number' && typeof b === 'number') return Math.max(a, b);
  return String(a) >= String(b) ? a : b;
}
