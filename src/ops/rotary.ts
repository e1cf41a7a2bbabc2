// Rotary position embeddings (RoPE), Hugging Face's rotate_half convention.
//
//   ropeInvFreq(rope) -> Float64Array [rotaryDim/2]: θ^(-2i/rotaryDim), scaled per rope.scaling
//   rotaryTable(tape, positions, rope) -> Tensor [rows, rotaryDim]: cos | sin of
//     positions[r]·inv_freq_i, computed in float64 on the CPU and rounded once to f32
//   rotary(tape, x [rows, width], table, heads, headDim) -> y [rows, width]: the pairs
//     (i, i + rotaryDim/2) of the first rotaryDim columns of heads 0..heads-1 turned;
//     every other column copied. On a fused q|k|v row pass heads = nHead + nKvHead
//     (q's heads, then k's), so v passes through. Backward turns dy back.
//
// Meta's original checkpoints pair (2i, 2i + 1) instead; HF's conversion permutes the
// q/k weight rows so that rotate_half gives the same result, so HF weights need this one.
import type { Tape } from '../autograd/tape.ts';
import { f32, grid1d } from '../gpu/kernels.ts';
import { ROTARY } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

/** HF config.json's rope_scaling: none, `linear`, or Llama 3.1's `llama3`. */
export type RopeScaling =
  | { readonly type: 'default' }
  | { readonly type: 'linear'; readonly factor: number }
  | { readonly type: 'llama3'; readonly factor: number; readonly lowFreqFactor: number; readonly highFreqFactor: number; readonly originalMaxPositions: number };

export interface Rope {
  /** rope_theta. */
  readonly theta: number;
  /** Columns of a head that rotate: head_dim, or head_dim · partial_rotary_factor (GPT-NeoX). */
  readonly rotaryDim: number;
  readonly scaling: RopeScaling;
}

/**
 * inv_freq_i = θ^(-2i/rotaryDim). `linear` divides each by the factor (positions /
 * factor). `llama3` divides the low frequencies (wavelength above original /
 * lowFreqFactor) by the factor, keeps the high ones (wavelength below original /
 * highFreqFactor) and blends the band between, as HF's _compute_llama3_parameters.
 */
export function ropeInvFreq(rope: Rope): Float64Array {
  const { rotaryDim: dim, theta, scaling } = rope;
  const inv = new Float64Array(dim / 2);
  for (let i = 0; i < inv.length; i++) {
    const f = 1 / theta ** ((2 * i) / dim);
    inv[i] = scaling.type === 'linear' ? f / scaling.factor : scaling.type === 'llama3' ? llama3(f, scaling) : f;
  }
  return inv;
}

function llama3(f: number, s: Extract<RopeScaling, { type: 'llama3' }>): number {
  const wavelength = (2 * Math.PI) / f;
  const lowFreqWavelength = s.originalMaxPositions / s.lowFreqFactor;
  const highFreqWavelength = s.originalMaxPositions / s.highFreqFactor;
  if (wavelength > lowFreqWavelength) return f / s.factor;
  if (wavelength < highFreqWavelength) return f;
  const smooth = (s.originalMaxPositions / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return ((1 - smooth) * f) / s.factor + smooth * f;
}

export function rotaryTable(tape: Tape, positions: readonly number[], rope: Rope): Tensor {
  const inv = ropeInvFreq(rope);
  const half = inv.length;
  const data = new Float32Array(positions.length * 2 * half);
  positions.forEach((pos, r) => {
    for (let i = 0; i < half; i++) {
      data[r * 2 * half + i] = Math.cos(pos * inv[i]!);
      data[r * 2 * half + half + i] = Math.sin(pos * inv[i]!);
    }
  });
  return tape.constant([positions.length, 2 * half], data);
}

export function rotary(tape: Tape, x: Tensor, table: Tensor, heads: number, headDim: number): Tensor {
  const half = table.cols / 2;
  if (!Number.isInteger(half) || half < 1 || table.cols > headDim) throw new RangeError(`rotary: ${table.cols} rotary dimensions for heads of ${headDim}; it must be even and at most the head size`);
  if (heads * headDim > x.cols) throw new RangeError(`rotary: ${heads} heads of ${headDim} exceed the row of ${x.cols}`);
  if (table.rows !== x.rows) throw new RangeError(`rotary: ${table.rows} positions for ${x.rows} rows`);
  const turn = (src: Tensor, sign: number, name: string): Tensor => {
    const out = tape.zeros(src.shape, 'f32', name);
    tape.k.copy(src.buffer, 0, out.buffer, 0, src.size * 4);
    const pairs = x.rows * heads * half;
    tape.k.dispatch(ROTARY, 'rotary', [x.rows, x.cols, heads, headDim, half, f32(sign)], [src.buffer, table.buffer, out.buffer], grid1d(pairs, 64));
    return out;
  };
  const y = turn(x, 1, 'rope');
  tape.record(() => {
    const dy = tape.gradOf(y);
    if (dy) tape.accumulate(x, turn(dy, -1, 'rope.dx'));
  });
  return y;
}
