// NaN or infinity in weights or logits poisons every number downstream (top-k
// then finds no token at all), so both are caught where they first appear and
// reported by name instead of as a symptom.
import { BadModelError } from './config.ts';

/** Index of the first NaN or ±Infinity in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

/** Throws BadModelError naming the tensor when `data` holds a non-finite value. */
export function checkFiniteTensor(data: ArrayLike<number>, tensor: string, where: string): void {
  const at = firstNonFinite(data);
  if (at >= 0) {
    throw new BadModelError(`${where}: tensor ${tensor} holds ${data[at]} at element ${at}; the weights are damaged (NaN or infinity), re-download or re-export them`);
  }
}

/** Throws BadModelError when the model's logits overflowed although its weights are finite. */
export function checkFiniteLogits(logits: ArrayLike<number>, what: string): void {
  const at = firstNonFinite(logits);
  if (at >= 0) {
    throw new BadModelError(`the model's logits for ${what} hold ${logits[at]} (at token id ${at}): the forward pass overflowed float32, so the weights are too large for this model to compute`);
  }
}
