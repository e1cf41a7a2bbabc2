// The float64 Llama / Mistral / Qwen2 reference checked against itself and against
// Hugging Face's definitions: every module's factors give the loss's weight gradient
// (Σ_t δ_tᵀ x_t) by central differences, and grouped-query attention equals full
// attention with each key/value head repeated (repeat_kv). The ops it is built from
// have their own checks (test/engine/).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  LLAMA_LINEARS_REF, llamaBackwardRef, llamaForwardRef, llamaParamShapesRef, randomLlamaParamsRef, type LlamaConfigRef, type LlamaParamsRef,
} from '../reference/llama.ts';
import { assertFactorsByDifferences } from './factor-differences.ts';

const BASE: LlamaConfigRef = {
  nLayer: 2, nHead: 6, nKvHead: 2, headDim: 4, nEmbd: 13, nInner: 7, vocabSize: 11, eps: 1e-6,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const IDS = [3, 1, 4, 1, 5, 9, 2];
const TARGETS = [{ position: 6, token: 6 }, { position: 2, token: 10 }];

const lossOf = (cfg: LlamaConfigRef, params: LlamaParamsRef) => llamaBackwardRef(cfg, params, IDS, TARGETS).loss;

/** Central differences of the loss at a few entries of every weight and bias, against Σ_t δ_t[o]·x_t[i] and Σ_t δ_t[o]. */
function checkFactors(cfg: LlamaConfigRef, seed: number): void {
  const params = randomLlamaParamsRef(cfg, seed, 0.4);
  const { factors } = llamaBackwardRef(cfg, params, IDS, TARGETS);
  const modules = Array.from({ length: cfg.nLayer }, (_, l) => LLAMA_LINEARS_REF.map((m) => `model.layers.${l}.${m}`)).flat();
  for (const name of modules) assert.is(factors[name]!.rows, IDS.length, name);
  assertFactorsByDifferences(params, factors, modules, () => lossOf(cfg, params), (f) => ({ weight: [0, 5, f.inDim * f.outDim - 1], bias: [0, f.outDim - 1] }));
}

test('factors equal the weight gradient by finite differences: GQA 6/2 heads, head_dim 4 ≠ 13/6, untied', () => checkFactors(BASE, 1));
test('factors by finite differences: 3 KV heads, tied head, Llama biases everywhere, linear rope scaling', () =>
  checkFactors({ ...BASE, nKvHead: 3, headDim: 6, tied: true, bias: { qkv: true, o: true, mlp: true }, ropeScaling: { type: 'linear', factor: 3 } }, 2));
test('factors by finite differences: Qwen2 biases (q, k, v only), llama3 rope scaling, one KV head', () =>
  checkFactors({ ...BASE, nKvHead: 1, bias: { qkv: true, o: false, mlp: false }, ropeTheta: 50, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16 } }, 3));

test('grouped-query attention is full attention with every key/value head repeated H/KV times (repeat_kv)', () => {
  const params = randomLlamaParamsRef(BASE, 4);
  const full: LlamaConfigRef = { ...BASE, nKvHead: BASE.nHead };
  const repeated: LlamaParamsRef = { ...params };
  const group = BASE.nHead / BASE.nKvHead;
  const rowsPerHead = BASE.headDim * BASE.nEmbd;
  for (let l = 0; l < BASE.nLayer; l++) {
    for (const m of ['k_proj', 'v_proj']) {
      const name = `model.layers.${l}.self_attn.${m}.weight`;
      const w = params[name]!;
      repeated[name] = Float64Array.from({ length: BASE.nHead * rowsPerHead }, (_, i) => {
        const head = Math.floor(i / rowsPerHead);
        return w[Math.floor(head / group) * rowsPerHead + (i % rowsPerHead)]!;
      });
    }
  }
  const a = llamaForwardRef(BASE, params, IDS).logits;
  const b = llamaForwardRef(full, repeated, IDS).logits;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-12, `logit ${i}: ${a[i]} vs ${b[i]}`);
  // And the grouping matters: reading kv head h % KV instead gives other logits.
  const interleaved = { ...repeated };
  for (let l = 0; l < BASE.nLayer; l++) {
    for (const m of ['k_proj', 'v_proj']) {
      const name = `model.layers.${l}.self_attn.${m}.weight`;
      const w = params[name]!;
      interleaved[name] = Float64Array.from({ length: BASE.nHead * rowsPerHead }, (_, i) => w[(Math.floor(i / rowsPerHead) % BASE.nKvHead) * rowsPerHead + (i % rowsPerHead)]!);
    }
  }
  const c = llamaForwardRef(full, interleaved, IDS).logits;
  assert.ok(c.some((v, i) => Math.abs(v - a[i]!) > 1e-6));
});

test('the first position is not rotated, and the rotation is what changes later positions', () => {
  // One position: rotary is the identity there, so theta cannot matter.
  const params = randomLlamaParamsRef(BASE, 5);
  const a = llamaForwardRef(BASE, params, [7]).logits;
  const b = llamaForwardRef({ ...BASE, ropeTheta: 3 }, params, [7]).logits;
  assert.equal([...a], [...b]);
  const c = llamaForwardRef(BASE, params, [7, 2]).logits.slice(11);
  const d = llamaForwardRef({ ...BASE, ropeTheta: 3 }, params, [7, 2]).logits.slice(11);
  assert.ok(c.some((v, i) => Math.abs(v - d[i]!) > 1e-6));
});

test('parameter names and shapes are Hugging Face\'s, [out, in]; Qwen2 biases on q/k/v only; a tied head has no lm_head', () => {
  const qwen = llamaParamShapesRef({ ...BASE, bias: { qkv: true, o: false, mlp: false } });
  assert.equal(qwen['model.layers.1.self_attn.q_proj.weight'], [24, 13]);
  assert.equal(qwen['model.layers.1.self_attn.k_proj.bias'], [8]);
  assert.is(qwen['model.layers.1.self_attn.o_proj.bias'], undefined);
  assert.equal(qwen['model.layers.0.mlp.down_proj.weight'], [13, 7]);
  assert.equal(qwen['lm_head.weight'], [11, 13]);
  assert.is(llamaParamShapesRef({ ...BASE, tied: true })['lm_head.weight'], undefined);
});

test.run();
