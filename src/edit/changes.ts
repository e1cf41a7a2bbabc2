// How far each edited parameter moved from its original: the norm of the change,
// in float64 from the two read-back copies (edits touch a few matrices, so the
// readback is small next to the model).
import { readAll } from '../gpu/buffers.ts';
import { outputBlocks, type Role } from '../model/config.ts';
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
    const now = data[2 * i]!;
    const was = data[2 * i + 1]!;
    const changes = storedParts(model, name, now.length).map((p) => {
      let change = 0;
      let size = 0;
      for (let j = p.from; j < p.from + p.size; j++) {
        change += (now[j]! - was[j]!) ** 2;
        size += was[j]! ** 2;
      }
      // Summed in float64, the square of any finite float32 stays finite: only an infinite or NaN weight gets here.
      if (!Number.isFinite(change)) throw new NonFiniteEditError(`the edit made ${p.name} infinite or NaN (float32 overflowed); choose a smaller learning rate; nothing was written`);
      return { name: p.name, norm: Math.sqrt(change), originalNorm: Math.sqrt(size) };
    });
    return changes.length === 1 ? changes : changes.filter((c) => c.norm > 0);
  });
}

/** An edited parameter as the checkpoint stores it: itself, or the parts of a joined [out, in] weight, each its rows. */
function storedParts(model: Model, name: string, size: number): { name: string; from: number; size: number }[] {
  const canonical = model.family.canonical(name) ?? name;
  const parts = model.family.parts(canonical);
  const role = /^blocks\.\d+\.(\w+)\.weight$/.exec(canonical)?.[1] as Role | undefined;
  if (parts.length < 2 || role === undefined) return [{ name, from: 0, size }];
  const widths = outputBlocks(model.config, role);
  const inDim = size / widths.reduce((a, b) => a + b, 0);
  let from = 0;
  return parts.map((p, i) => {
    const part = { name: p, from, size: widths[i]! * inDim };
    from += part.size;
    return part;
  });
}
