/**
 * Watermarks per partition: a slice whose descriptor has a `partition` key (a parent of a dependent stream, a
 * tenant, a shard) is read incrementally from its own watermark, kept in the stream's state workflow. Deterministic.
 */
import type { PartitionWatermarks, SliceState } from './types.ts';

/** The partition key of a slice (`slice.partition`, a string or a number), or undefined. */
export function partitionOf(slice: Record<string, unknown>): string | undefined {
  const key = slice.partition;
  return typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key)) ? String(key) : undefined;
}

/** Each partition's watermark, for looking up. */
export function partitionIndex(partitions: PartitionWatermarks | undefined): Map<string, string> {
  const index = new Map<string, string>();
  for (const [at, keys] of Object.entries(partitions ?? {})) for (const key of keys) index.set(key, at);
  return index;
}

/** `partitions` after a sync that started `at` read `keys` whole; with `replace`, only those are kept. */
export function mergePartitions(partitions: PartitionWatermarks | undefined, keys: string[], at: string, replace: boolean): PartitionWatermarks | undefined {
  if (keys.length === 0 && !partitions) return undefined;
  const read = new Set(keys);
  const merged: PartitionWatermarks = {};
  if (!replace) {
    for (const [when, members] of Object.entries(partitions ?? {})) {
      const kept = when === at ? members : members.filter((key) => !read.has(key));
      if (kept.length > 0) merged[when] = kept;
    }
  }
  if (read.size > 0) merged[at] = [...new Set([...(merged[at] ?? []), ...read])];
  return merged;
}

/** The partitions of the slices a sync finished. */
export function finishedPartitions(slices: SliceState[] | undefined): string[] {
  return (slices ?? []).filter((slice) => slice.done).flatMap((slice) => partitionOf(slice.slice) ?? []);
}

