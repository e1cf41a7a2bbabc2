// Float64 singular values of a dense matrix, for checking the engine's factor-based
// ranks independently: one-sided Jacobi straight on the dense [m, n] gradient (the
// engine never forms it; it works on n x n factors of the prompt length). Rotating
// the matrix itself, not its Gram matrix, keeps singular values far below
// sqrt(eps) * sigma_max accurate, which a trained model's peaked attention needs.

/** Singular values of a row-major [m, n] matrix, largest first. */
export function singularValuesRef(a: ArrayLike<number>, m: number, n: number): number[] {
  // Orthogonalise the vectors along the smaller dimension: columns when m >= n, else rows.
  const count = Math.min(m, n);
  const length = Math.max(m, n);
  const v = Array.from({ length: count }, (_, i) => Float64Array.from({ length }, (_, j) => (m >= n ? a[j * n + i]! : a[i * n + j]!)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < count - 1; p++) {
      for (let q = p + 1; q < count; q++) {
        const vp = v[p]!;
        const vq = v[q]!;
        let app = 0;
        let aqq = 0;
        let apq = 0;
        for (let k = 0; k < length; k++) {
          app += vp[k]! ** 2;
          aqq += vq[k]! ** 2;
          apq += vp[k]! * vq[k]!;
        }
        if (Math.abs(apq) <= 1e-16 * Math.sqrt(app * aqq)) continue;
        rotated = true;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.hypot(1, theta));
        const c = 1 / Math.hypot(1, t);
        const s = t * c;
        for (let k = 0; k < length; k++) {
          const x = vp[k]!;
          const y = vq[k]!;
          vp[k] = c * x - s * y;
          vq[k] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  return v.map((col) => Math.hypot(...col)).sort((x, y) => y - x);
}

/** numpy.linalg.matrix_rank's rule with a given epsilon. */
export function matrixRankRef(a: ArrayLike<number>, m: number, n: number, eps: number): number {
  const sv = singularValuesRef(a, m, n);
  const tol = (sv[0] ?? 0) * Math.max(m, n) * eps;
  return sv.filter((s) => s > tol).length;
}

/**
 * linalg.ts balancedRows's equilibration written plainly: rows and columns alternately
 * divided by their largest magnitude, four sweeps, then rows to unit length. The same
 * IEEE operations in the same order, so the bits must match.
 */
export function balancedRowsRef(x: ArrayLike<number>, rows: readonly number[], dim: number): Float64Array {
  const m = rows.length;
  const a = Float64Array.from({ length: m * dim }, (_, i) => x[rows[Math.floor(i / dim)]! * dim + (i % dim)]!);
  const rowMax = (i: number) => a.subarray(i * dim, (i + 1) * dim).reduce((s, v) => Math.max(s, Math.abs(v)), 0);
  const divideRow = (i: number, s: number) => {
    if (s > 0) for (let c = 0; c < dim; c++) a[i * dim + c] = a[i * dim + c]! / s;
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let i = 0; i < m; i++) divideRow(i, rowMax(i));
    for (let c = 0; c < dim; c++) {
      let cm = 0;
      for (let i = 0; i < m; i++) cm = Math.max(cm, Math.abs(a[i * dim + c]!));
      if (cm > 0) for (let i = 0; i < m; i++) a[i * dim + c] = a[i * dim + c]! / cm;
    }
  }
  for (let i = 0; i < m; i++) {
    let acc = 0;
    for (let c = 0; c < dim; c++) acc = acc + a[i * dim + c]! ** 2;
    divideRow(i, Math.sqrt(acc));
  }
  return a;
}
