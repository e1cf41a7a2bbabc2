// Float64 reference of the fused logit lens (src/gpu/lens.ts) for one row h:
// logits z = h . wte^T, log-sum-exp, top/bottom ids and the 0-based ranks of
// watched ids, in topkRef/rankRef's order. Also each logit's worst-case error
// when the GPU sums it in f32, so tests can tell a real disagreement from rounding.
// Skipped ids count in the log-sum-exp only: they are in no list and rank no id.
import type { RankOrder } from './ops.ts';

export interface LensRowRef {
  logits: Float64Array;
  /** |f32 logit - exact| <= bound[c]: gamma_d * sum_j |h_j wte_cj| (recursive summation, u = 2^-24). */
  bound: Float64Array;
  lse: number;
  top: number[];
  bottom: number[];
  rankFromTop: number[];
  rankFromBottom: number[];
  skip: ReadonlySet<number>;
}

export function lensRowRef(h: ArrayLike<number>, wte: ArrayLike<number>, V: number, d: number, k: number, watched: readonly number[], skip: ReadonlySet<number> = new Set()): LensRowRef {
  const u = 2 ** -24;
  const gamma = (d * u) / (1 - d * u);
  const logits = new Float64Array(V);
  const bound = new Float64Array(V);
  for (let c = 0; c < V; c++) {
    let z = 0;
    let abs = 0;
    for (let j = 0; j < d; j++) {
      const p = h[j]! * wte[c * d + j]!;
      z += p;
      abs += Math.abs(p);
    }
    logits[c] = z;
    bound[c] = gamma * abs;
  }
  let max = -Infinity;
  for (const z of logits) max = Math.max(max, z);
  let sum = 0;
  for (const z of logits) sum += Math.exp(z - max);
  return {
    logits,
    bound,
    lse: max + Math.log(sum),
    top: bestRef(logits, k, 'top', skip),
    bottom: bestRef(logits, k, 'bottom', skip),
    rankFromTop: watched.map((id) => keptRank(logits, id, 'top', skip)),
    rankFromBottom: watched.map((id) => keptRank(logits, id, 'bottom', skip)),
    skip,
  };
}

/** 0-based rank of `id` among the ids not skipped (`id` itself may be skipped): how many of them come before it. */
function keptRank(scores: ArrayLike<number>, id: number, which: RankOrder, skip: ReadonlySet<number>): number {
  const sign = which === 'top' ? 1 : -1;
  let rank = 0;
  for (let c = 0; c < scores.length; c++) {
    if (c !== id && !skip.has(c) && (sign * scores[c]! > sign * scores[id]! || (scores[c] === scores[id] && c < id))) rank++;
  }
  return rank;
}

/** How many ranked ids other than t have a logit that rounding could put on either side of t's. */
export function nearTies(ref: LensRowRef, t: number): number {
  let n = 0;
  for (let c = 0; c < ref.logits.length; c++) {
    if (c !== t && !ref.skip.has(c) && Math.abs(ref.logits[c]! - ref.logits[t]!) <= ref.bound[c]! + ref.bound[t]!) n++;
  }
  return n;
}

/**
 * topkRef's answer (better score first, lower id on ties) by one scan instead of a
 * full sort: the tests take it for hundreds of 50,257-id rows.
 */
export function bestRef(scores: ArrayLike<number>, k: number, which: RankOrder, skip: ReadonlySet<number> = new Set()): number[] {
  const sign = which === 'top' ? 1 : -1;
  const best: number[] = [];
  const beats = (i: number, j: number) => sign * scores[i]! > sign * scores[j]! || (scores[i] === scores[j] && i < j);
  for (let c = 0; c < scores.length; c++) {
    if (skip.has(c) || (best.length === k && !beats(c, best[k - 1]!))) continue;
    let pos = best.length;
    while (pos > 0 && beats(c, best[pos - 1]!)) pos--;
    best.splice(pos, 0, c);
    if (best.length > k) best.pop();
  }
  return best;
}
