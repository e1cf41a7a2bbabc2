// Aggregates per-record lines into the tables' numbers: mean and population standard
// deviation per method, x100 for 0/1 metrics, probability gaps and n-gram entropy (as
// the paper reports them). Lines are ordered by record index first, so one run and
// merged shards sum in the same order and give identical numbers.
import type { EvalLine } from './run.ts';

export interface MetricDef {
  key: keyof EvalLine & string;
  name: string;
  /** Reported x100. */
  percent: boolean;
}

export const METRICS: readonly MetricDef[] = [
  { key: 'efficacy', name: 'Efficacy', percent: true },
  { key: 'paraphrase', name: 'Paraphrase', percent: true },
  { key: 'neighborhood', name: 'Neighborhood', percent: true },
  { key: 'efficacyAll', name: 'Efficacy (all target tokens)', percent: true },
  { key: 'paraphraseAll', name: 'Paraphrase (all target tokens)', percent: true },
  { key: 'neighborhoodAll', name: 'Neighborhood (all target tokens)', percent: true },
  { key: 'es', name: 'ES', percent: true },
  { key: 'ps', name: 'PS', percent: true },
  { key: 'ns', name: 'NS', percent: true },
  { key: 'esMagnitude', name: 'ES magnitude', percent: true },
  { key: 'psMagnitude', name: 'PS magnitude', percent: true },
  { key: 'nsMagnitude', name: 'NS magnitude', percent: true },
  { key: 'fluency', name: 'N-gram entropy', percent: true },
  { key: 'perplexity', name: 'WikiText perplexity', percent: false },
];

export interface Stat {
  mean: number;
  /** Population standard deviation (divides by n). */
  std: number;
}

export interface MethodSummary {
  method: string;
  records: number;
  /** Records whose edit failed (weights overflowed float32): counted in records, in no metric. Absent when none did. */
  failed?: number;
  /** Present for the metrics the run measured. */
  metrics: Partial<Record<string, Stat>>;
}

/** Mean and population std, summed in the given order. */
export function meanStd(xs: readonly number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / n;
  return { mean, std: Math.sqrt(variance) };
}

export function summarize(lines: readonly EvalLine[], methods: readonly string[]): MethodSummary[] {
  const sorted = [...lines].sort((a, b) => a.index - b.index);
  return methods.map((method) => {
    const mine = sorted.filter((l) => l.method === method);
    const metrics: Partial<Record<string, Stat>> = {};
    for (const m of METRICS) {
      const xs = mine.map((l) => l[m.key]).filter((x): x is number => typeof x === 'number');
      if (xs.length === 0) continue;
      const s = meanStd(xs);
      metrics[m.key] = m.percent ? { mean: 100 * s.mean, std: 100 * s.std } : s;
    }
    const failed = mine.filter((l) => l.failed !== undefined).length;
    return { method, records: mine.length, ...(failed > 0 ? { failed } : {}), metrics };
  });
}
