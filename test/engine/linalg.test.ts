// The exact gradient rank from factors (src/autograd/linalg.ts) against the float64
// dense reference (test/reference/svd.ts), on factors built to have a known rank,
// including terms a billion times smaller than the largest: the rank must not depend
// on how much of the gradient a position receives, only on whether it receives any.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { balancedRows, householderR, rankOfProduct, singularValues } from '../../src/autograd/linalg.ts';
import { balancedRowsRef, matrixRankRef, singularValuesRef } from '../reference/svd.ts';
import { mulberry32Ref } from '../reference/ops.ts';

function randomRows(r: () => number, rows: number, dim: number, scales: readonly number[] = []): Float32Array {
  return Float32Array.from({ length: rows * dim }, (_, i) => (r() * 2 - 1) * (scales[Math.floor(i / dim)] ?? 1));
}

/** X^T Delta in float64. */
function dense(x: Float32Array, delta: Float32Array, n: number, inDim: number, outDim: number): Float64Array {
  const g = new Float64Array(inDim * outDim);
  for (let t = 0; t < n; t++) for (let i = 0; i < inDim; i++) for (let j = 0; j < outDim; j++) g[i * outDim + j]! += x[t * inDim + i]! * delta[t * outDim + j]!;
  return g;
}

test('svd reference: a term 1e-10 of the other counts at float64 epsilon, not at float32 epsilon', () => {
  const r = mulberry32Ref(3);
  const [n, inDim, outDim] = [2, 7, 13];
  const x = randomRows(r, n, inDim);
  const delta = randomRows(r, n, outDim, [1, 1e-10]);
  const g = dense(x, delta, n, inDim, outDim);
  assert.is(matrixRankRef(g, inDim, outDim, 2 ** -52), 2);
  assert.is(matrixRankRef(g, inDim, outDim, 2 ** -23), 1);
  const diag = Float64Array.from({ length: 9 }, (_, i) => (i === 0 ? 3 : i === 4 ? 1e-12 : i === 8 ? 2 : 0));
  const sv = singularValuesRef(diag, 3, 3);
  assert.ok(Math.abs(sv[0]! - 3) < 1e-15 && Math.abs(sv[1]! - 2) < 1e-15 && Math.abs(sv[2]! - 1e-12) < 1e-27, `${sv}`);
});

test('rank from factors: n whatever the scale of each term, and equal to the float64 dense rank', () => {
  const r = mulberry32Ref(4);
  const [n, inDim, outDim] = [7, 13, 50];
  const x = randomRows(r, n, inDim, [1, 3, 1e-3, 1, 1, 1, 2]);
  const delta = randomRows(r, n, outDim, [1, 1e-9, 1e-6, 1e-20, 1, 1e-12, 1]);
  const { rank, singularValues } = rankOfProduct(x, delta, n, inDim, outDim);
  assert.is(rank, n);
  assert.is(singularValues.length, n);
  // The product's values, from its factors' QRs, are the dense product's to 1e-13 of the largest.
  const want = singularValuesRef(dense(x, delta, n, inDim, outDim), inDim, outDim);
  singularValues.forEach((s, i) => assert.ok(Math.abs(s - want[i]!) <= 1e-13 * want[0]!, `value ${i}: ${s} against ${want[i]}`));
  // Every term is above 1e-13 of the largest but for the 1e-20 one, which float64's threshold drops.
  assert.is(matrixRankRef(dense(x, delta, n, inDim, outDim), inDim, outDim, 2 ** -52), n - 1);
});

test('rank from factors: directions carried only by columns 1e-8 the size of the others still count', () => {
  // Like a last-layer c_attn VJP: most positions' share sits in one head's slots.
  const r = mulberry32Ref(6);
  const [n, inDim, outDim] = [6, 13, 20];
  const x = randomRows(r, n, inDim);
  const delta = randomRows(r, n, outDim).map((v, i) => (i % outDim < 3 ? v : v * 1e-8));
  assert.is(rankOfProduct(x, delta, n, inDim, outDim).rank, n);
  assert.is(matrixRankRef(dense(x, delta, n, inDim, outDim), inDim, outDim, 2 ** -52), n);
});

test('rank from factors: zero terms drop out; repeated directions count once', () => {
  const r = mulberry32Ref(5);
  const [n, inDim, outDim] = [5, 13, 7];
  const x = randomRows(r, n, inDim);
  const delta = randomRows(r, n, outDim, [1, 0, 1e-8, 1, 1]);
  assert.is(rankOfProduct(x, delta, n, inDim, outDim).rank, n - 1);
  // Rows 3 and 4 repeat x_0 and delta_0's direction, so x_0 d_0 + x_0 (2 d_0) - x_0 (d_0 / 2)
  // is one term; with row 2 at full scale the rank is 2, and both sides are deficient.
  for (let c = 0; c < outDim; c++) delta[2 * outDim + c] = delta[2 * outDim + c]! * 1e8;
  for (let c = 0; c < inDim; c++) x[3 * inDim + c] = x[4 * inDim + c] = x[c]!;
  for (let c = 0; c < outDim; c++) [delta[3 * outDim + c], delta[4 * outDim + c]] = [2 * delta[c]!, -0.5 * delta[c]!];
  const g = dense(x, delta, n, inDim, outDim);
  assert.is(rankOfProduct(x, delta, n, inDim, outDim).rank, 2);
  assert.is(matrixRankRef(g, inDim, outDim, 2 ** -23), 2);
  assert.is(rankOfProduct(new Float32Array(0), new Float32Array(0), 0, inDim, outDim).rank, 0);
});

/**
 * Every value within 1e-13 of the largest of the reference's (n * 2^-52 for the
 * sizes here is under 3e-14); exact zeros stay exact.
 */
