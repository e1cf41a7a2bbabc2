// Median and spread of repeated wall-clock timings (stats.ts has no Node imports: the browser bench uses it too).
export interface Timing {
  median_ms: number;
  min_ms: number;
  max_ms: number;
  reps: number;
}

export function timing(ms: readonly number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median_ms: median, min_ms: s[0]!, max_ms: s[s.length - 1]!, reps: s.length };
}

export const fmt = (t: Timing): string => `${t.median_ms.toFixed(0)} ms (min ${t.min_ms.toFixed(0)}, max ${t.max_ms.toFixed(0)}, ${t.reps} reps)`;
