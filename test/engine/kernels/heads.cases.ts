// softmax cross-entropy, embedding gather/scatter, vocabulary top-k/rank, AdamW,
// and the linear op's factors, against the float64 references. Tolerances are
// relative to the largest entry: 1e-5 for the loss and dlogits (one log-sum-exp
// over <= 50,257 terms, accumulated in f32), one f32 rounding for gathers and
// scatter-adds, exact for integer outputs, 1e-6 for AdamW (a handful of f32 operations per element).
import { readF32 } from '../../../src/gpu/buffers.ts';
import { adamw } from '../../../src/gpu/adam.ts';
import { embed, selectRows } from '../../../src/ops/embedding.ts';
import { linear } from '../../../src/ops/linear.ts';
import { unembed } from '../../../src/ops/unembed.ts';
import { normalizeRows, rowNorms } from '../../../src/gpu/rows.ts';
import { topk } from '../../../src/gpu/vocab.ts';
import { softmaxXent } from '../../../src/ops/xent.ts';
import { adamwRef, embeddingBackwardRef, embeddingRef, matmulRef, softmaxXentBackwardRef, softmaxXentRef, topkRef } from '../../reference/ops.ts';
import { assertClose, assertEqual, gpu, read, rand, withTape, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';
import type { Tape } from '../../../src/autograd/tape.ts';
import type { Kernels } from '../../../src/gpu/kernels.ts';
import type { Tensor } from '../../../src/tensor.ts';

/** Softmax cross-entropy of random [rows, V] logits against the reference; `check` sees the logits tensor first. */
export async function checkXent(k: Kernels, tape: Tape, rows: number, V: number, ignoreRow: number, check: (logits: Tensor) => void = () => {}): Promise<void> {
  const logits = rand(rows * V, rows * V, 8);
  const targets = Array.from({ length: rows }, (_, r) => (r === ignoreRow ? -1 : (r * 7919 + 3) % V));
  const dloss = rand(rows, 5).map((v) => 1 + v);
  const L = tape.own(gpu(k, [rows, V], logits));
  check(L);
  const { loss, lse } = softmaxXent(tape, L, tape.own(gpu(k, [rows], targets, 'i32')));
  tape.backward(loss, tape.own(gpu(k, [rows], dloss)));
  const [l, s, dl] = await read(k, loss, lse, tape.gradOf(L)!);
  const ref = softmaxXentRef(logits, rows, V, targets);
  assertClose(l!, ref.loss, 1e-5, 'loss');
  assertClose(s!, ref.lse, 1e-5, 'lse');
  assertClose(dl!, softmaxXentBackwardRef(logits, rows, V, targets, dloss), 1e-5, 'dlogits');
}

function xentCase(rows: number, V: number, ignoreRow: number): Case {
  return {
    name: `softmax-xent forward+backward ${rows}x${V}${ignoreRow >= 0 ? ' with an ignored row' : ''}`,
    run: (k) => withTape(k, (tape) => checkXent(k, tape, rows, V, ignoreRow)),
  };
}

function embeddingCase(V: number, P: number, d: number, ids: number[]): Case {
  return opCase({
    name: `embedding gather+scatter V=${V} d=${d} T=${ids.length}`,
    inputs: [
      { shape: [V, d], data: rand(V * d, V + d) },
      { shape: [P, d], data: rand(P * d, P + d) },
      { shape: [ids.length], data: ids, dtype: 'i32' },
      { shape: [ids.length], data: ids.map((_, t) => t), dtype: 'i32' },
    ],
    dy: rand(ids.length * d, 3),
    op: (tape, wte, wpe, tokens, positions) => embed(tape, wte, wpe, tokens, positions),
    ref: (wte, wpe) => embeddingRef(ids, wte, wpe, d),
    refBackward: (dout) => {
      const ref = embeddingBackwardRef(ids, dout, V, P, d);
      return [ref.dwte, ref.dwpe];
    },
    tol: 2 ** -23, // one f32 rounding of the sum
    gradTol: [1e-6, 0],
  });
}

/** Row selection (hidden states at target positions) and its scatter-add backward. */
const selectRowsCase = (() => {
  const [n, d, idx] = [7, 5, [6, 2, 6]];
  return opCase({
    name: 'select rows forward+backward with a repeated row',
    inputs: [{ shape: [n, d], data: rand(n * d, 4) }, { shape: [idx.length], data: idx, dtype: 'i32' }],
    dy: rand(idx.length * d, 5),
    op: (tape, x, rows) => selectRows(tape, x, rows),
    ref: (x) => idx.flatMap((r) => Array.from(x.slice(r * d, r * d + d))),
    refBackward: (dout) => {
      const dx = new Float64Array(n * d);
      idx.forEach((r, i) => { for (let c = 0; c < d; c++) dx[r * d + c]! += dout[i * d + c]!; });
      return [dx];
    },
    tol: 0,
    gradTol: [1e-7],
  });
})();

/**
 * Top-k and bottom-k of a [rows, V] score matrix against topkRef, exactly (ids and
 * scores); `check` sees the uploaded scores (the split cases assert they split).
 */
export async function checkTopk(k: Kernels, rows: number, V: number, count: number, withTies: boolean, check: (scores: Tensor) => void = () => {}): Promise<void> {
  // Ties: values quantised to a few levels so many ids share a score.
  const scores = rand(rows * V, V + count, 10).map((v) => (withTies ? Math.round(v) : v));
  const S = gpu(k, [rows, V], scores);
  check(S);
  for (const order of ['top', 'bottom'] as const) {
    const { ids, scores: vals } = topk(k, S, count, order);
    const [gotIds, gotVals] = await read(k, ids, vals);
    for (let r = 0; r < rows; r++) {
      const row = scores.slice(r * V, (r + 1) * V);
      const want = topkRef(row, count, order);
      assertEqual(Array.from(gotIds!.slice(r * count, (r + 1) * count)), want, `${order}-${count} ids row ${r}`);
      assertClose(gotVals!.slice(r * count, (r + 1) * count), want.map((i) => row[i]!), 0, `${order} scores row ${r}`);
    }
    [ids, vals].forEach((t) => t.dispose());
  }
  S.dispose();
}

function vocabCase(rows: number, V: number, count: number, withTies: boolean): Case {
  return {
    name: `vocab top/bottom-${count} ${rows}x${V}${withTies ? ' with ties' : ''}`,
    run: (k) => checkTopk(k, rows, V, count, withTies),
  };
}

function adamCase(n: number): Case {
  return {
    name: `adamw step n=${n}`,
    async run(k) {
      const [p, g, m] = [rand(n, 1), rand(n, 2), rand(n, 3, 0.1)];
      const v = rand(n, 4, 0.1).map(Math.abs);
      const h = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 };
      const [P, G, M, Vt] = [gpu(k, [n], p), gpu(k, [n], g), gpu(k, [n], m), gpu(k, [n], v)];
      adamw(k, P, G, M, Vt, h);
      const [gp, gm, gv] = await read(k, P, M, Vt);
      const ref = adamwRef(p, g, m, v, h);
      assertClose(gp!, ref.p, 1e-6, 'adam p');
      assertClose(gm!, ref.m, 1e-6, 'adam m');
      assertClose(gv!, ref.v, 1e-6, 'adam v');
      [P, G, M, Vt].forEach((t) => t.dispose());
    },
  };
}

