// Small dense float64 linear algebra for the exact gradient rank: the factors are
// n x in and n x out, so everything here works on n x n problems.
import type { RankResult } from './factors.ts';
import { balanceMemory, bidiagonalMemory, householderMemory } from './householder.ts';

// The large working copies (a factor's rows, n x up to 4d) reuse one buffer per use
// from call to call (householderR's lives in householder.ts's WebAssembly memory): fresh arrays for every factor of an analysis (~1.4 MB for an MLP
// factor of gpt2-small at 16 tokens) were ~15 MiB of garbage at the peak of `analyze`'s
// memory, and the heap kept what they freed (bench/RESULTS.md, issue 28, section 9).
// Each is filled before it is read, and nothing here awaits, so no two calls share one.
const scratch = { rows: new Float64Array(0), live: new Float64Array(0) };

function reused(use: keyof typeof scratch, length: number): Float64Array {
  if (scratch[use].length < length) scratch[use] = new Float64Array(length);
  return scratch[use].subarray(0, length);
}

/**
 * R (min(m,n) x n, upper triangular, row-major) of a thin Householder QR of the
 * [m, n] matrix whose n columns are the rows of `cols` ([n, m] row-major: a factor's
 * x_i or delta_i as they come from the GPU). Columns stay contiguous, so every inner
 * loop walks memory in order instead of striding by n.
 */
export function householderR(cols: ArrayLike<number>, m: number, n: number): Float64Array {
  const { A, v, reflect } = householderMemory(m, n);
  for (let i = 0; i < m * n; i++) A[i] = cols[i]!;
  const at = (i: number, c: number) => c * m + i;
  const steps = Math.min(m, n);
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
    // A <- (I - 2 v v^T / v^T v) A on rows j.., columns j.. (householder.wat).
    reflect(j, vnorm);
  }
  const R = new Float64Array(steps * n);
  for (let i = 0; i < steps; i++) for (let c = i; c < n; c++) R[i * n + c] = A[at(i, c)]!;
  return R;
}

/**
 * Singular values of a row-major [m, n] matrix, largest first: Householder
 * bidiagonalisation, then implicit-shift QR on the bidiagonal (Golub and Van Loan,
 * Algorithms 5.4.2 and 8.6.2). Both work on the matrix itself, not its Gram matrix,
 * so every value is known to about n * 2^-52 of the largest, far below the float32
 * threshold and the 1e-9 edge of the ambiguity band. About (8/3) n^3 flops: the
 * one-sided Jacobi this replaces took 10-20 sweeps of ~6 n^3 each on a prompt's factors.
 */
export function singularValues(a: Float64Array, m: number, n: number): Float64Array {
  const [rows, cols] = m >= n ? [m, n] : [n, m];
  const mem = bidiagonalMemory(rows, cols);
  if (m >= n) mem.b.set(a.subarray(0, m * n));
  else for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) mem.b[j * m + i] = a[i * n + j]!;
  const { d, e } = bidiagonal(mem, rows, cols);
  return bidiagonalSingularValues(d, e);
}

/**
 * Reflects `len` entries of v (from `from`) so that all but the first vanish; returns
 * the first one's new value and leaves the reflector in v, its squared norm in the
 * result's second place (0: nothing to reflect).
 */
function reflector(v: Float64Array, from: number, len: number): [number, number] {
  let norm = 0;
  for (let i = from; i < from + len; i++) norm += v[i]! ** 2;
  norm = Math.sqrt(norm);
  if (norm === 0) return [0, 0];
  const x0 = v[from]!;
  const alpha = x0 > 0 ? -norm : norm;
  v[from] = x0 - alpha;
  let vnorm = 0;
  for (let i = from; i < from + len; i++) vnorm += v[i]! ** 2;
  return [alpha, vnorm];
}

/**
 * Diagonal d and superdiagonal e of U^T B V for the row-major [rows, cols] B, rows >= cols
 * (B, in `mem`, is overwritten). The reflections are householder.wat's.
 */
