// The two row norms over the last dimension, each a kernel file with its backward:
//   layernorm(x, gamma, beta, eps)  GPT-2: (x - mean) · rstd · gamma + beta; saves [mean, rstd] per row.
//   rmsnorm(x, w, eps)              Llama: x · rstd · w, rstd = 1/sqrt(mean(x²) + eps), in f32 as
//                                   HF's LlamaRMSNorm upcasts to float32; saves rstd per row.
// Backward reaches x, and the weights on a training tape (tape.paramGrads).
import type { Tape } from '../autograd/tape.ts';
import { f32 } from '../gpu/kernels.ts';
import { LAYERNORM, RMSNORM } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

interface Norm {
  source: typeof LAYERNORM;
  kernel: 'layernorm' | 'rmsnorm';
  label: string;
  /** Numbers saved per row for the backward. */
  saved: number;
  /** The weight-gradient kernel's entry point and bindings (x, saved, dy, one gradient per weight). */
  weightGrads: { entry: string; bind(x: GPUBuffer, saved: GPUBuffer, dy: GPUBuffer, grads: GPUBuffer[]): (GPUBuffer | null)[] };
}

const LAYER_NORM: Norm = {
  source: LAYERNORM, kernel: 'layernorm', label: 'ln', saved: 2,
  weightGrads: { entry: 'layernorm_backward_params', bind: (x, saved, dy, [dgamma, dbeta]) => [x, saved, dy, dgamma!, dbeta!] },
};

const RMS_NORM: Norm = {
  source: RMSNORM, kernel: 'rmsnorm', label: 'rms', saved: 1,
  weightGrads: { entry: 'rmsnorm_backward_weight', bind: (x, saved, dy, [dw]) => [x, null, saved, dy, dw!] },
};

export function layernorm(tape: Tape, x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  return rowNorm(tape, LAYER_NORM, x, [gamma, beta], eps);
}

export function rmsnorm(tape: Tape, x: Tensor, w: Tensor, eps: number): Tensor {
  return rowNorm(tape, RMS_NORM, x, [w], eps);
}

function rowNorm(tape: Tape, n: Norm, x: Tensor, weights: readonly Tensor[], eps: number): Tensor {
  const { rows, cols } = x;
  const bad = weights.find((w) => w.size !== cols);
  if (bad) throw new RangeError(`${n.kernel}: ${cols} columns but a weight has ${bad.size}`);
  const params = [rows, cols, f32(eps)];
  const y = tape.zeros(x.shape, 'f32', n.label);
  const saved = tape.zeros(n.saved === 1 ? [rows] : [rows, n.saved], 'f32', `${n.label}.saved`);
  const groups: [number] = [Math.ceil(rows / 64)];
  tape.k.dispatch(n.source, `${n.kernel}_forward`, params, [x.buffer, ...weights.map((w) => w.buffer), y.buffer, saved.buffer], groups);
  tape.record(() => {
    const dy = tape.gradOf(y);
    if (!dy) return;
    const dx = tape.zeros(x.shape, 'f32', `${n.label}.dx`);
    tape.k.dispatch(n.source, `${n.kernel}_backward_input`, params, [x.buffer, weights[0]!.buffer, saved.buffer, dy.buffer, dx.buffer], groups);
    tape.accumulate(x, dx);
    if (!tape.paramGrads) return;
    const grads = weights.map((_, i) => tape.zeros([cols], 'f32', `${n.label}.dweight${i}`));
    tape.k.dispatch(n.source, n.weightGrads.entry, params, n.weightGrads.bind(x.buffer, saved.buffer, dy.buffer, grads.map((g) => g.buffer)), [Math.ceil(cols / 64)]);
    weights.forEach((w, i) => tape.accumulate(w, grads[i]!));
  });
  return y;
}
