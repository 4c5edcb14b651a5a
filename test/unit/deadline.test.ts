import { describe, expect, it } from 'vitest';
import { settlesWithin } from '../../engine/deadline.ts';

describe('settlesWithin', () => {
  it('is true for a promise that resolves or rejects in time, false for one that does not', async () => {
    expect(await settlesWithin(Promise.resolve('done'), 1_000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('failed')), 1_000)).toBe(true);
    expect(await settlesWithin(undefined, 1_000)).toBe(true);
    expect(await settlesWithin(new Promise(() => undefined), 20)).toBe(false);
  });
});