function bidiagonal(mem: ReturnType<typeof bidiagonalMemory>, rows: number, cols: number): { d: Float64Array; e: Float64Array } {
  const { b, v, w } = mem;
  const d = new Float64Array(cols);
  const e = new Float64Array(Math.max(cols - 1, 0));
  for (let k = 0; k < cols; k++) {
    // From the left: column k below the diagonal. Row by row, so every loop runs along memory.
    for (let i = k; i < rows; i++) v[i] = b[i * cols + k]!;
    const [alpha, vnorm] = reflector(v, k, rows - k);
    d[k] = vnorm === 0 ? v[k]! : alpha;
    // w = v^T B on columns k + 1 .., then B -= (2 / vnorm) v w^T (each w[j] summed over the rows in order).
    if (vnorm > 0 && k + 1 < cols) mem.left(k, vnorm);
    if (k + 1 >= cols) continue;
    // From the right: row k beyond the superdiagonal.
    for (let j = k + 1; j < cols; j++) w[j] = b[k * cols + j]!;
    const [beta, unorm] = reflector(w, k + 1, cols - k - 1);
    e[k] = unorm === 0 ? w[k + 1]! : beta;
    if (unorm > 0) mem.right(k, unorm);
  }
  return { d, e };
}

/** c, s and r with c y + s z = r, -s y + c z = 0 (r = 0: c = 1, s = 0). */
function givens(y: number, z: number): [number, number, number] {
  const r = Math.hypot(y, z);
  return r === 0 ? [1, 0, 0] : [y / r, z / r, r];
}

/** Singular values of the upper bidiagonal matrix with diagonal d and superdiagonal e, largest first (both overwritten). */
function bidiagonalSingularValues(d: Float64Array, e: Float64Array): Float64Array {
  const n = d.length;
  const eps = 2 ** -52;
  for (let iter = 0; iter < 75 * n; iter++) {
    // A superdiagonal entry below the rounding of its neighbours is a split; diagonal
    // entries are kept however small, so a tiny singular value stays what it is.
    for (let i = 0; i < n - 1; i++) if (Math.abs(e[i]!) <= eps * (Math.abs(d[i]!) + Math.abs(d[i + 1]!))) e[i] = 0;
    // The last block [lo, hi] whose superdiagonal has no zero.
    let hi = n - 1;
    while (hi > 0 && e[hi - 1] === 0) hi--;
    if (hi === 0) break;
    let lo = hi - 1;
    while (lo > 0 && e[lo - 1] !== 0) lo--;
    const zeroAt = d.subarray(lo, hi + 1).indexOf(0);
    if (zeroAt >= 0) {
      zeroRowOrColumn(d, e, lo, lo + zeroAt, hi);
      continue;
    }
    qrStep(d, e, lo, hi);
  }
  return Float64Array.from(d, Math.abs).sort().reverse();
}

/**
 * A zero on the diagonal at z splits the block: rotations move its row's (z < hi)
 * or its column's (z = hi) superdiagonal entry out of the matrix.
 */
function zeroRowOrColumn(d: Float64Array, e: Float64Array, lo: number, z: number, hi: number): void {
  if (z < hi) {
    // Left rotations of rows z and j push row z's entry right until it leaves.
    let x = e[z]!;
    e[z] = 0;
    for (let j = z + 1; j <= hi && x !== 0; j++) {
      const [c, s, r] = givens(d[j]!, x);
      d[j] = r;
      if (j < hi) {
        x = -s * e[j]!;
        e[j] = c * e[j]!;
      }
    }
    return;
  }
  // Right rotations of columns j and hi push column hi's entry up until it leaves.
  let x = e[hi - 1]!;
  e[hi - 1] = 0;
  for (let j = hi - 1; j >= lo && x !== 0; j--) {
    const [c, s, r] = givens(d[j]!, x);
    d[j] = r;
    if (j > lo) {
      x = -s * e[j - 1]!;
      e[j - 1] = c * e[j - 1]!;
    }
  }
}

