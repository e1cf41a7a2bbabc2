// The sampling rules of generation (decode.ts) and the seeded PRNG that training
// shares: a run with the same seed repeats exactly.

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples from softmax(scores / temperature) over the candidate ids (the first when k = 1). */
export function pick(ids: ArrayLike<number>, scores: ArrayLike<number>, temperature: number, random: () => number): number {
  if (ids.length === 1) return ids[0]!;
  const max = scores[0]!;
  const weights = Array.from(scores, (s) => Math.exp((s - max) / temperature));
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r <= 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}
