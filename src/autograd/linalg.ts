// Small dense float64 linear algebra for the exact gradient rank: the factors are
// n x in and n x out, so everything here works on n x n problems.
import type { RankResult } from './factors.ts';

/**
 * R (min(m,n) x n, upper triangular, row-major) of a thin Householder QR of the
 * [m, n] matrix whose n columns are the rows of `cols` ([n, m] row-major: a factor's
 * x_i or delta_i as they come from the GPU). Columns stay contiguous, so every inner
 * loop walks memory in order instead of striding by n.
 */
export function householderR(cols: ArrayLike<number>, m: number, n: number): Float64Array {
  const A = new Float64Array(m * n);
  for (let i = 0; i < m * n; i++) A[i] = cols[i]!;
  const at = (i: number, c: number) => c * m + i;
  const steps = Math.min(m, n);
  const v = new Float64Array(m);
  for (let j = 0; j < steps; j++) {
    let norm = 0;
    for (let i = j; i < m; i++) norm += A[at(i, j)]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const x0 = A[at(j, j)]!;
    const alpha = x0 > 0 ? -norm : norm;
    let vnorm = 0;
    for (let i = j; i < m; i++) {
      v[i] = A[at(i, j)]! - (i === j ? alpha : 0);
      vnorm += v[i]! ** 2;
    }
    if (vnorm === 0) continue;
    // A <- (I - 2 v v^T / v^T v) A on rows j.., columns j..
    for (let c = j; c < n; c++) {
      const col = c * m;
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i]! * A[col + i]!;
      const s = (2 * dot) / vnorm;
      for (let i = j; i < m; i++) A[col + i] = A[col + i]! - s * v[i]!;
    }
  }
  const R = new Float64Array(steps * n);
  for (let i = 0; i < steps; i++) for (let c = i; c < n; c++) R[i * n + c] = A[at(i, c)]!;
  return R;
}

/** Singular values of a [m, n] by one-sided Jacobi rotations, largest first. */
export function singularValues(a: Float64Array, m: number, n: number): Float64Array {
  // Work on columns: rotate pairs until all are orthogonal; their norms are the values.
  const cols = Array.from({ length: n }, (_, c) => Float64Array.from({ length: m }, (_, r) => a[r * n + c]!));
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const cp = cols[p]!;
        const cq = cols[q]!;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let r = 0; r < m; r++) {
          alpha += cp[r]! ** 2;
          beta += cq[r]! ** 2;
          gamma += cp[r]! * cq[r]!;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let r = 0; r < m; r++) {
          const x = cp[r]!;
          const y = cq[r]!;
          cp[r] = c * x - s * y;
          cq[r] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const values = cols.map((col) => Math.sqrt(col.reduce((s, x) => s + x * x, 0)));
  return Float64Array.from(values.sort((x, y) => y - x));
}

/** Singular values above numpy's matrix_rank threshold with float32's epsilon: sigma_max * max(dims) * 2^-23. */
function thresholdRank(sv: Float64Array, dims: readonly number[]): number {
  const tol = (sv[0] ?? 0) * Math.max(...dims) * 2 ** -23;
  return sv.reduce((r, s) => r + (s > tol ? 1 : 0), 0);
}

/** Singular values of a row-major [rows, dim] matrix through the R of a thin QR of its transpose. */
function rowSingularValues(x: ArrayLike<number>, rows: number, dim: number): Float64Array {
  const r = householderR(x, dim, rows);
  return singularValues(r, Math.min(dim, rows), rows);
}

/**
 * The given rows of a row-major [*, dim] matrix, equilibrated: rows and columns
 * alternately divided by their largest magnitude, then rows scaled to unit length.
 * Diagonal scalings keep the rank; they stop a direction that only a few tiny
 * entries carry (one head's share of a last-layer VJP, say) from falling under the
 * threshold, since float32 keeps each entry to its own relative precision.
 */