/** One Golub-Kahan step on the unreduced block [lo, hi], shifted by the eigenvalue of B^T B's trailing 2 x 2 nearer its last entry. */
function qrStep(d: Float64Array, e: Float64Array, lo: number, hi: number): void {
  const t11 = d[hi - 1]! ** 2 + (hi - 1 > lo ? e[hi - 2]! ** 2 : 0);
  const t12 = d[hi - 1]! * e[hi - 1]!;
  const t22 = d[hi]! ** 2 + e[hi - 1]! ** 2;
  const half = (t11 - t22) / 2;
  const mu = t22 - (t12 * t12) / (half + (half >= 0 ? 1 : -1) * Math.hypot(half, t12));
  let y = d[lo]! ** 2 - mu;
  let z = d[lo]! * e[lo]!;
  for (let k = lo; k < hi; k++) {
    // Columns k, k+1 (from the right): zero z against y.
    let [c, s, r] = givens(y, z);
    if (k > lo) e[k - 1] = r;
    const dk = c * d[k]! + s * e[k]!;
    e[k] = -s * d[k]! + c * e[k]!;
    const bulge = s * d[k + 1]!;
    d[k + 1] = c * d[k + 1]!;
    // Rows k, k+1 (from the left): zero the bulge below the diagonal.
    [c, s, r] = givens(dk, bulge);
    d[k] = r;
    const ek = c * e[k]! + s * d[k + 1]!;
    d[k + 1] = -s * e[k]! + c * d[k + 1]!;
    e[k] = ek;
    if (k + 1 < hi) {
      y = e[k]!;
      z = s * e[k + 1]!;
      e[k + 1] = c * e[k + 1]!;
    }
  }
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
export function balancedRows(x: ArrayLike<number>, rows: readonly number[], dim: number): Float64Array {
  const m = rows.length;
  // The divisions and largest magnitudes are householder.wat's (each entry as here, two
  // to a vector); the sums of squares stay here, in order.
  const { a, scale, colMax, rows: divideRows, cols: divideCols } = balanceMemory(m, dim);
  // Each row's largest magnitude (after the last sweep, its norm), taken in the pass that
  // last changed the row: two passes a sweep instead of four, the same operations on
  // every entry in the same order. Loops, not Math.max(...row): spreading a 3,072-wide
  // row costs ~30x more.
  rows.forEach((row, i) => {
    let max = 0;
    for (let c = 0; c < dim; c++) {
      const v = x[row * dim + c]!;
      a[i * dim + c] = v;
      max = Math.max(max, Math.abs(v));
    }
    scale[i] = max;
  });
  const SWEEPS = 4;
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    colMax.fill(0);
    divideRows();
    const last = sweep === SWEEPS - 1;
    divideCols(!last);
    // Every entry is at most 1 after the column scaling, so a plain sum of squares
    // cannot overflow; Math.hypot over a spread row took 7 % of the ranks' time.
    if (last) {
      for (let i = 0; i < m; i++) {
        let acc = 0;
        for (let c = 0; c < dim; c++) acc = acc + a[i * dim + c]! ** 2;
        scale[i] = Math.sqrt(acc);
      }
    }
  }
  // Rows to unit length (divideRows also raises colMax, which is not read again).
  divideRows();
  // Out of the module's memory, which householderR overwrites.
  const out = reused('rows', m * dim);
  out.set(a);
  return out;
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
  const live = Array.from({ length: n }, (_, i) => i).filter((i) => !isZeroRow(x, i, inDim) && !isZeroRow(delta, i, outDim));
  const m = live.length;
  // A term with a zero factor adds nothing to the product, so its QRs leave it out
  // (a last layer's VJP is zero but at the last position); the values it would have
  // added are exact zeros.
  const rx = householderR(liveRows(x, live, n, inDim), inDim, m);
  const rd = householderR(liveRows(delta, live, n, outDim), outDim, m);
  const p = Math.min(inDim, m);
  const q = Math.min(outDim, m);
  const M = new Float64Array(p * q);
  // Both R factors are upper triangular: the terms before column max(i, j) are exact
  // zeros, and adding a zero to a sum that starts at +0 leaves its bits as they were.
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) {
      let s = 0;
      for (let c = Math.max(i, j); c < m; c++) s += rx[i * m + c]! * rd[j * m + c]!;
      M[i * q + j] = s;
    }
  }
  const sv = new Float64Array(Math.min(inDim, outDim, n));
  sv.set(singularValues(M, p, q));
  const svX = rowSingularValues(balancedRows(x, live, inDim), m, inDim);
  const svD = rowSingularValues(balancedRows(delta, live, outDim), m, outDim);
  const rankX = thresholdRank(svX, [m, inDim]);
  const rankD = thresholdRank(svD, [m, outDim]);
  const [rank, decided] = rankX === m ? [rankD, svD] : rankD === m ? [rankX, svX] : [thresholdRank(sv, [inDim, outDim, n]), sv];
  return { rank, singularValues: sv, margin: cutGap(decided, rank), ambiguous: nearThreshold(sv) };
}

/** The given rows of a row-major [n, dim] matrix; the matrix itself when they are all of them. */
function liveRows(a: ArrayLike<number>, live: readonly number[], n: number, dim: number): ArrayLike<number> {
  if (live.length === n) return a;
  const out = reused('live', live.length * dim);
  live.forEach((row, i) => {
    for (let c = 0; c < dim; c++) out[i * dim + c] = a[row * dim + c]!;
  });
  return out;
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

