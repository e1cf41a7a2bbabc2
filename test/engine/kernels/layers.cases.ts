// MLP activations (gelu_new, exact gelu, relu), layernorm, attention, residual add:
// forward and backward through the tape, against the float64 references. Tolerances
// are relative to the largest entry: 1e-5 for pointwise ops (f32 rounding of one
// tanh, exp or erf), 1e-4 for row reductions of
// length <= 3072 (mean/variance/dot products accumulate in f32).
import type { Tape } from '../../../src/autograd/tape.ts';
import { attention } from '../../../src/ops/attention.ts';
import { layernorm } from '../../../src/ops/norm.ts';
import type { Activation } from '../../../src/ops/pointwise.ts';
import { activate, add, gelu } from '../../../src/ops/pointwise.ts';
import type { Tensor } from '../../../src/tensor.ts';
import {
  attentionBackwardRef, attentionRef, geluBackwardRef, geluErfBackwardRef, geluErfRef, geluRef, layernormBackwardRef, layernormRef,
  reluBackwardRef, reluRef,
} from '../../reference/ops.ts';
import { assertClose, gpu, read, rand, withTape, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

/** Backpropagates dy from y and returns the gradient that reached x. */
function backward(tape: Tape, y: Tensor, dy: ArrayLike<number>, x: Tensor): Tensor {
  tape.backward(y, tape.own(gpu(tape.k, [...y.shape], dy)));
  const g = tape.gradOf(x);
  if (!g) throw new Error('no gradient reached the input');
  return g;
}

const ACTIVATION_REFS: Record<Activation, [typeof geluRef, typeof geluBackwardRef]> = {
  gelu_new: [geluRef, geluBackwardRef],
  gelu: [geluErfRef, geluErfBackwardRef],
  relu: [reluRef, reluBackwardRef],
};

// 1e-5 relative to the largest value: float32 rounding of x³, tanh and exp, plus the
// WGSL erf's absolute error of 1.5e-7 for the exact GELU.
const activationCase = (activation: Activation, n: number): Case => opCase({
  name: `${activation} forward+backward n=${n}`,
  inputs: [{ shape: [n], data: rand(n, n, 6) }],
  dy: rand(n, n + 1),
  op: (tape, x) => activate(tape, x, activation),
  ref: (x) => ACTIVATION_REFS[activation][0](x),
  refBackward: (dy, x) => [ACTIVATION_REFS[activation][1](x, dy)],
  tol: 1e-5,
});

const EPS = 1e-5;

const layernormCase = (rows: number, cols: number): Case => opCase({
  name: `layernorm forward+backward ${rows}x${cols}`,
  inputs: [
    { shape: [rows, cols], data: rand(rows * cols, rows + cols, 3).map((v, i) => v + (i % 3)) }, // non-zero means
    { shape: [cols], data: rand(cols, 1).map((v) => 1 + 0.3 * v) },
    { shape: [cols], data: rand(cols, 2, 0.2) },
  ],
  dy: rand(rows * cols, 3),
  op: (tape, x, gamma, beta) => layernorm(tape, x, gamma, beta, EPS),
  ref: (x, gamma, beta) => layernormRef(x, rows, cols, gamma, beta, EPS).y,
  refBackward: (dy, x, gamma) => {
    const r = layernormBackwardRef(x, gamma, dy, rows, cols, EPS);
    return [r.dx, r.dgamma, r.dbeta];
  },
  tol: 1e-4,
});

const attentionCase = (T: number, nHead: number, hd: number): Case => opCase({
  name: `attention forward+backward T=${T} heads=${nHead} hd=${hd}`,
  inputs: [{ shape: [T, 3 * nHead * hd], data: rand(T * 3 * nHead * hd, T * 31 + nHead * hd, 2) }],
  dy: rand(T * nHead * hd, T + 5),
  op: (tape, qkv) => attention(tape, qkv, 1, T, nHead),
  ref: (qkv) => attentionRef(qkv, T, nHead, hd),
  refBackward: (dout, qkv) => [attentionBackwardRef(qkv, dout, T, nHead, hd)],
  tol: 1e-4,
});

/** Two sequences padded to one length: each must equal its own unpadded run. */
const attentionBatchCase: Case = {
  name: 'attention batch of 2 with padding equals single runs',
  run: (k) => withTape(k, async (tape) => {
    const [T, short, nHead, hd] = [7, 4, 2, 5];
    const d = nHead * hd;
    const qkv = rand(2 * T * 3 * d, 77, 2);
    const dout = rand(2 * T * d, 78).map((v, i) => (i >= (T + short) * d ? 0 : v)); // no gradient into padding
    const QKV = tape.own(gpu(k, [2 * T, 3 * d], qkv));
    const O = attention(tape, QKV, 2, T, nHead);
    const dQKV = backward(tape, O, dout, QKV);
    const [o, dqkv] = await read(k, O, dQKV);
    const seq = (b: number, len: number, x: Float64Array | Float32Array | Int32Array, w: number) => x.slice(b * T * w, b * T * w + len * w);
    for (const [b, len] of [[0, T], [1, short]] as const) {
      const q = seq(b, len, qkv, 3 * d);
      assertClose(seq(b, len, o!, d), attentionRef(q, len, nHead, hd), 1e-4, `batch ${b} out`);
      assertClose(seq(b, len, dqkv!, 3 * d), attentionBackwardRef(q, seq(b, len, dout, d), len, nHead, hd), 1e-4, `batch ${b} dqkv`);
    }
  }),
};

/** x feeds both inputs of the add and a gelu: its gradient must sum all three paths. */
const residualCase = opCase({
  name: 'residual add: gradients of a tensor used twice accumulate',
  inputs: [{ shape: [13], data: rand(13, 1, 2) }],
  dy: rand(13, 2),
  op: (tape, x) => add(tape, x, gelu(tape, x)),
  ref: (x) => {
    const g = geluRef(x);
    return x.map((v, i) => v + g[i]!);
  },
  refBackward: (dy, x) => {
    const dg = geluBackwardRef(x, dy);
    return [dy.map((v, i) => v + dg[i]!)];
  },
  tol: 1e-6,
});

/** Also run in headless Chromium by test/browser.test.ts. */
export const attentionCases: Case[] = [
  attentionCase(1, 1, 4), attentionCase(7, 2, 8), attentionCase(13, 3, 5), attentionCase(17, 2, 64),
  attentionBatchCase,
];

export const layerCases: Case[] = [
  ...(['gelu_new', 'gelu', 'relu'] as const).flatMap((a) => [activationCase(a, 1), activationCase(a, 7), activationCase(a, 13), activationCase(a, 50257)]),
  layernormCase(1, 7), layernormCase(13, 64), layernormCase(5, 768), layernormCase(3, 3072),
  ...attentionCases,
  residualCase,
];
