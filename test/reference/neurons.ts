// Float64 per-neuron view (paper App. B) from the dense gradient: every neuron formed
// explicitly, norms and cosines by plain loops, top-100 sets of the logit lens by sorting.
import type { Gpt2ConfigRef, Gpt2ParamsRef, LinearFactorsRef } from './gpt2.ts';
import { layernormRef } from './ops.ts';

export interface NeuronViewRef {
  norms: number[];
  /** [neuron][i] */
  cosine: number[][];
  /** sum_i |c_ji| |s_i| / |g_j|: how much rounding in the factors a neuron's direction amplifies. */
  condition: number[];
  /** Each neuron's vector. */
  neurons: Float64Array[];
  /** [neuron][i]: |top(g_j) ∩ top(s_i)| and |top(g_j) ∩ top(-s_i)|, for the neurons `lens` asks for (holes elsewhere). */
  plus: number[][];
  minus: number[][];
  /** [neuron]: |top(g_j) ∩ top(0)|. */
  zero: number[];
}

/**
 * 'rows': neuron j = sum_i x_i[j] delta_i, spanned by delta_i; 'columns': sum_i x_i
 * delta_i[j], spanned by x_i. With `lens`, also the top-depth LL intersections of
 * the neurons it lists (a float64 projection of every neuron takes seconds).
 */
export function neuronViewRef(
  cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, f: LinearFactorsRef, orientation: 'rows' | 'columns',
  lens?: { normalized: boolean; depth: number; neurons: number[] },
): NeuronViewRef {
  const { rows: n, inDim, outDim } = f;
  const [coef, width, span, dim] = orientation === 'rows' ? [f.x, inDim, f.delta, outDim] : [f.delta, outDim, f.x, inDim];
  const spanning = Array.from({ length: n }, (_, i) => span.subarray(i * dim, (i + 1) * dim));
  const dense = new Float64Array(inDim * outDim);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < inDim; a++) for (let b = 0; b < outDim; b++) dense[a * outDim + b] += f.x[i * inDim + a] * f.delta[i * outDim + b];
  }
  const neurons = Array.from({ length: width }, (_, j) =>
    orientation === 'rows' ? dense.slice(j * outDim, (j + 1) * outDim) : Float64Array.from({ length: inDim }, (_, a) => dense[a * outDim + j]));
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const cos = (a: Float64Array, b: Float64Array) => {
    const na = norm(a);
    const nb = norm(b);
    return na > 0 && nb > 0 ? a.reduce((s, x, e) => s + x * b[e], 0) / (na * nb) : 0;
  };
  const out: NeuronViewRef = {
    norms: neurons.map(norm),
    cosine: neurons.map((g) => spanning.map((s) => cos(g, s))),
    condition: neurons.map((g, j) => spanning.reduce((sum, s, i) => sum + Math.abs(coef[i * width + j]) * norm(s), 0) / norm(g)),
    neurons,
    plus: [],
    minus: [],
    zero: [],
  };
  if (!lens) return out;
  const refs = [...spanning, ...spanning.map((s) => s.map((x) => -x)), new Float64Array(dim)];
  const sets = lensScoresRef(cfg, params, [...refs, ...lens.neurons.map((j) => neurons[j]!)], lens.normalized).map((s) => topSetRef(s, lens.depth));
  const overlap = (a: Set<number>, b: Set<number>) => [...a].filter((id) => b.has(id)).length;
  lens.neurons.forEach((j, r) => {
    const a = sets[refs.length + r]!;
    out.plus[j] = spanning.map((_, i) => overlap(a, sets[i]!));
    out.minus[j] = spanning.map((_, i) => overlap(a, sets[n + i]!));
    out.zero[j] = overlap(a, sets[2 * n]!);
  });
  return out;
}

/** Logits ln_f(v)·wteᵀ of each vector (the logit lens before its softmax), optionally of v/|v|. */
export function lensScoresRef(cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, vectors: Float64Array[], normalized: boolean): Float64Array[] {
  const d = cfg.nEmbd;
  const m = vectors.length;
  const x = new Float64Array(m * d);
  vectors.forEach((v, r) => {
    const norm = Math.sqrt(v.reduce((s, e) => s + e * e, 0));
    const scale = normalized && norm > 0 ? 1 / norm : 1;
    for (let e = 0; e < d; e++) x[r * d + e] = v[e] * scale;
  });
  const y = layernormRef(x, m, d, params['ln_f.weight'], params['ln_f.bias'], cfg.eps).y;
  const wte = params['wte.weight'];
  const out = vectors.map(() => new Float64Array(cfg.vocabSize));
  for (let t = 0; t < cfg.vocabSize; t++) {
    for (let r = 0; r < m; r++) {
      let s = 0;
      for (let e = 0; e < d; e++) s += y[r * d + e] * wte[t * d + e];
      out[r]![t] = s;
    }
  }
  return out;
}

/** Ids of the `depth` largest scores (ties at the boundary all included). */
export function topSetRef(scores: Float64Array, depth: number): Set<number> {
  const threshold = Float64Array.from(scores).sort()[scores.length - depth]!;
  const out = new Set<number>();
  scores.forEach((s, id) => {
    if (s >= threshold) out.add(id);
  });
  return out;
}
