import type { Kernels } from './kernels.ts';
import { f32, grid1d } from './kernels.ts';
import { ADAM } from './sources.ts';
import type { Tensor } from '../tensor.ts';

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
  /** Multiplies the gradient first (global-norm clipping); default 1. */
  gradScale?: number;
}

/** One AdamW step in place on param, m and v. */
export function adamw(k: Kernels, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, h: AdamHyper): void {
  const n = param.size;
  if (grad.size !== n || m.size !== n || v.size !== n) throw new RangeError(`adamw: sizes differ (${n}, ${grad.size}, ${m.size}, ${v.size})`);
  const params = [n, f32(h.lr), f32(h.beta1), f32(h.beta2), f32(h.eps), f32(h.weightDecay), f32(1 - h.beta1 ** h.step), f32(1 - h.beta2 ** h.step), f32(h.gradScale ?? 1)];
  // A split parameter (the embedding at small binding limits) has its state split alike.
  param.blocks.forEach((b, i) => {
    const size = param.split ? b.rows * param.cols : n;
    const at = (t: Tensor) => t.blocks[i]!.buffer;
    k.dispatch(ADAM, 'adamw', [size, ...params.slice(1)], [b.buffer, at(grad), at(m), at(v)], grid1d(size, 64));
  });
}
