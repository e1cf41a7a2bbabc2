// The float64 CPU side of the neuron view. Every neuron is a combination
// g_j = sum_i c_ji s_i of the n spanning vectors s_i, so norms and cosines come from
// the n x n Gram matrix of the s_i, and the neurons themselves are never formed here.
import type { NeuronGroupName, NeuronStats } from './types.ts';

/** One sequence's factors on the CPU: neuron j = sum_i C[i * count + j] S[i]. */
export interface Span {
  n: number;
  dim: number;
  count: number;
  /** Spanning vectors s_i, [n, dim]. */
  S: Float32Array;
  /** Coefficients, [n, count]: X for rows, Delta for columns. */
  C: Float32Array;
}

export interface Geometry {
  norms: Float64Array;
  spanNorms: Float64Array;
  /** [count, n] */
  cosine: Float64Array;
}

/**
 * With G = S S^T (n x n): g_j . s_i = (G c_j)_i and |g_j|^2 = c_j^T G c_j, so no
 * neuron is formed; O(n^2) per neuron, the same order as the rank's QR.
 */
export function neuronGeometry({ n, dim, count, S, C }: Span): Geometry {
  const G = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let l = 0; l <= i; l++) {
      let dot = 0;
      for (let e = 0; e < dim; e++) dot += S[i * dim + e]! * S[l * dim + e]!;
      G[i * n + l] = G[l * n + i] = dot;
    }
  }
  const spanNorms = Float64Array.from({ length: n }, (_, i) => Math.sqrt(G[i * n + i]!));
  const norms = new Float64Array(count);
  const cosine = new Float64Array(count * n);
  const c = new Float64Array(n);
  const p = new Float64Array(n);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < n; i++) c[i] = C[i * count + j]!;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let l = 0; l < n; l++) s += G[i * n + l]! * c[l]!;
      p[i] = s;
      sq += c[i]! * s;
    }
    const norm = Math.sqrt(Math.max(0, sq));
    norms[j] = norm;
    for (let i = 0; i < n; i++) cosine[j * n + i] = norm > 0 && spanNorms[i]! > 0 ? p[i]! / (norm * spanNorms[i]!) : 0;
  }
  return { norms, spanNorms, cosine };
}

export function byNormDescending(norms: Float64Array): number[] {
  return Array.from(norms.keys()).sort((a, b) => norms[b]! - norms[a]! || a - b);
}

export interface Members {
  name: NeuronGroupName;
  indices: number[];
}

/** Disjoint groups of `size` neurons at the top, around the median and at the bottom of the norm order. */
export function groupMembers(order: number[], size: number): Members[] {
  const N = order.length;
  const mid = Math.max(0, Math.min(Math.max(size, Math.floor(N / 2) - Math.floor(size / 2)), N - 2 * size));
  return [
    { name: 'largest', indices: order.slice(0, size) },
    { name: 'median', indices: order.slice(mid, mid + size) },
    { name: 'smallest', indices: order.slice(N - size) },
  ];
}

/** The spanning vector with the largest |cosine| (the first on ties), or -1 for a zero neuron. */
export function closestSpanning(cosine: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < cosine.length; i++) if (Math.abs(cosine[i]!) > (best < 0 ? 0 : Math.abs(cosine[best]!))) best = i;
  return best;
}

export interface Overlap {
  /** [count, n], signed by the sign-flip rule. */
  signed: Int32Array;
  /** [count] */
  zero: Int32Array;
}

/**
 * Fig. 8a's score: the overlap of the neuron's top-100 with s_i's, unless -s_i's
 * overlaps more, then minus that. Flipping s_i rather than the neuron costs n extra
 * projections instead of one per neuron.
 */
export function signFlip(counts: Int32Array, n: number, count: number): Overlap {
  const sets = 2 * n + 1;
  const signed = new Int32Array(count * n);
  const zero = new Int32Array(count);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < n; i++) {
      const plus = counts[j * sets + i]!;
      const minus = counts[j * sets + n + i]!;
      signed[j * n + i] = minus > plus ? -minus : plus;
    }
    zero[j] = counts[j * sets + 2 * n]!;
  }
  return { signed, zero };
}

export function stats(indices: readonly number[], n: number, overlap: Overlap, cosine: Float64Array): NeuronStats {
  const mean = (f: (j: number) => number) => (indices.length ? indices.reduce((s, j) => s + f(j), 0) / indices.length : 0);
  const perSpan = (f: (j: number, i: number) => number) => Array.from({ length: n }, (_, i) => mean((j) => f(j, i)));
  const closest = new Array<number>(n).fill(0);
  for (const j of indices) {
    const best = closestSpanning(cosine.subarray(j * n, (j + 1) * n));
    if (best >= 0) closest[best]!++;
  }
  return {
    count: indices.length,
    meanIntersection: perSpan((j, i) => overlap.signed[j * n + i]!),
    meanAbsIntersection: perSpan((j, i) => Math.abs(overlap.signed[j * n + i]!)),
    meanCosine: perSpan((j, i) => cosine[j * n + i]!),
    meanAbsCosine: perSpan((j, i) => Math.abs(cosine[j * n + i]!)),
    meanZeroIntersection: mean((j) => overlap.zero[j]!),
    closest,
  };
}