function balancedRows(x: ArrayLike<number>, rows: readonly number[], dim: number): Float64Array {
  const m = rows.length;
  const a = new Float64Array(m * dim);
  rows.forEach((row, i) => {
    for (let c = 0; c < dim; c++) a[i * dim + c] = x[row * dim + c]!;
  });
  const scaleRows = (norm: (i: number) => number) => {
    for (let i = 0; i < m; i++) {
      const s = norm(i);
      if (s > 0) for (let c = 0; c < dim; c++) a[i * dim + c] = a[i * dim + c]! / s;
    }
  };
  // Loops, not Math.max(...row): spreading a 3,072-wide row costs ~30x more.
  const rowMax = (i: number) => {
    let max = 0;
    for (let c = i * dim; c < (i + 1) * dim; c++) max = Math.max(max, Math.abs(a[c]!));
    return max;
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    scaleRows(rowMax);
    const colMax = new Float64Array(dim);
    for (let i = 0; i < m; i++) for (let c = 0; c < dim; c++) colMax[c] = Math.max(colMax[c]!, Math.abs(a[i * dim + c]!));
    for (let i = 0; i < m; i++) for (let c = 0; c < dim; c++) if (colMax[c]! > 0) a[i * dim + c] = a[i * dim + c]! / colMax[c]!;
  }
  scaleRows((i) => Math.hypot(...a.subarray(i * dim, (i + 1) * dim)));
  return a;
}

function isZeroRow(x: ArrayLike<number>, row: number, dim: number): boolean {
  for (let c = 0; c < dim; c++) if (x[row * dim + c] !== 0) return false;
  return true;
}

/**
 * Exact rank of X^T Delta = sum_i x_i delta_i^T from the factors (Lemma 4.1).
 *
 * Each x_i and delta_i is known to float32 precision relative to its own size,
 * not to the largest one: a position that receives 1e-9 of the gradient through a
 * peaked attention still has a precise direction. So the rank is decided on
 * equilibrated factors, over the terms whose factors are not exactly zero: when the
 * x's are independent, rank(X^T Delta) = rank(Delta), and symmetrically. Only when both
 * sides are rank-deficient is the threshold applied to the product itself
 * (numpy's rule on R_X R_Delta^T with X^T = Q_X R_X, Delta^T = Q_D R_D).
 * The singular values returned are always those of the product.
 */
export function rankOfProduct(x: ArrayLike<number>, delta: ArrayLike<number>, n: number, inDim: number, outDim: number): RankResult {
  const rx = householderR(x, inDim, n);
  const rd = householderR(delta, outDim, n);
  const p = Math.min(inDim, n);
  const q = Math.min(outDim, n);
  const M = new Float64Array(p * q);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += rx[i * n + c]! * rd[j * n + c]!;
      M[i * q + j] = s;
    }
  }
  const sv = singularValues(M, p, q);
  const live = Array.from({ length: n }, (_, i) => i).filter((i) => !isZeroRow(x, i, inDim) && !isZeroRow(delta, i, outDim));
  const m = live.length;
  const svX = rowSingularValues(balancedRows(x, live, inDim), m, inDim);
  const svD = rowSingularValues(balancedRows(delta, live, outDim), m, outDim);
  const rankX = thresholdRank(svX, [m, inDim]);
  const rankD = thresholdRank(svD, [m, outDim]);
  const [rank, decided] = rankX === m ? [rankD, svD] : rankD === m ? [rankX, svX] : [thresholdRank(sv, [inDim, outDim, n]), sv];
  return { rank, singularValues: sv, margin: cutGap(decided, rank), ambiguous: nearThreshold(sv) };
}

/** The gap the rank was cut in: the last kept singular value over the first dropped one; null when none was dropped. */
function cutGap(sv: Float64Array, rank: number): number | null {
  if (rank >= sv.length) return null;
  const dropped = sv[rank]!;
  return dropped > 0 ? sv[rank - 1]! / dropped : Infinity;
}

/**
 * Ambiguous: a singular value of the product within [1e-9, 1e-7] of the largest,
 * where float32's threshold (about 1e-7 times the largest, scaled by the size) can
 * fall either side of it, so a float64 SVD may count it and this rank not, or back.
 */
const AMBIGUOUS_BELOW = [1e-9, 1e-7] as const;

function nearThreshold(sv: Float64Array): boolean {
  const top = sv[0] ?? 0;
  return top > 0 && sv.some((s) => s >= AMBIGUOUS_BELOW[0] * top && s <= AMBIGUOUS_BELOW[1] * top);
}

