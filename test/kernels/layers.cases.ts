// MLP activations (gelu_new, exact gelu, relu), layernorm, attention, residual add:
// forward and backward through the tape, against the float64 references. Tolerances
// are relative to the largest entry: 1e-5 for pointwise ops (f32 rounding of one
// tanh, exp or erf), 1e-4 for row reductions of
// length <= 3072 (mean/variance/dot products accumulate in f32).
import { Tape } from '../../src/autograd/tape.ts';
import type { Kernels } from '../../src/gpu/kernels.ts';
import { attention } from '../../src/ops/attention.ts';
import { layernorm } from '../../src/ops/layernorm.ts';
import type { Activation } from '../../src/ops/pointwise.ts';
import { activate, add, gelu } from '../../src/ops/pointwise.ts';
import type { Tensor } from '../../src/tensor.ts';
import {
  attentionBackwardRef, attentionRef, geluBackwardRef, geluErfBackwardRef, geluErfRef, geluRef, layernormBackwardRef, layernormRef,
  reluBackwardRef, reluRef,
} from '../reference/ops.ts';
import { assertClose, gpu, read, rand, type Case } from '../helpers.ts';

/** Runs fn on a fresh training tape and frees everything after. */
export async function withTape<T>(k: Kernels, fn: (tape: Tape) => Promise<T>): Promise<T> {
  const tape = new Tape(k, { grad: true, paramGrads: true });
  try {
    return await fn(tape);
  } finally {
    tape.dispose();
  }
}

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
function activationCase(activation: Activation, n: number): Case {
  return {
    name: `${activation} forward+backward n=${n}`,
    run: (k) => withTape(k, async (tape) => {
      const x = rand(n, n, 6);
      const dy = rand(n, n + 1);
      const X = tape.own(gpu(k, [n], x));
      const Y = activate(tape, X, activation);
      const dX = backward(tape, Y, dy, X);
      const [y, dx] = await read(k, Y, dX);
      const [forward, back] = ACTIVATION_REFS[activation];
      assertClose(y!, forward(x), 1e-5, `${activation} y`);
      assertClose(dx!, back(x, dy), 1e-5, `${activation} dx`);
    }),
  };
}

function layernormCase(rows: number, cols: number): Case {
  return {
    name: `layernorm forward+backward ${rows}x${cols}`,
    run: (k) => withTape(k, async (tape) => {
      const eps = 1e-5;
      const x = rand(rows * cols, rows + cols, 3).map((v, i) => v + (i % 3)); // non-zero means
      const gamma = rand(cols, 1).map((v) => 1 + 0.3 * v);
      const beta = rand(cols, 2, 0.2);
      const dy = rand(rows * cols, 3);
      const [X, G, B] = [tape.own(gpu(k, [rows, cols], x)), tape.own(gpu(k, [cols], gamma)), tape.own(gpu(k, [cols], beta))];
      const Y = layernorm(tape, X, G, B, eps);
      const dX = backward(tape, Y, dy, X);
      const [y, dx, dg, db] = await read(k, Y, dX, tape.gradOf(G)!, tape.gradOf(B)!);
      const ref = layernormBackwardRef(x, gamma, dy, rows, cols, eps);
      assertClose(y!, layernormRef(x, rows, cols, gamma, beta, eps).y, 1e-4, 'layernorm y');
      assertClose(dx!, ref.dx, 1e-4, 'layernorm dx');
      assertClose(dg!, ref.dgamma, 1e-4, 'layernorm dgamma');
      assertClose(db!, ref.dbeta, 1e-4, 'layernorm dbeta');
    }),
  };
}

function attentionCase(T: number, nHead: number, hd: number): Case {
  return {
    name: `attention forward+backward T=${T} heads=${nHead} hd=${hd}`,
    run: (k) => withTape(k, async (tape) => {
      const d = nHead * hd;
      const qkv = rand(T * 3 * d, T * 31 + d, 2);
      const dout = rand(T * d, T + 5);
      const QKV = tape.own(gpu(k, [T, 3 * d], qkv));
      const O = attention(tape, QKV, 1, T, nHead);
      const dQKV = backward(tape, O, dout, QKV);
      const [o, dqkv] = await read(k, O, dQKV);
      assertClose(o!, attentionRef(qkv, T, nHead, hd), 1e-4, 'attention out');
      assertClose(dqkv!, attentionBackwardRef(qkv, dout, T, nHead, hd), 1e-4, 'attention dqkv');
    }),
  };
}

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
const residualCase: Case = {
  name: 'residual add: gradients of a tensor used twice accumulate',
  run: (k) => withTape(k, async (tape) => {
    const n = 13;
    const x = rand(n, 1, 2);
    const dy = rand(n, 2);
    const X = tape.own(gpu(k, [n], x));
    const Y = add(tape, X, gelu(tape, X));
    const [y, dx] = await read(k, Y, backward(tape, Y, dy, X));
    const g = geluRef(x);
    const dg = geluBackwardRef(x, dy);
    assertClose(y!, x.map((v, i) => v + g[i]!), 1e-6, 'add y');
    assertClose(dx!, dy.map((v, i) => v + dg[i]!), 1e-6, 'add dx');
  }),
};

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
