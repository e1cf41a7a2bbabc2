// Float64 reference of ROME's and MEMIT's closed forms written the obvious way: an
// explicit inverse by Gauss-Jordan elimination with partial pivoting, and the
// formulas in the authors' orientation (W_torch [d, f], ΔW_torch = R Kᵀ (λC + KKᵀ)⁻¹;
// ROME: ΔW_torch = (v* − out) (C⁻¹k̄)ᵀ / ((C⁻¹k̄)ᵀ k)), transposed at the end into
// Conv1D's [f, d]. Shares no code with src/edit/located/closed-form.ts. And the
// statistics they whiten with, C = E[k kᵀ], summed over tokens in float64.

/** Inverse of a row-major [n, n] matrix. */
export function inverseRef(a: ArrayLike<number>, n: number): Float64Array {
  const m = Array.from({ length: n }, (_, i) => Float64Array.from({ length: 2 * n }, (_, j) => (j < n ? a[i * n + j]! : j - n === i ? 1 : 0)));
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    const p = m[c]![c]!;
    for (let j = 0; j < 2 * n; j++) m[c]![j] = m[c]![j]! / p;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const factor = m[r]![c]!;
      for (let j = 0; j < 2 * n; j++) m[r]![j] = m[r]![j]! - factor * m[c]![j]!;
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = m[i]![n + j]!;
  return out;
}

const matvec = (a: ArrayLike<number>, x: ArrayLike<number>, n: number): Float64Array =>
  Float64Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < x.length; j++) s += a[i * x.length + j]! * x[j]!;
    return s;
  });

/** ROME's ΔW in Conv1D layout [f, d]. */
export function romeRef(C: ArrayLike<number>, f: number, keyMean: ArrayLike<number>, key: ArrayLike<number>, residual: ArrayLike<number>): Float64Array {
  const u = matvec(inverseRef(C, f), keyMean, f);
  const uNorm = Math.hypot(...u); // ROME's unit-length left vector
  const unit = u.map((x) => x / uNorm);
  const denom = unit.reduce((s, x, i) => s + x * key[i]!, 0);
  const d = residual.length;
  const torch = new Float64Array(d * f); // [d, f]
  for (let o = 0; o < d; o++) for (let i = 0; i < f; i++) torch[o * f + i] = (residual[o]! / denom) * unit[i]!;
  const out = new Float64Array(f * d);
  for (let o = 0; o < d; o++) for (let i = 0; i < f; i++) out[i * d + o] = torch[o * f + i]!;
  return out;
}

/** MEMIT's ΔW in Conv1D layout [f, d]; keys[i] f entries, residuals[i] d entries. */
export function memitRef(C: ArrayLike<number>, f: number, lambda: number, keys: ArrayLike<number>[], residuals: ArrayLike<number>[]): Float64Array {
  const m = keys.length;
  const d = residuals[0]!.length;
  const sys = new Float64Array(f * f);
  for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) {
    let s = lambda * C[i * f + j]!;
    for (let t = 0; t < m; t++) s += keys[t]![i]! * keys[t]![j]!;
    sys[i * f + j] = s;
  }
  const inv = inverseRef(sys, f);
  // R Kᵀ [d, f], then times inv.
  const rk = new Float64Array(d * f);
  for (let o = 0; o < d; o++) for (let i = 0; i < f; i++) {
    let s = 0;
    for (let t = 0; t < m; t++) s += residuals[t]![o]! * keys[t]![i]!;
    rk[o * f + i] = s;
  }
  const out = new Float64Array(f * d);
  for (let o = 0; o < d; o++) for (let j = 0; j < f; j++) {
    let s = 0;
    for (let i = 0; i < f; i++) s += rk[o * f + i]! * inv[i * f + j]!;
    out[j * d + o] = s;
  }
  return out;
}

/** C = E[k kᵀ] over every token of `windows` (row-major [f, f]); `keysOf(ids)` gives a window's keys, [ids.length, f] row-major. */
export function secondMomentRef(windows: readonly number[][], f: number, keysOf: (ids: number[]) => ArrayLike<number>): Float64Array {
  const tokens = windows.reduce((n, w) => n + w.length, 0);
  const c = new Float64Array(f * f);
  for (const ids of windows) {
    const k = keysOf(ids);
    for (let t = 0; t < ids.length; t++) for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) c[i * f + j]! += (k[t * f + i]! * k[t * f + j]!) / tokens;
  }
  return c;
}
