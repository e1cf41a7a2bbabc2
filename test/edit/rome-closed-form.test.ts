// ROME's and MEMIT's closed forms (src/edit/located/closed-form.ts) against the float64
// reference (test/reference/rome.ts: explicit inverse, the authors' orientation) on
// odd sizes, with a second moment built like the real one (mean of k kᵀ over more
// tokens than dimensions).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cholesky, denseUpdate, memitUpdate, romeUpdate, SingularMomentError } from '../../src/edit/located/closed-form.ts';
import { assertClose } from '../helpers.ts';
import { mulberry32Ref } from '../reference/ops.ts';
import { inverseRef, memitRef, romeRef } from '../reference/rome.ts';

function vector(r: () => number, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => r() * 2 - 1);
}

/** E[k kᵀ] over `tokens` random keys (GELU-like: mostly positive). */
function secondMoment(r: () => number, f: number, tokens: number): Float64Array {
  const C = new Float64Array(f * f);
  for (let t = 0; t < tokens; t++) {
    const k = Float64Array.from({ length: f }, () => Math.max(-0.17, r() * 2 - 0.6));
    for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) C[i * f + j] = C[i * f + j]! + (k[i]! * k[j]!) / tokens;
  }
  return C;
}

test('cholesky solve equals the explicit inverse (f 13)', () => {
  const r = mulberry32Ref(1);
  const f = 13;
  const C = secondMoment(r, f, 40);
  const b = vector(r, f);
  const inv = inverseRef(C, f);
  const want = Float64Array.from({ length: f }, (_, i) => inv.subarray(i * f, (i + 1) * f).reduce((s, x, j) => s + x * b[j]!, 0));
  assertClose(Cholesky.factor(C, f).solve(b), want, 1e-10, 'C⁻¹b');
});

for (const [f, d] of [[7, 3], [13, 5], [29, 11]] as const) {
  test(`ROME rank-one update equals the reference (f ${f}, d ${d})`, () => {
    const r = mulberry32Ref(f);
    const C = secondMoment(r, f, 3 * f);
    const keyMean = vector(r, f);
    const key = keyMean.map((x) => x + 0.1 * (r() - 0.5));
    const residual = vector(r, d);
    const { u, r: rv } = romeUpdate(Cholesky.factor(C, f), keyMean, key, residual);
    assertClose(denseUpdate([u], [rv]), romeRef(C, f, keyMean, key, residual), 1e-9, 'ΔW');
    // The edited layer maps the key to its target: (W + ΔW)ᵀ k = Wᵀk + residual.
    const mapped = Float64Array.from({ length: d }, (_, j) => u.reduce((s, x, i) => s + key[i]! * x * rv[j]!, 0));
    assertClose(mapped, residual, 1e-10, 'ΔWᵀ k');
  });

  for (const m of [1, 4]) {
    test(`MEMIT batched update equals the reference (f ${f}, d ${d}, ${m} edits)`, () => {
      const r = mulberry32Ref(100 * f + m);
      const C = secondMoment(r, f, 3 * f);
      const keys = Array.from({ length: m }, () => vector(r, f));
      const residuals = Array.from({ length: m }, () => vector(r, d));
      for (const lambda of [1, 15000]) {
        const { A, R } = memitUpdate(Cholesky.factor(C, f), lambda, keys, residuals);
        assertClose(denseUpdate(A, R), memitRef(C, f, lambda, keys, residuals), 1e-8, `ΔW at λ ${lambda}`);
      }
    });
  }
}

test('a singular second moment is refused with a sentence', () => {
  const r = mulberry32Ref(9);
  const f = 7;
  const C = secondMoment(r, f, 3); // rank 3 < 7
  assert.throws(() => Cholesky.factor(C, f, 'the second moment'), (e: Error) => e instanceof SingularMomentError && /more tokens/.test(e.message));
});

test.run();
