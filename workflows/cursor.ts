import type { CursorValue } from './types.ts';

/**
 * The greater of two cursor values: as numbers when both are numbers, else
 * as strings (ISO-8601 timestamps in one format order correctly as strings).
 * Pure, so both the workflow and the activities use it.
 */
export function maxCursor(a: CursorValue | null, b: CursorValue | null): CursorValue | null {
  if (a === null) return b;
  if (b === null) return a;
  if (typeof a === 'number' && typeof b === 'number') return Math.max(a, b);
  return String(a) >= String(b) ? a : b;
}
