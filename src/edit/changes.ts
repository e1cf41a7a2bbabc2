// How far each edited parameter moved from its original: the norm of the change,
// in float64 from the two read-back copies (edits touch a few matrices, so the
// readback is small next to the model).
import { readAll } from '../gpu/buffers.ts';
import type { Model } from '../model/model.ts';
import type { WeightChange } from './types.ts';

/** An edit whose step overflowed float32 (a learning rate far too large): its weights are unusable. */
export class NonFiniteEditError extends Error {
  override name = 'NonFiniteEditError';
}

/** Throws NonFiniteEditError, naming the tensor, when an edited weight holds an infinite or NaN value. */
export async function weightChanges(model: Model): Promise<WeightChange[]> {
  const names = model.edited;
  const data = (await readAll(model.k, names.flatMap((n) => [model.param(n), model.original(n)!]))) as Float32Array[];
  return names.map((name, i) => {
    const now = data[2 * i]!;
    const was = data[2 * i + 1]!;
    let change = 0;
    let size = 0;
    for (let j = 0; j < now.length; j++) {
      change += (now[j]! - was[j]!) ** 2;
      size += was[j]! ** 2;
    }
    // Summed in float64, the square of any finite float32 stays finite: only an infinite or NaN weight gets here.
    if (!Number.isFinite(change)) throw new NonFiniteEditError(`the edit made ${name} infinite or NaN (float32 overflowed); choose a smaller learning rate; nothing was written`);
    return { name, norm: Math.sqrt(change), originalNorm: Math.sqrt(size) };
  });
}
