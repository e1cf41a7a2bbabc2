// NaN or infinity in weights or logits poisons every number downstream (top-k
// then finds no token at all), so both are caught where they first appear and
// reported by name instead of as a symptom.
import { bf16ToF32, f16ToF32 } from '../half.ts';
import { BadModelError } from './config.ts';

/** Index of the first NaN or ±Infinity in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

/** Throws BadModelError naming the tensor when `data` holds a non-finite value. */
export function checkFiniteTensor(data: ArrayLike<number>, tensor: string, where: string): void {
  const at = firstNonFinite(data);
  if (at >= 0) throw damagedWeight(where, tensor, data[at]!, at);
}

const damagedWeight = (where: string, tensor: string, value: number, at: number) =>
  new BadModelError(`${where}: tensor ${tensor} holds ${value} at element ${at}; the weights are damaged (NaN or infinity), re-download or re-export them`);

/** Throws BadModelError when the model's logits overflowed although its weights are finite. */
export function checkFiniteLogits(logits: ArrayLike<number>, what: string): void {
  const at = firstNonFinite(logits);
  if (at >= 0) {
    throw new BadModelError(`the model's logits for ${what} hold ${logits[at]} (at token id ${at}): the forward pass overflowed float32, so the weights are too large for this model to compute`);
  }
}

/** Exponent bits of each stored float: all ones is NaN or infinity. */
const EXPONENT = { F32: 0x7f800000, F16: 0x7c00, BF16: 0x7f80 } as const;

/**
 * As checkFiniteTensor, on a stored float's bit patterns (a chunk of a checkpoint as
 * read): one integer test per value, no conversion, so it costs a fraction of the
 * float test on the half gigabyte of gpt2-small.
 */
export function checkFiniteBits(bytes: Uint8Array, dtype: 'F32' | 'F16' | 'BF16', tensor: string, where: string, first = 0): void {
  const at = dtype === 'F32' ? firstAllOnes(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2), EXPONENT.F32)
    : firstAllOnes(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1), EXPONENT[dtype]);
  if (at < 0) return;
  const value = dtype === 'F32' ? new Float32Array(bytes.buffer, bytes.byteOffset + 4 * at, 1)
    : (dtype === 'F16' ? f16ToF32 : bf16ToF32)(new Uint16Array(bytes.buffer, bytes.byteOffset + 2 * at, 1));
  throw damagedWeight(where, tensor, value[0]!, first + at);
}

function firstAllOnes(bits: Uint32Array | Uint16Array, mask: number): number {
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & mask) === mask) return i;
  return -1;
}
