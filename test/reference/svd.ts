// Float64 singular values of a dense matrix, for checking the engine's factor-based
// ranks independently: eigenvalues of the Gram matrix A^T A by cyclic Jacobi
// rotations (a different algorithm from the engine's QR + one-sided Jacobi).

/** Singular values of a row-major [m, n] matrix, largest first. */
export function singularValuesRef(a: ArrayLike<number>, m: number, n: number): number[] {
  // The smaller Gram matrix: A A^T when m < n.
  const small = Math.min(m, n);
  const g = new Float64Array(small * small);
  for (let i = 0; i < small; i++) {
    for (let j = i; j < small; j++) {
      let s = 0;
      if (m <= n) for (let c = 0; c < n; c++) s += a[i * n + c]! * a[j * n + c]!;
      else for (let r = 0; r < m; r++) s += a[r * n + i]! * a[r * n + j]!;
      g[i * small + j] = s;
      g[j * small + i] = s;
    }
  }
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < small; p++) for (let q = p + 1; q < small; q++) off += g[p * small + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < small; p++) {
      for (let q = p + 1; q < small; q++) {
        const apq = g[p * small + q]!;
        if (apq === 0) continue;
        const theta = (g[q * small + q]! - g[p * small + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.hypot(1, theta));
        const c = 1 / Math.hypot(1, t);
        const s = t * c;
        for (let k = 0; k < small; k++) {
          const gkp = g[k * small + p]!;
          const gkq = g[k * small + q]!;
          g[k * small + p] = c * gkp - s * gkq;
          g[k * small + q] = s * gkp + c * gkq;
        }
        for (let k = 0; k < small; k++) {
          const gpk = g[p * small + k]!;
          const gqk = g[q * small + k]!;
          g[p * small + k] = c * gpk - s * gqk;
          g[q * small + k] = s * gpk + c * gqk;
        }
      }
    }
  }
  return Array.from({ length: small }, (_, i) => Math.sqrt(Math.max(0, g[i * small + i]!))).sort((x, y) => y - x);
}

/** numpy.linalg.matrix_rank's rule with a given epsilon. */
export function matrixRankRef(a: ArrayLike<number>, m: number, n: number, eps: number): number {
  const sv = singularValuesRef(a, m, n);
  const tol = (sv[0] ?? 0) * Math.max(m, n) * eps;
  return sv.filter((s) => s > tol).length;
}
