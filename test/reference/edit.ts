// Float64 edits written from SPEC §4, on the reference GPT-2: the forward pass
// shift's rank-1 update, one SGD step on the dense gradient, and one Adam step of
// MEMIT's fine-tuning baseline. Each returns the new value of every changed parameter.
import { gpt2BackwardRef, type Gpt2ConfigRef, type Gpt2ParamsRef } from './gpt2.ts';
import { adamwRef } from './ops.ts';

export interface EditPairRef {
  ids: number[];
  /** Target token ids; the loss is the first one's NLL at the last prompt position unless `allTokens`. */
  target: number[];
}

/** W[j,:] += eta * x_n[j] * wte[t] at each layer, summed over the pairs whose target is not already top-1. */
export function shiftRef(cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, pairs: EditPairRef[], layers: number[], eta: number): Gpt2ParamsRef {
  const { nEmbd: d, nInner: f, vocabSize: V } = cfg;
  const out: Gpt2ParamsRef = {};
  for (const l of layers) out[`h.${l}.mlp.c_proj.weight`] = Float64Array.from(params[`h.${l}.mlp.c_proj.weight`]!);
  for (const { ids, target } of pairs) {
    const n = ids.length;
    const r = gpt2BackwardRef(cfg, params, ids, [{ position: n - 1, token: target[0]! }]);
    const last = r.logits.subarray((n - 1) * V, n * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
    if (best === target[0]) continue;
    const e = params['wte.weight']!.subarray(target[0]! * d, (target[0]! + 1) * d);
    for (const l of layers) {
      const x = r.factors[`h.${l}.mlp.c_proj`]!.x.subarray((n - 1) * f, n * f);
      const W = out[`h.${l}.mlp.c_proj.weight`]!;
      for (let j = 0; j < f; j++) for (let c = 0; c < d; c++) W[j * d + c] += eta * x[j]! * e[c]!;
    }
  }
  return out;
}

/** Dense gradients of the summed (or, with `mean`, MEMIT's averaged) loss over the pairs. */
export function pairGradsRef(cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, pairs: EditPairRef[], names: string[], allTokens = false, mean = false): Gpt2ParamsRef {
  const sum: Gpt2ParamsRef = Object.fromEntries(names.map((n) => [n, new Float64Array(params[n]!.length)]));
  for (const { ids, target } of pairs) {
    const used = allTokens ? target : target.slice(0, 1);
    const seq = [...ids, ...used.slice(0, -1)];
    const r = gpt2BackwardRef(cfg, params, seq, used.map((token, j) => ({ position: ids.length - 1 + j, token })));
    const scale = mean ? 1 / (pairs.length * used.length) : 1;
    for (const n of names) r.grads[n]!.forEach((g, i) => (sum[n]![i] += scale * g));
  }
  return sum;
}

/** W <- W - eta dW for every named parameter. */
export function sgdStepRef(cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, pairs: EditPairRef[], names: string[], eta: number, allTokens = false): Gpt2ParamsRef {
  const grads = pairGradsRef(cfg, params, pairs, names, allTokens);
  return Object.fromEntries(names.map((n) => [n, params[n]!.map((w, i) => w - eta * grads[n]![i]!)]));
}

/** The first Adam step (zero moments, no weight decay) on FF2's weight and bias at each layer. */
export function adamStepRef(cfg: Gpt2ConfigRef, params: Gpt2ParamsRef, pairs: EditPairRef[], layers: number[], lr: number): Gpt2ParamsRef {
  const names = layers.flatMap((l) => [`h.${l}.mlp.c_proj.weight`, `h.${l}.mlp.c_proj.bias`]);
  const grads = pairGradsRef(cfg, params, pairs, names, false, true);
  const hp = { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 };
  return Object.fromEntries(names.map((n) => {
    const zero = new Float64Array(params[n]!.length);
    return [n, adamwRef(params[n]!, grads[n]!, zero, zero, hp).p];
  }));
}
