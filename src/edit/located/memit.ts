// MEMIT (Meng et al. 2023, kmeng01/memit): a batch of facts written into FF2 of a
// range of layers. For each fact, z = v₀ + δ from the value search at the residual
// output of the last edited layer. Then, layer by layer from the first (each on the
// model as already edited by the layers before it): keys K at the subject's last
// token, each the mean of two groups (the plain prompt; the mean over the five
// generated prefixes), residuals R = (z − current residual) / (layers left), and
// ΔW = (λC + KKᵀ)⁻¹ K Rᵀ (closed-form.ts).
import { Tape } from '../../autograd/tape.ts';
import { readAll } from '../../gpu/buffers.ts';
import type { Model, Hook } from '../../model/model.ts';
import type { Tensor } from '../../tensor.ts';
import type { Tokenizer } from '../../tokenizer/tokenizer.ts';
import { memitUpdate, type Cholesky } from './closed-form.ts';
import { addToFF2, type LocatedOutcome } from './rome.ts';
import { optimizeValues, subjectLastToken, type FactRequest, type ValueHparams } from './value-vector.ts';

/** FF2 input at `layer` (keys) and the residual output of `zLayer`, at the subject's last token of each prompt. */
async function keysAndResiduals(model: Model, tokenizer: Tokenizer, requests: readonly FactRequest[], prefixes: readonly string[], layer: number, zLayer: number): Promise<{ keys: Float64Array[]; z: Float64Array[] }> {
  const k = model.k;
  const { nInner: f, nEmbd: d } = model.config;
  const found = requests.flatMap((r) => prefixes.map((p) => subjectLastToken(tokenizer, p + r.prompt, r.subject)));
  const seqs = found.map((x) => x.ids);
  const T = Math.max(...seqs.map((s) => s.length));
  const tape = new Tape(k);
  try {
    let keyRows: Tensor | undefined;
    let zRows: Tensor | undefined;
    const hook: Hook = (name, act, t) => {
      if (name === `blocks.${layer}.mlp.hook_post`) {
        keyRows = t.zeros([seqs.length, f]);
        found.forEach((x, seq) => k.copy(act.buffer, (seq * T + x.at) * f * 4, keyRows!.buffer, seq * f * 4, f * 4));
      }
      if (name === `blocks.${zLayer}.hook_resid_post`) {
        zRows = t.zeros([requests.length, d]);
        requests.forEach((_, i) => {
          const seq = i * prefixes.length; // the plain prompt
          k.copy(act.buffer, (seq * T + found[seq]!.at) * d * 4, zRows!.buffer, i * d * 4, d * 4);
        });
      }
    };
    model.runBlocks(tape, seqs, Math.max(layer, zLayer), hook);
    const [kd, zd] = (await readAll(k, [keyRows!, zRows!])) as Float32Array[];
    const row = (data: Float32Array, i: number, n: number) => Float64Array.from(data.subarray(i * n, (i + 1) * n));
    const P = prefixes.length;
    const keys = requests.map((_, i) => {
      const plain = row(kd!, i * P, f);
      const generated = new Float64Array(f);
      for (let p = 1; p < P; p++) {
        const key = row(kd!, i * P + p, f);
        for (let c = 0; c < f; c++) generated[c] = generated[c]! + key[c]! / (P - 1);
      }
      return P > 1 ? plain.map((x, c) => (x + generated[c]!) / 2) : plain;
    });
    return { keys, z: requests.map((_, i) => row(zd!, i, d)) };
  } finally {
    tape.dispose();
  }
}

export async function memit(
  model: Model, tokenizer: Tokenizer, requests: readonly FactRequest[], layers: readonly number[], moments: (layer: number) => Promise<Cholesky>,
  lambda: number, prefixes: readonly string[], hp: ValueHparams,
): Promise<LocatedOutcome> {
  const sorted = [...layers].sort((a, b) => a - b);
  const zLayer = sorted[sorted.length - 1]!;
  // compute_z runs per fact on the unedited model; the searches are independent, so they share passes.
  const found = await optimizeValues(model, tokenizer, requests, prefixes, `blocks.${zLayer}.hook_resid_post`, hp);
  const targets = found.map((x) => x.init.map((v, c) => v + x.delta[c]!));
  const losses = found.map((x) => x.losses);
  for (const [i, layer] of sorted.entries()) {
    const { keys, z } = await keysAndResiduals(model, tokenizer, requests, prefixes, layer, zLayer);
    const residuals = z.map((now, r) => now.map((x, c) => (targets[r]![c]! - x) / (sorted.length - i)));
    const { A, R } = memitUpdate(await moments(layer), lambda, keys, residuals);
    addToFF2(model, layer, A, R);
  }
  return { losses };
}
