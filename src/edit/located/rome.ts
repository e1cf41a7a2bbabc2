// ROME (Meng et al. 2022, kmeng01/rome): one fact written into FF2 of one layer as a
// rank-one update. The key k̄ is FF2's input at the subject's last token averaged over
// the context prefixes; v* = v₀ + δ from the value search at FF2's output; then
// ΔW = C⁻¹k̄ ⊗ (v* − v₀) / ((C⁻¹k̄)ᵀ k), k the key of the plain prompt (whose FF2
// output is v₀, so v* − out(k) = δ). Several facts are written one after another,
// as apply_rome_to_model does.
import { upload } from '../../gpu/buffers.ts';
import type { Model } from '../../model/model.ts';
import { addOuterProducts } from '../../gpu/gemm.ts';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { romeUpdate, type Cholesky } from './closed-form.ts';
import { optimizeValues, type FactRequest, type ValueHparams } from './value-vector.ts';

export interface LocatedOutcome {
  /** Per request, the value search's losses. */
  losses: number[][];
}

/** Adds Σ_i a_i ⊗ r_i into FF2's weight at `layer`, in the weight's layout (restorable through model.editable). */
export function addToFF2(model: Model, layer: number, A: readonly Float64Array[], R: readonly Float64Array[]): void {
  const { nInner: f, nEmbd: d } = model.config;
  const m = A.length;
  const a = upload(model.k, [m, f], Float32Array.from(A.flatMap((x) => Array.from(x))));
  const r = upload(model.k, [m, d], Float32Array.from(R.flatMap((x) => Array.from(x))));
  const W = model.editable(model.linear(layer, 'ff_out').weightName);
  addOuterProducts(model.k, W.buffer, model.config.weightLayout, a.buffer, r.buffer, m, f, d, 1, 1);
  a.dispose();
  r.dispose();
}

export async function rome(model: Model, tokenizer: Tokenizer, requests: readonly FactRequest[], layer: number, moment: Cholesky, prefixes: readonly string[], hp: ValueHparams): Promise<LocatedOutcome> {
  const losses: number[][] = [];
  for (const request of requests) {
    // One at a time: each fact's value is searched on the model the previous ones edited.
    const [found] = await optimizeValues(model, tokenizer, [request], prefixes, `blocks.${layer}.hook_mlp_out`, hp, layer);
    const f = model.config.nInner;
    const keyMean = new Float64Array(f);
    for (const key of found!.keys) for (let i = 0; i < f; i++) keyMean[i] = keyMean[i]! + key[i]! / found!.keys.length;
    const { u, r } = romeUpdate(moment, keyMean, found!.keys[0]!, found!.delta);
    addToFF2(model, layer, [u], [r]);
    losses.push(found!.losses);
  }
  return { losses };
}
