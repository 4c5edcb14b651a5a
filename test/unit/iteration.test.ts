import { describe, expect, it } from 'vitest';
import { MalformedIterationError } from '../../errors.ts';
import { validateIteration } from '../../sources/iteration.ts';

const where = { source: 'shop', stream: 'orders', iteration: 4 };

/** An object that holds itself: JSON.stringify would throw, a naive walk would overflow the stack. */
/** An object nested `depth` levels deep. */
function deep(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 0; level < depth; level += 1) value = { inner: value };
  return value;
}

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { page: 2 };
  value.self = value;
  return value;
}

describe('validateIteration', () => {
  it('keeps a JSON nextState; refuses one that is not JSON, not an object, or too large', () => {
    expect(validateIteration({ records: [], nextPagination: {}, nextState: { since: '2024-01-01' } }, where).nextState).toEqual({ since: '2024-01-01' });
    expect(validateIteration({ records: [], nextPagination: {} }, where)).not.toHaveProperty('nextState');
    const malformed = (nextState: unknown) => () => validateIteration({ records: [], nextPagination: {}, nextState }, where);
    expect(malformed({ at: new Date() })).toThrow("Source 'shop' (stream 'orders') returned a malformed SourceIteration at iteration 4: nextState.at");
    expect(malformed(['a'])).toThrow("'nextState' must be a JSON object, null or undefined, got an array");
    expect(malformed({ blob: 'x'.repeat(70_000) })).toThrow(/'nextState' is 70\d{3} bytes, at most 65536: keep cursors and ids in it, not records/);
  });

  it('normalises ids to strings, timestamps to ISO, and empty pagination to null', () => {
    const page = validateIteration(
      { records: [{ id: 7, data: { a: 1 }, timestamp: new Date('2024-05-01T00:00:00Z'), destinationId: 'x' }], nextPagination: {} },
      where,
    );
    expect(page).toEqual({
      records: [{ id: '7', data: { a: 1 }, timestamp: '2024-05-01T00:00:00.000Z', destinationId: 'x' }],
      nextPagination: null,
    });
  });

  it.each([
    [{ records: [], nextPagination: null }, null],
    [{ records: [], nextPagination: undefined }, null],
    [{ records: [] }, null],
    [{ records: [], nextPagination: { cursor: 'abc', seen: [1, 2] } }, { cursor: 'abc', seen: [1, 2] }],
  ])('pagination %j -> %j', (raw, expected) => {
    expect(validateIteration(raw, where).nextPagination).toEqual(expected);
  });

  it.each([
    [null, 'expected an object { records, nextPagination }, got null'],
    [{ records: 'nope' }, "'records' must be an array, got string"],
    [{ records: [], next_pagination: {} }, "found 'next_pagination'; the TypeScript API names it 'nextPagination'"],
    [{ records: [{ data: {} }] }, 'records[0].id must be a non-empty string or a number, got undefined'],
    [{ records: [{ id: 1, data: [1] }] }, 'records[0].data must be a JSON object'],
    [{ records: [{ id: 1, data: { when: new Date(0) } }] }, 'records[0].data.when (a Date) is not JSON'],
    [{ records: [{ id: 1, data: {}, timestamp: 'yesterday' }] }, 'records[0].timestamp must be a Date or a date string, got "yesterday"'],
    [{ records: [], nextPagination: { after: new Date(0) } }, 'nextPagination.after (a Date) is not JSON: pagination is durable workflow state'],
    [{ records: [], nextPagination: [1] }, "'nextPagination' must be a JSON object, null or undefined, got an array"],
    [{ records: [], nextPagination: { n: Number.NaN } }, 'nextPagination.n (NaN) is not JSON'],
    [{ records: [], nextPagination: circular() }, 'nextPagination.self (a circular reference) is not JSON'],
    [{ records: [{ id: 7, data: { nested: [circular()] } }] }, 'records[0].data.nested[0].self (a circular reference) is not JSON'],
    [{ records: [], nextPagination: { seen: 'x'.repeat(300 * 1024) } }, "'nextPagination' is 301 KB as JSON, more than the 256 KB a pagination may take: it is durable workflow state"],
    [{ records: [{ id: 1, data: {}, destinationId: 'users\ud800' }] }, 'records[0].destinationId "users\\ud800" holds a lone surrogate (not valid Unicode)'],
    [{ records: [{ id: 1, data: {}, destinationId: '_bizon_published' }] }, "records[0].destinationId '_bizon_published' is reserved: names starting with _bizon are bizon's own bookkeeping tables"],
    [{ records: [{ id: 1, data: {}, destinationId: '_BIZON_staging' }] }, "records[0].destinationId '_BIZON_staging' is reserved"],
  ])('rejects %s', (raw, problem) => {
    let error: unknown;
    try {
      validateIteration(raw, where);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MalformedIterationError);
    expect((error as Error).message).toContain("Source 'shop' (stream 'orders') returned a malformed SourceIteration at iteration 4: ");
    expect((error as Error).message).toContain(problem);
  });

  it('a record nested too deeply to be JSON is a malformed page, not an error to retry', () => {
    const error = (() => {
      try {
        validateIteration({ records: [{ id: 1, data: { ok: true } }, { id: 2, data: deep(200_000) }] }, where);
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(MalformedIterationError);
    expect(error?.message).toContain('records[1].data is nested too deeply to be stored as JSON (Maximum call stack size exceeded)');
  });
});
