// The closed-form weight updates of ROME (Meng et al. 2022) and MEMIT (Meng et al.
// 2023), in float64 on the CPU. FF2's weight W is in Conv1D layout [f, d] (f = 4d
// inputs, d outputs: z = k W + b), so an update is ΔW = (key side) ⊗ (value side).
// The systems are f x f with f = 512 for the default model and 3072 for gpt2-small:
// one Cholesky factor of the second moment C per layer (f³/3 flops, ~10 s in JS
// at 3072) is kept and reused by every edit at that layer, so an edit itself only
// costs triangular solves (f² per key).

export class SingularMomentError extends Error {
  override name = 'SingularMomentError';
}

/** Lower Cholesky factor L of a symmetric positive definite row-major [n, n] matrix (A = L Lᵀ). */
export class Cholesky {
  private constructor(readonly n: number, private readonly L: Float64Array) {}

  static factor(a: ArrayLike<number>, n: number, what = 'the matrix'): Cholesky {
    if (a.length !== n * n) throw new RangeError(`cholesky: ${a.length} entries for a ${n} x ${n} matrix`);
    const L = new Float64Array(n * n);
    for (let j = 0; j < n; j++) {
      const rowJ = j * n;
      let d = a[rowJ + j]!;
      for (let p = 0; p < j; p++) d -= L[rowJ + p]! ** 2;
      // The second moment of GELU outputs is positive definite once there are more tokens than dimensions.
      if (!(d > 0)) throw new SingularMomentError(`${what} is not positive definite (pivot ${j} of ${n} is ${d.toPrecision(3)}): collect statistics over more tokens`);
      const ljj = Math.sqrt(d);
      L[rowJ + j] = ljj;
      for (let i = j + 1; i < n; i++) {
        const rowI = i * n;
        let s = (a[rowI + j]! + a[rowJ + i]!) / 2; // symmetrise: accumulated moments differ in the last bits
        for (let p = 0; p < j; p++) s -= L[rowI + p]! * L[rowJ + p]!;
        L[rowI + j] = s / ljj;
      }
    }
    return new Cholesky(n, L);
  }

  /** x with A x = b. */
  solve(b: ArrayLike<number>): Float64Array {
    const { n, L } = this;
    if (b.length !== n) throw new RangeError(`cholesky solve: right side has ${b.length} entries, expected ${n}`);
    const y = Float64Array.from(b);
    for (let i = 0; i < n; i++) {
      let s = y[i]!;
      for (let p = 0; p < i; p++) s -= L[i * n + p]! * y[p]!;
      y[i] = s / L[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let p = i + 1; p < n; p++) s -= L[p * n + i]! * y[p]!;
      y[i] = s / L[i * n + i]!;
    }
    return y;
  }
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** A rank-one update ΔW = u ⊗ r of a Conv1D weight [u.length, r.length]. */
export interface RankOne {
  u: Float64Array;
  r: Float64Array;
}

/**
 * ROME's update (rome/compute_u.py, compute_v.py): with u = C⁻¹ k̄, where k̄ is the key
 * averaged over the context prefixes, and k the key of the plain prompt,
 * ΔW = u ⊗ (v* − out(k)) / (uᵀ k), so the edited layer maps k to v* exactly. ROME
 * normalises u to unit length first; the scale cancels in the quotient, so it is
 * left out. `residual` is v* − out(k) (d entries).
 */
export function romeUpdate(moment: Cholesky, keyMean: ArrayLike<number>, key: ArrayLike<number>, residual: ArrayLike<number>): RankOne {
  const u = moment.solve(keyMean);
  const denominator = dot(u, key);
  if (!(Math.abs(denominator) > 0)) throw new SingularMomentError('ROME: the key is orthogonal to C⁻¹k̄; the update is undefined');
  return { u, r: Float64Array.from(residual, (x) => x / denominator) };
}

/**
 * MEMIT's batched update at one layer (memit/memit_main.py): keys K [f, m] and
 * residuals R [d, m] (already divided by the number of layers left) give
 * ΔW_torch = R Kᵀ (λC + K Kᵀ)⁻¹, i.e. in Conv1D layout ΔW = (λC + K Kᵀ)⁻¹ K Rᵀ.
 * It is computed through the push-through identity
 * (λC + K Kᵀ)⁻¹ K = C⁻¹K (λI + Kᵀ C⁻¹ K)⁻¹, exact in exact arithmetic, so C's one
 * Cholesky factor serves every batch and the only new system is m x m.
 * Keys and residuals come one per edit: keys[i] has f entries, residuals[i] d.
 * Returns A [m, f] and R [m, d] with ΔW = Aᵀ R (a sum of m rank-one terms).
 */
export function memitUpdate(moment: Cholesky, lambda: number, keys: readonly ArrayLike<number>[], residuals: readonly ArrayLike<number>[]): { A: Float64Array[]; R: Float64Array[] } {
  const m = keys.length;
  if (m === 0 || residuals.length !== m) throw new RangeError(`memit: ${m} keys and ${residuals.length} residuals`);
  if (!(lambda > 0)) throw new RangeError(`memit: covariance weight ${lambda} must be > 0`);
  const cinvK = keys.map((k) => moment.solve(k));
  // S = λI + Kᵀ C⁻¹ K, symmetric positive definite.
  const S = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) S[i * m + j] = (i === j ? lambda : 0) + dot(keys[i]!, cinvK[j]!);
  const s = Cholesky.factor(S, m, 'MEMIT\'s key system');
  // A = (C⁻¹K S⁻¹)ᵀ: row i = Σ_j (S⁻¹)_ij C⁻¹k_j, from S⁻¹ column by column.
  const f = keys[0]!.length;
  const A = Array.from({ length: m }, () => new Float64Array(f));
  for (let j = 0; j < m; j++) {
    const e = new Float64Array(m);
    e[j] = 1;
    const col = s.solve(e); // column j of S⁻¹ (= row j: S is symmetric)
    for (let i = 0; i < m; i++) {
      const w = col[i]!;
      const row = A[i]!;
      const ck = cinvK[j]!;
      for (let p = 0; p < f; p++) row[p] = row[p]! + w * ck[p]!;
    }
  }
  return { A, R: residuals.map((r) => Float64Array.from(r)) };
}

/** The dense [f, d] matrix Σ_i a_i ⊗ r_i, for tests and small models. */
export function denseUpdate(A: readonly ArrayLike<number>[], R: readonly ArrayLike<number>[]): Float64Array {
  const f = A[0]!.length;
  const d = R[0]!.length;
  const out = new Float64Array(f * d);
  A.forEach((a, t) => {
    const r = R[t]!;
    for (let i = 0; i < f; i++) for (let j = 0; j < d; j++) out[i * d + j] = out[i * d + j]! + a[i]! * r[j]!;
  });
  return out;
}
