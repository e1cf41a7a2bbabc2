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
/** `first`: the index in the tensor of data's first element, when data is a chunk of it. */
export function checkFiniteTensor(data: ArrayLike<number>, tensor: string, where: string, first = 0): void {
  const at = firstNonFinite(data);
  if (at >= 0) throw damagedWeight(where, tensor, data[at]!, first + at);
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

/** As checkFiniteTensor, on the 16-bit patterns of a weight kept packed: an all-ones exponent is NaN or infinity. */
export function checkFiniteHalves(bits: Uint16Array, dtype: 'F16' | 'BF16', tensor: string, where: string, first = 0): void {
  const exponent = dtype === 'F16' ? 0x7c00 : 0x7f80;
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i]! & exponent) === exponent) {
      const one = bits.subarray(i, i + 1);
      throw damagedWeight(where, tensor, (dtype === 'F16' ? f16ToF32(one) : bf16ToF32(one))[0]!, first + i);
    }
  }
}
