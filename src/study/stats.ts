// Samples collected under string keys, summarised once at the end: the study
// reports the mean and the median of per-prompt values, with how many prompts.

export interface Summary {
  readonly count: number;
  readonly mean: number | null;
  readonly median: number | null;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, mean: null, median: null };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { count: values.length, mean: values.reduce((s, v) => s + v, 0) / values.length, median };
}

export function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

export class Samples {
  private readonly map = new Map<string, number[]>();

  add(key: string, value: number): void {
    let list = this.map.get(key);
    if (!list) this.map.set(key, (list = []));
    list.push(value);
  }

  summary(key: string): Summary {
    return summarize(this.map.get(key) ?? []);
  }
}
