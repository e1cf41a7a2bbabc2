// The learning-rate sweep of App. G.1 (Fig. 24): per record, method and layer, the
// smallest eta that makes target_new's first token the top-1 next token after the
// prompt, and the WikiText perplexity of the model edited at that eta. The search
// assumes success is monotone in eta: check the upper bound (no eta: never
// reached), the lower bound (eta at or below it), then bisect in log space until
// hi / lo <= 1 + tolerance and report hi, the smallest eta seen to succeed.
import { answerToken, type Selected } from '../data/counterfact.ts';
import type { Model } from '../model/model.ts';
import { promptIds, type Tokenizer } from '../tokenizer/tokenizer.ts';
import type { EditKind, MethodSpec } from './methods.ts';
import type { Editor } from './run.ts';
import { perplexity, scoreContinuations } from './score.ts';

export interface SweepBounds {
  lo: number;
  hi: number;
}

/**
 * Search bounds per method. shift and sgd move weights by eta times a gradient-sized
 * vector; Adam's first step moves every weight by about eta (m / sqrt(v) = sign g),
 * so its bounds are much lower.
 */
export const SWEEP_BOUNDS: Record<EditKind, SweepBounds> = {
  shift: { lo: 1e-3, hi: 1e3 },
  sgd: { lo: 1e-3, hi: 1e3 },
  adam: { lo: 1e-6, hi: 1 },
};

/** Relative tolerance of the bisection: the reported eta is within 5 % above the true threshold. */
export const SWEEP_TOLERANCE = 0.05;

export interface SweepCell {
  index: number;
  case_id: number;
  method: EditKind;
  layer: number;
  /** Smallest successful eta found, or null when even the upper bound fails. */
  eta: number | null;
  /** WikiText perplexity at that eta (null when there is none or perplexity is off). */
  perplexity: number | null;
  /** Edits tried. */
  tries: number;
}

export interface SweepOptions {
  methods: readonly EditKind[];
  layers: readonly number[];
  bounds?: Partial<Record<EditKind, SweepBounds>>;
  tolerance?: number;
  perplexityTexts?: readonly (readonly number[])[];
}

/** One step for sgd and adam (Fig. 24); one forward pass for shift. */
const spec = (method: EditKind, layer: number, lr: number): MethodSpec => ({ kind: method, label: `${method}:layers=${layer},lr=${lr},steps=1`, layers: [layer], lr, steps: 1 });

export async function sweep(
  model: Model,
  tokenizer: Tokenizer,
  records: readonly Selected[],
  opts: SweepOptions,
  editor: Editor,
  onCell: (cell: SweepCell) => void,
): Promise<SweepCell[]> {
  const tol = opts.tolerance ?? SWEEP_TOLERANCE;
  const cells: SweepCell[] = [];
  for (const { index, record } of records) {
    const prompt = promptIds(tokenizer, record.prompt);
    const target = answerToken(tokenizer, record.prompt, record.target_new);
    // Prompts longer than the context keep their tail, as everywhere in scoring.
    for (const method of opts.methods) {
      const { lo: lo0, hi: hi0 } = { ...SWEEP_BOUNDS[method], ...opts.bounds?.[method] };
      for (const layer of opts.layers) {
        let tries = 0;
        const succeeds = async (lr: number) => {
          tries++;
          const m = spec(method, layer, lr) as Exclude<MethodSpec, { kind: 'original' }>;
          await editor.apply(m, [record]);
          try {
            const [s] = await scoreContinuations(model, [{ prompt, continuation: [target] }]);
            return s!.top1[0] === target;
          } finally {
            editor.restore();
          }
        };
        let eta: number | null = null;
        if (await succeeds(hi0)) {
          let [lo, hi] = [lo0, hi0];
          if (await succeeds(lo)) hi = lo;
          else {
            while (hi / lo > 1 + tol) {
              const mid = Math.sqrt(lo * hi);
              // A tolerance below float64's precision: lo and hi are neighbours, nothing lies between.
              if (!(mid > lo && mid < hi)) break;
              if (await succeeds(mid)) hi = mid;
              else lo = mid;
            }
          }
          eta = hi;
        }
        let ppl: number | null = null;
        if (eta !== null && opts.perplexityTexts) {
          await editor.apply(spec(method, layer, eta) as Exclude<MethodSpec, { kind: 'original' }>, [record]);
          try {
            ppl = (await perplexity(model, opts.perplexityTexts)).perplexity;
          } finally {
            editor.restore();
          }
        }
        const cell = { index, case_id: record.case_id, method, layer, eta, perplexity: ppl, tries };
        cells.push(cell);
        onCell(cell);
      }
    }
  }
  return cells;
}

export interface Quartiles {
  q1: number;
  median: number;
  q3: number;
}

/** Quartiles by linear interpolation between order statistics (numpy's default). */
export function quartiles(xs: readonly number[]): Quartiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => {
    const pos = q * (s.length - 1);
    const i = Math.floor(pos);
    return i + 1 < s.length ? s[i]! + (pos - i) * (s[i + 1]! - s[i]!) : s[i]!;
  };
  return { q1: at(0.25), median: at(0.5), q3: at(0.75) };
}

export interface SweepSummaryRow {
  method: EditKind;
  layer: number;
  records: number;
  /** Records where some eta within the bounds succeeded. */
  reached: number;
  eta: Quartiles | null;
  perplexity: Quartiles | null;
}

export function summarizeSweep(cells: readonly SweepCell[], methods: readonly EditKind[], layers: readonly number[]): SweepSummaryRow[] {
  return methods.flatMap((method) => layers.map((layer) => {
    const mine = cells.filter((c) => c.method === method && c.layer === layer);
    const etas = mine.flatMap((c) => (c.eta === null ? [] : [c.eta]));
    const ppls = mine.flatMap((c) => (c.perplexity === null ? [] : [c.perplexity]));
    return { method, layer, records: mine.length, reached: etas.length, eta: etas.length ? quartiles(etas) : null, perplexity: ppls.length ? quartiles(ppls) : null };
  }));
}
