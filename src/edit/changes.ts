// How far each edited parameter moved from its original: the norm of the change,
// in float64 from the two read-back copies (edits touch a few matrices, so the
// readback is small next to the model).
import { readAll } from '../gpu/buffers.ts';
import { storedParts } from '../model/families/index.ts';
import type { Model } from '../model/model.ts';
import type { WeightChange } from './types.ts';

/** An edit whose step overflowed float32 (a learning rate far too large): its weights are unusable. */
export class NonFiniteEditError extends Error {
  override name = 'NonFiniteEditError';
}

/**
 * Per stored tensor the edit changed (a joined weight's parts apart: sgd on up_proj
 * alone leaves gate_proj out); throws NonFiniteEditError, naming the tensor, when an
 * edited weight holds an infinite or NaN value.
 */
export async function weightChanges(model: Model): Promise<WeightChange[]> {
  const names = model.edited;
  const data = (await readAll(model.k, names.flatMap((n) => [model.param(n), model.original(n)!]))) as Float32Array[];
  return names.flatMap((name, i) => {
    const canonical = model.family.canonical(name) ?? name;
    const shape = model.param(name).shape;
    const was = storedParts(model.config, canonical, shape, data[2 * i + 1]!);
    const changes = storedParts(model.config, canonical, shape, data[2 * i]!).map((now, p) => {
      let change = 0;
      let size = 0;
      for (let j = 0; j < now.data.length; j++) {
        change += (now.data[j]! - was[p]!.data[j]!) ** 2;
        size += was[p]!.data[j]! ** 2;
      }
      const stored = was.length === 1 ? name : now.name;
      // Summed in float64, the square of any finite float32 stays finite: only an infinite or NaN weight gets here.
      if (!Number.isFinite(change)) throw new NonFiniteEditError(`the edit made ${stored} infinite or NaN (float32 overflowed); choose a smaller learning rate; nothing was written`);
      return { name: stored, norm: Math.sqrt(change), originalNorm: Math.sqrt(size) };
    });
    return changes.length === 1 ? changes : changes.filter((c) => c.norm > 0);
  });
}