/** Linear forward, dx, dW, db, and the factor identities: X^T Delta = dW, rank, update. */
function linearCase(n: number, inDim: number, outDim: number): Case {
  return {
    name: `linear + factors n=${n} ${inDim}->${outDim}`,
    run: (k) => withTape(k, async (tape) => {
      const [x, w, b, dz] = [rand(n * inDim, 1), rand(inDim * outDim, 2), rand(outDim, 3), rand(n * outDim, 4)];
      const [X, W, B] = [tape.own(gpu(k, [n, inDim], x)), tape.own(gpu(k, [inDim, outDim], w)), tape.own(gpu(k, [outDim], b))];
      const Z = linear(tape, 'layer', X, W, B);
      tape.backward(Z, tape.own(gpu(k, [n, outDim], dz)));
      const f = tape.factors.get('layer')!;
      const dense = tape.own(f.materialize());
      const [z, dx, dw, db, mat] = await read(k, Z, tape.gradOf(X)!, tape.gradOf(W)!, tape.gradOf(B)!, dense);
      const dwRef = matmulRef(x, dz, inDim, n, outDim, { transA: true });
      assertClose(z!, matmulRef(x, w, n, inDim, outDim, { bias: b }), 1e-4, 'z');
      assertClose(dx!, matmulRef(dz, w, n, outDim, inDim, { transB: true }), 1e-4, 'dx');
      assertClose(dw!, dwRef, 1e-4, 'dW');
      assertClose(mat!, dwRef, 1e-4, 'materialize');
      assertClose(db!, Array.from({ length: outDim }, (_, j) => Array.from({ length: n }, (_, i) => dz[i * outDim + j]!).reduce((s, v) => s + v, 0)), 1e-5, 'db');
      assertEqual((await f.rank()).rank, Math.min(n, inDim, outDim), 'rank of generic factors');
      f.applyUpdate(W, 0.25);
      assertClose(await readF32(k, W), w.map((v, i) => v - 0.25 * dwRef[i]!), 1e-5, 'applyUpdate');
      if (inDim < 3 || outDim < 5) return;
      const rows = tape.own(f.neuronRows(1, 2));
      const cols = tape.own(f.neuronColumns(2, 3));
      const [r, c] = await read(k, rows, cols);
      assertClose(r!, dwRef.slice(outDim, 3 * outDim), 1e-4, 'neuron rows');
      assertClose(c!, [2, 3, 4].flatMap((j) => Array.from({ length: inDim }, (_, i) => dwRef[i * outDim + j]!)), 1e-4, 'neuron columns');
    }),
  };
}

