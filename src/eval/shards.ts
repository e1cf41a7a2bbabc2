// Splitting an evaluation over batch-scheduler tasks: shard i of N takes every N-th
// selected record starting at the i-th (0-based), so shards stay balanced whatever
// the selection.

export interface Shard {
  index: number;
  count: number;
}

export const ONE_SHARD: Shard = { index: 0, count: 1 };

/** The items of shard i of N: positions i, i + N, i + 2N, ... */
export function shardItems<T>(items: readonly T[], shard: Shard): T[] {
  return items.filter((_, i) => i % shard.count === shard.index);
}