function assertSameValues(a: Float64Array, m: number, n: number, what: string): void {
  const got = singularValues(a, m, n);
  const want = singularValuesRef(a, m, n);
  assert.is(got.length, Math.min(m, n), what);
  const top = want[0] ?? 0;
  got.forEach((s, i) => assert.ok(Math.abs(s - want[i]!) <= 1e-13 * top, `${what}: value ${i} ${s} against ${want[i]}`));
  want.forEach((s, i) => s === 0 && assert.is(got[i], 0, `${what}: value ${i} is exactly 0`));
}

test('singular values (bidiagonal QR) against the float64 Jacobi reference: odd shapes, graded, deficient, zeros', () => {
  const r = mulberry32Ref(7);
  const random = (m: number, n: number, rowScale: (i: number) => number = () => 1) =>
    Float64Array.from({ length: m * n }, (_, k) => (r() * 2 - 1) * rowScale(Math.floor(k / n)));
  for (const [m, n] of [[1, 1], [1, 7], [7, 1], [13, 7], [7, 13], [2, 2], [31, 31], [64, 50]] as const) {
    assertSameValues(random(m, n), m, n, `random ${m}x${n}`);
    assertSameValues(random(m, n, (i) => 10 ** -(i % 10)), m, n, `rows 1..1e-9, ${m}x${n}`);
  }
  // Rank 3 of 13: products of thin random factors, and exactly repeated columns.
  const u = random(13, 3);
  const v = random(3, 11);
  const low = Float64Array.from({ length: 13 * 11 }, (_, k) => [0, 1, 2].reduce((s, t) => s + u[Math.floor(k / 11) * 3 + t]! * v[t * 11 + (k % 11)]!, 0));
  assertSameValues(low, 13, 11, 'rank 3');
  const repeated = random(9, 5);
  for (let i = 0; i < 9; i++) [repeated[i * 5 + 3], repeated[i * 5 + 4]] = [repeated[i * 5]!, -2 * repeated[i * 5]!];
  assertSameValues(repeated, 9, 5, 'repeated columns');
  assertSameValues(new Float64Array(12), 3, 4, 'zero matrix');
  // Zeros on a bidiagonal's diagonal, inside the block and at its end: the rotations that split it.
  const bidiag = (d: number[], e: number[]) => {
    const a = new Float64Array(d.length * d.length);
    d.forEach((x, i) => (a[i * d.length + i] = x));
    e.forEach((x, i) => (a[i * d.length + i + 1] = x));
    return a;
  };
  assertSameValues(bidiag([1, 0, 2, 0.5], [1, 3, 0.25]), 4, 4, 'zero inside');
  assertSameValues(bidiag([1, 2, 0.5, 0], [1, 3, 0.25]), 4, 4, 'zero at the end');
  assertSameValues(bidiag([0, 2, 1e-12, 3, 0], [1, 1e-8, 1, 2]), 5, 5, 'graded with zeros');
});


// householderR's update runs in WebAssembly (src/autograd/householder.wat): two rows per
// f64x2 and four columns per pass, so odd m leaves a last row and n past a multiple of
// 4 leaves single columns. Whatever the signs, R^T R = A^T A (computed here in float64
// directly) and R is upper triangular; the tolerance is Householder's backward error,
// a few m * 2^-52 of the columns' squared norms (entries here are at most 1).
test('householderR: R^T R equals A^T A and R is upper triangular (odd rows, columns past the fours, wide and tall)', () => {
  const r = mulberry32Ref(7);
  for (const [m, n] of [[1, 1], [7, 3], [13, 7], [50, 13], [768, 5], [9, 13], [2, 6]] as const) {
    const cols = Float64Array.from({ length: m * n }, () => r() * 2 - 1);
    const R = householderR(cols, m, n);
    const steps = Math.min(m, n);
    for (let a = 0; a < n; a++) {
      for (let i = a + 1; i < steps; i++) assert.is(R[i * n + a], 0, `${m}x${n}: R[${i}, ${a}] below the diagonal`);
      for (let b = 0; b < n; b++) {
        let want = 0;
        for (let i = 0; i < m; i++) want += cols[a * m + i]! * cols[b * m + i]!;
        let got = 0;
        for (let i = 0; i < steps; i++) got += R[i * n + a]! * R[i * n + b]!;
        assert.ok(Math.abs(got - want) <= 8 * m * 2 ** -52 * m, `${m}x${n}: (R^T R)[${a}, ${b}] ${got} vs A^T A ${want}`);
      }
    }
  }
});

// balancedRows's divisions and largest magnitudes run in WebAssembly, two entries to a
// vector (householder.wat rows/cols); odd widths leave a last column, zero rows and
// columns skip their division, and graded rows (1e-9 .. 1e3) exercise every sweep.
test('balancedRows: bit for bit the plain equilibration (odd widths, zero rows and columns, graded rows, a subset of rows)', () => {
  const r = mulberry32Ref(11);
  for (const [n, dim] of [[1, 1], [3, 7], [13, 13], [7, 3072], [16, 768], [5, 2]] as const) {
    const x = randomRows(r, n, dim, Array.from({ length: n }, (_, i) => 10 ** ((i % 13) - 9)));
    if (n > 2) x.fill(0, dim, 2 * dim);
    if (dim > 2) for (let i = 0; i < n; i++) x[i * dim + 1] = 0;
    const rows = n > 2 ? [0, 1, ...Array.from({ length: n - 3 }, (_, i) => i + 3)] : [0];
    const got = balancedRows(x, rows, dim);
    const want = balancedRowsRef(x, rows, dim);
    assert.is(got.length, want.length);
    got.forEach((v, i) => assert.ok(Object.is(v, want[i]), `${n}x${dim} entry ${i}: ${v} vs ${want[i]}`));
  }
});

test.run();
