// The float64 GPT-NeoX reference checked against itself and against Hugging Face's
// definitions: every module's factors give the loss's weight gradient (Σ_t δ_tᵀ x_t)
// by central differences, for parallel and sequential blocks and partial rotary;
// query_key_value's rows are read per head (storing them as q | k | v instead gives
// other logits); a parallel block is not the sequential one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NEOX_LINEARS_REF, neoxBackwardRef, randomNeoxParamsRef, type NeoxConfigRef, type NeoxParamsRef } from '../reference/neox.ts';
import { assertFactorsByDifferences } from './factor-differences.ts';

const BASE: NeoxConfigRef = {
  nLayer: 2, nHead: 3, nEmbd: 24, nInner: 7, vocabSize: 11, eps: 1e-5, rotaryPct: 0.25, rotaryBase: 10000,
  parallel: true, act: 'gelu', attentionBias: true, tied: false,
};
const IDS = [3, 1, 4, 1, 5, 9, 2];
const TARGETS = [{ position: 6, token: 6 }, { position: 2, token: 10 }];

const lossOf = (cfg: NeoxConfigRef, params: NeoxParamsRef) => neoxBackwardRef(cfg, params, IDS, TARGETS).loss;

/** Central differences of the loss at a few entries of every weight and bias: rows of q, k and v of the first and last heads for query_key_value. */
function checkFactors(cfg: NeoxConfigRef, seed: number): void {
  const params = randomNeoxParamsRef(cfg, seed, 0.4);
  const { factors } = neoxBackwardRef(cfg, params, IDS, TARGETS);
  const modules = Array.from({ length: cfg.nLayer }, (_, l) => NEOX_LINEARS_REF.map((m) => `gpt_neox.layers.${l}.${m}`)).flat();
  assertFactorsByDifferences(params, factors, modules, () => lossOf(cfg, params), (f) => {
    const rows = [0, Math.floor(f.outDim / 2) + 1, f.outDim - 1];
    return { weight: rows.map((o) => o * f.inDim + (o % f.inDim)), bias: rows };
  });
}

test('factors equal the weight gradient by finite differences: parallel, rotary_pct 0.25, exact gelu, untied', () => checkFactors(BASE, 1));
test('factors by finite differences: sequential, rotary_pct 1.0, gelu_new, tied, no attention biases', () =>
  checkFactors({ ...BASE, parallel: false, rotaryPct: 1, act: 'gelu_new', tied: true, attentionBias: false }, 2));

test('query_key_value is read per head: the same rows taken as q | k | v give other logits; parallel differs from sequential', () => {
  const params = randomNeoxParamsRef(BASE, 3);
  const logits = (cfg: NeoxConfigRef, p: NeoxParamsRef) => neoxBackwardRef(cfg, p, IDS, TARGETS).logits;
  const base = logits(BASE, params);
  const far = (a: Float64Array, b: Float64Array) => a.some((v, i) => Math.abs(v - b[i]!) > 1e-3);
  // Rows regrouped from [q_h | k_h | v_h] per head to q | k | v: a reader that took the
  // stored order as q | k | v would see exactly these weights.
  const { nHead: H, nEmbd: d } = BASE;
  const hd = d / H;
  const regrouped: NeoxParamsRef = { ...params };
  for (let l = 0; l < BASE.nLayer; l++) {
    for (const kind of ['weight', 'bias'] as const) {
      const name = `gpt_neox.layers.${l}.attention.query_key_value.${kind}`;
      const w = params[name]!;
      const width = kind === 'weight' ? d : 1;
      regrouped[name] = Float64Array.from({ length: w.length }, (_, i) => {
        const row = Math.floor(i / width);
        const [part, h, c] = [Math.floor(row / d), Math.floor((row % d) / hd), row % hd];
        return w[((h * 3 + part) * hd + c) * width + (i % width)]!;
      });
    }
  }
  assert.ok(far(base, logits(BASE, regrouped)), 'the per-head layout matters');
  assert.ok(far(base, logits({ ...BASE, parallel: false }, params)), 'parallel is not sequential');
});

test.run();
