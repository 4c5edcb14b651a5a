import { describe, expect, it } from 'vitest';
import { mergePartitions, partitionIndex, partitionOf } from '../../workflows/partitions.ts';
import { applyStreamStateEvent } from '../../workflows/state.ts';
import type { StreamState, Watermark } from '../../workflows/types.ts';

const watermark = (lastRun: string): Watermark => ({ lastRun, maxCursorValue: null, records: 1, pages: 1 });
const empty: StreamState = { watermark: null, checkpoint: null, checkpointStatus: null, updatedAt: null };

describe('watermarks per partition', () => {
  it('a partition read again moves to the new time; the others keep theirs; an emptied time goes', () => {
    const before = { t1: ['a', 'b'], t2: ['c'] };
    expect(mergePartitions(before, ['c', 'd'], 't3', false)).toEqual({ t1: ['a', 'b'], t3: ['c', 'd'] });
    expect(partitionIndex(mergePartitions(before, ['a'], 't3', false))).toEqual(new Map([['b', 't1'], ['c', 't2'], ['a', 't3']]));
  });

  it('a whole read replaces them: a partition it did not see is forgotten', () => {
    expect(mergePartitions({ t1: ['a', 'b'] }, ['b'], 't2', true)).toEqual({ t2: ['b'] });
  });

  it('a partition key is a string or a finite number; anything else is no partition', () => {
    expect([{ partition: 'x' }, { partition: 7 }, { partition: Number.NaN }, { partition: { id: 1 } }, {}].map(partitionOf)).toEqual(['x', '7', undefined, undefined, undefined]);
  });

  it("the state workflow keeps them across successes, and a stream reset forgets them", () => {
    let state = applyStreamStateEvent(empty, { kind: 'succeeded', watermark: watermark('t1'), at: 't1', partitions: { keys: ['1', '2'], replace: true } });
    state = applyStreamStateEvent(state, { kind: 'succeeded', watermark: watermark('t2'), at: 't2', partitions: { keys: ['2'], replace: false } });
    state = applyStreamStateEvent(state, { kind: 'succeeded', watermark: watermark('t3'), at: 't3' });
    expect(state.partitions).toEqual({ t1: ['1'], t2: ['2'] });
    expect(applyStreamStateEvent(state, { kind: 'reset', at: 't4' }).partitions).toBeUndefined();
  });
});
