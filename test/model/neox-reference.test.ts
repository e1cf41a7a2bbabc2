// The float64 GPT-NeoX reference checked against itself and against Hugging Face's
// definitions: every module's factors give the loss's weight gradient (Σ_t δ_tᵀ x_t)
// by central differences, for parallel and sequential blocks and partial rotary;
// query_key_value's rows are read per head (storing them as q | k | v instead gives
// other logits); a parallel block is not the sequential one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NEOX_LINEARS_REF, neoxBackwardRef, randomNeoxParamsRef, type NeoxConfigRef, type NeoxParamsRef } from '../reference/neox.ts';

const BASE: NeoxConfigRef = {
  nLayer: 2, nHead: 3, nEmbd: 24, nInner: 7, vocabSize: 11, eps: 1e-5, rotaryPct: 0.25, rotaryBase: 10000,
  parallel: true, act: 'gelu', attentionBias: true, tied: false,
};
const IDS = [3, 1, 4, 1, 5, 9, 2];
const TARGETS = [{ position: 6, token: 6 }, { position: 2, token: 10 }];

const lossOf = (cfg: NeoxConfigRef, params: NeoxParamsRef) => neoxBackwardRef(cfg, params, IDS, TARGETS).loss;

/** Central differences of the loss at a few entries of every weight and bias, against Σ_t δ_t[o]·x_t[i] and Σ_t δ_t[o]. */
function checkFactors(cfg: NeoxConfigRef, seed: number): void {
  const params = randomNeoxParamsRef(cfg, seed, 0.4);
  const { factors } = neoxBackwardRef(cfg, params, IDS, TARGETS);
  const h = 1e-5;
  for (let l = 0; l < cfg.nLayer; l++) {
    for (const m of NEOX_LINEARS_REF) {
      const name = `gpt_neox.layers.${l}.${m}`;
      const f = factors[name]!;
      // q, k and v of the first and last heads, for query_key_value.
      const rowsOut = [0, Math.floor(f.outDim / 2) + 1, f.outDim - 1];
      for (const [suffix, entries] of [['weight', rowsOut.map((o) => o * f.inDim + (o % f.inDim))], ['bias', rowsOut]] as const) {
        const p = params[`${name}.${suffix}`];
        if (!p) continue;
        for (const e of entries) {
          const [o, i] = suffix === 'weight' ? [Math.floor(e / f.inDim), e % f.inDim] : [e, -1];
          let analytic = 0;
          for (let t = 0; t < f.rows; t++) analytic += f.delta[t * f.outDim + o]! * (i < 0 ? 1 : f.x[t * f.inDim + i]!);
          const was = p[e]!;
          p[e] = was + h;
          const up = lossOf(cfg, params);
          p[e] = was - h;
          const down = lossOf(cfg, params);
          p[e] = was;
          const numeric = (up - down) / (2 * h);
          // float64 central differences at h = 1e-5: truncation ~h² and rounding ~1e-16/h, far under 1e-6.
          assert.ok(Math.abs(numeric - analytic) <= 1e-6 * Math.max(1, Math.abs(analytic)), `${name}.${suffix}[${e}]: numeric ${numeric}, factors ${analytic}`);
        }
      }
    }
  }
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
