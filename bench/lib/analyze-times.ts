// Timed runs of `analyze` (all four modules) broken into its stages, shared by the
// model, scaling and peer benches so they all measure the same thing the same way.
import { analyze, type StageTimes } from '../../src/lens/analyze.ts';
import type { Model } from '../../src/model/model.ts';
import type { Analysis } from '../../src/lens/types.ts';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import { timing, type Timing } from './stats.ts';

export const STAGES = ['pass', 'norms', 'ranks', 'projections', 'total'] as const;
export type Stage = (typeof STAGES)[number];

export interface AnalyzeTimes {
  stages: Record<Stage, Timing>;
  /** Every timed run, in order. */
  runs: Record<Stage, number>[];
  /** The process's CPU milliseconds per analysis (user + system, the software adapter's threads included): a shared machine's load disturbs it far less than wall time. */
  cpu: Timing;
  last: Analysis;
}

/**
 * `warmup` untimed runs (pipelines compile on first use), then `reps` timed ones;
 * `after` sees each timed analysis, outside the timed span.
 */
export async function timeAnalyze(model: Model, tokenizer: Tokenizer, prompt: string, target: string, reps: number, warmup: number, after?: (a: Analysis) => void): Promise<AnalyzeTimes> {
  const runs: Record<Stage, number>[] = [];
  const cpu: number[] = [];
  let last: Analysis | undefined;
  for (let r = 0; r < warmup + reps; r++) {
    const times: StageTimes = { pass: 0, norms: 0, ranks: 0, projections: 0 };
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const [a] = await analyze(model, tokenizer, [{ prompt, target }], {}, times);
    const total = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (r < warmup) continue;
    runs.push({ ...times, total });
    cpu.push((c.user + c.system) / 1000);
    last = a!;
    after?.(a!);
  }
  if (!last) throw new RangeError('timeAnalyze needs reps >= 1');
  const stages = Object.fromEntries(STAGES.map((s) => [s, timing(runs.map((t) => t[s]))])) as Record<Stage, Timing>;
  return { stages, runs, cpu: timing(cpu), last };
}
