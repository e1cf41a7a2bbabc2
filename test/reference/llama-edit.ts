// Float64 edits (SPEC §4) on the reference Llama. The forward pass shift: down_proj's
// input x_n at the last prompt token, the target's row e of the unembedding (lm_head,
// or embed_tokens when tied), and down_proj's weight in HF's [out, in] = [d, f] layout
// gets W[c, j] += eta * e[c] * x_n[j]. And Adam's first step on that weight.
import { llamaBackwardRef, type LlamaConfigRef, type LlamaParamsRef } from './llama.ts';
import { adamwRef } from './ops.ts';

export interface LlamaEditPairRef {
  ids: number[];
  target: number;
}

/** The new down_proj of each layer, summed over the pairs whose target is not already top-1. */
export function llamaShiftRef(cfg: LlamaConfigRef, params: LlamaParamsRef, pairs: LlamaEditPairRef[], layers: number[], eta: number): LlamaParamsRef {
  const { nEmbd: d, nInner: f, vocabSize: V } = cfg;
  const name = (l: number) => `model.layers.${l}.mlp.down_proj`;
  const out: LlamaParamsRef = Object.fromEntries(layers.map((l) => [`${name(l)}.weight`, Float64Array.from(params[`${name(l)}.weight`]!)]));
  const D = params[cfg.tied ? 'model.embed_tokens.weight' : 'lm_head.weight']!;
  for (const { ids, target } of pairs) {
    const n = ids.length;
    const r = llamaBackwardRef(cfg, params, ids, [{ position: n - 1, token: target }]);
    const last = r.logits.subarray((n - 1) * V, n * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
    if (best === target) continue;
    const e = D.subarray(target * d, (target + 1) * d);
    for (const l of layers) {
      const x = r.factors[name(l)]!.x.subarray((n - 1) * f, n * f);
      const W = out[`${name(l)}.weight`]!;
      for (let c = 0; c < d; c++) for (let j = 0; j < f; j++) W[c * f + j] += eta * e[c]! * x[j]!;
    }
  }
  return out;
}

/**
 * The first Adam step (zero moments, no weight decay) of MEMIT's fine-tuning baseline on
 * a bias-free down_proj: the gradient of the mean over pairs of the target's NLL is
 * Σ_i δ_i ⊗ x_i in the [out, in] = [d, f] layout.
 */
export function llamaAdamStepRef(cfg: LlamaConfigRef, params: LlamaParamsRef, pairs: LlamaEditPairRef[], layers: number[], lr: number): LlamaParamsRef {
  const { nEmbd: d, nInner: f } = cfg;
  const name = (l: number) => `model.layers.${l}.mlp.down_proj`;
  const grads: LlamaParamsRef = Object.fromEntries(layers.map((l) => [`${name(l)}.weight`, new Float64Array(d * f)]));
  for (const { ids, target } of pairs) {
    const r = llamaBackwardRef(cfg, params, ids, [{ position: ids.length - 1, token: target }]);
    for (const l of layers) {
      const { x, delta, rows } = r.factors[name(l)]!;
      const G = grads[`${name(l)}.weight`]!;
      for (let i = 0; i < rows; i++) for (let c = 0; c < d; c++) for (let j = 0; j < f; j++) G[c * f + j] += (delta[i * d + c]! * x[i * f + j]!) / pairs.length;
    }
  }
  const hp = { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 };
  return Object.fromEntries(Object.entries(grads).map(([n, g]) => {
    const zero = new Float64Array(g.length);
    return [n, adamwRef(params[n]!, g, zero, zero, hp).p];
  }));
}

/**
 * One SGD step on the summed NLL of the pairs' targets, on stored modules by HF name
 * (model.layers.{l}.mlp.up_proj): W [out, in] -= lr Σ_i δ_i ⊗ x_i of that module alone.
 */
export function llamaSgdStepRef(cfg: LlamaConfigRef, params: LlamaParamsRef, pairs: LlamaEditPairRef[], modules: string[], lr: number): LlamaParamsRef {
  const out: LlamaParamsRef = Object.fromEntries(modules.map((m) => [`${m}.weight`, Float64Array.from(params[`${m}.weight`]!)]));
  for (const { ids, target } of pairs) {
    const r = llamaBackwardRef(cfg, params, ids, [{ position: ids.length - 1, token: target }]);
    for (const m of modules) {
      const { x, delta, rows } = r.factors[m]!;
      const W = out[`${m}.weight`]!;
      const inDim = x.length / rows;
      const outDim = delta.length / rows;
      for (let i = 0; i < rows; i++) for (let c = 0; c < outDim; c++) for (let j = 0; j < inDim; j++) W[c * inDim + j] -= lr * delta[i * outDim + c]! * x[i * inDim + j]!;
    }
  }
  return out;
}