/**
 * Row norms and unit rows (analysis only, no backward); a zero row stays zero.
 * Tolerance: a sequential f32 sum of n squares errs by about sqrt(n) * 2^-24 relative,
 * so 1e-6 for rows up to 3072 and 1e-5 for a 50,257-wide row.
 */
function rowsCase(rows: number, cols: number): Case {
  return {
    name: `row norms and normalize_rows ${rows}x${cols}`,
    async run(k) {
      const x = rand(rows * cols, rows + cols, 3).map((v, i) => (Math.floor(i / cols) === rows - 1 && rows > 1 ? 0 : v));
      const X = gpu(k, [rows, cols], x);
      const [norms, unit] = await read(k, rowNorms(k, X), normalizeRows(k, X));
      const ref = Array.from({ length: rows }, (_, r) => Math.hypot(...x.subarray(r * cols, (r + 1) * cols)));
      const tol = cols > 3072 ? 1e-5 : 1e-6;
      assertClose(norms!, ref, tol, 'norms');
      assertClose(unit!, x.map((v, i) => (ref[Math.floor(i / cols)]! > 0 ? v / ref[Math.floor(i / cols)]! : 0)), tol, 'unit rows');
      X.dispose();
    },
  };
}

/** The tied LM head: logits = h wte^T, dh and dwte. */
const unembedCase = (() => {
  const [n, d, V] = [2, 16, 50257];
  return opCase({
    name: 'unembed (tied LM head) forward+backward V=50257',
    inputs: [{ shape: [n, d], data: rand(n * d, 1) }, { shape: [V, d], data: rand(V * d, 2) }],
    dy: rand(n * V, 3),
    op: (tape, h, wte) => unembed(tape, h, wte),
    ref: (h, wte) => matmulRef(h, wte, n, d, V, { transB: true }),
    refBackward: (dl, h, wte) => [matmulRef(dl, wte, n, V, d), matmulRef(dl, h, V, n, d, { transA: true })],
    tol: 1e-5,
    gradTol: [1e-4, 1e-5],
  });
})();

export const headCases: Case[] = [
  xentCase(1, 7, -1), xentCase(13, 13, 5), xentCase(3, 50257, 1),
  embeddingCase(11, 9, 7, [3, 1, 3, 10, 3]), embeddingCase(50257, 13, 8, [50256, 0, 50256, 15496, 995, 7, 0]), embeddingCase(5, 1, 1, [4]),
  selectRowsCase,
  vocabCase(1, 7, 7, false), vocabCase(3, 50257, 5, false), vocabCase(2, 50257, 100, true), vocabCase(13, 1000, 1, true),
  adamCase(1), adamCase(13), adamCase(50257),
  linearCase(1, 1, 1), linearCase(7, 13, 5), linearCase(13, 50, 7),
  unembedCase,
  rowsCase(1, 1), rowsCase(7, 13), rowsCase(3, 50257),
];
