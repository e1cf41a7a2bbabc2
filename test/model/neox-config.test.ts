// The GPT-NeoX family on paper: Pythia's config.json into ModelConfig (with Hugging
// Face's defaults and the newer rope_parameters form), back out again, the refusals
// (one line naming the field and the fix), and the tensor names both ways.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadModelError, parameterShapes, type ModelConfig } from '../../src/model/config.ts';
import { checkpointShapes, readConfig, roleNamed } from '../../src/model/families/index.ts';
import { neox } from '../../src/model/families/neox.ts';

/** pythia-160m's config.json, as published. */
const PYTHIA_160M = {
  architectures: ['GPTNeoXForCausalLM'], bos_token_id: 0, eos_token_id: 0, hidden_act: 'gelu', hidden_size: 768, initializer_range: 0.02,
  intermediate_size: 3072, layer_norm_eps: 1e-5, max_position_embeddings: 2048, model_type: 'gpt_neox', num_attention_heads: 12,
  num_hidden_layers: 12, rotary_emb_base: 10000, rotary_pct: 0.25, tie_word_embeddings: false, torch_dtype: 'float16',
  transformers_version: '4.24.0', use_cache: true, use_parallel_residual: true, vocab_size: 50304,
};

const throwsBad = (f: () => unknown, message: RegExp) => assert.throws(f, (e: Error) => e instanceof BadModelError && message.test(e.message) && !e.message.includes('\n'));

test('pythia-160m config.json: 16 of 64 columns rotate, exact gelu, parallel, per-head q/k/v, biases, untied', () => {
  const c = readConfig(PYTHIA_160M, 'config.json');
  assert.equal(c, {
    family: 'gpt_neox', nLayer: 12, nHead: 12, nKvHead: 12, headDim: 64, nEmbd: 768, nPositions: 2048, vocabSize: 50304, nInner: 3072, eps: 1e-5,
    norm: 'layernorm', position: { kind: 'rotary', base: 10000, dims: 16, scaling: { type: 'default' } }, activation: 'gelu', gated: false,
    bias: { attn_in: true, attn_out: true, ff_in: true, ff_out: true }, parallelResidual: true, qkvPerHead: true, tiedHead: false, weightLayout: 'out_in', bos: 0, eos: [0],
  } satisfies ModelConfig);
  assert.equal(parameterShapes(c).get('blocks.0.attn_in.weight'), [3 * 768, 768]);
  assert.ok(!parameterShapes(c).has('pos_embed.weight'));
});

test("defaults as GPTNeoXConfig has them, and a newer config's rope_parameters", () => {
  const bare = { model_type: 'gpt_neox', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100 };
  const c = readConfig(bare, 'config.json');
  assert.equal([c.nInner, c.nPositions, c.eps, c.activation, c.parallelResidual, c.tiedHead, c.position], [256, 2048, 1e-5, 'gelu', true, false, { kind: 'rotary', base: 10000, dims: 4, scaling: { type: 'default' } }]);
  const newer = readConfig({ ...bare, rope_parameters: { rope_type: 'default', rope_theta: 500, partial_rotary_factor: 0.5 } }, 'config.json');
  assert.equal(newer.position, { kind: 'rotary', base: 500, dims: 8, scaling: { type: 'default' } });
  const seq = readConfig({ ...bare, use_parallel_residual: false, attention_bias: false, hidden_act: 'gelu_new', tie_word_embeddings: true }, 'config.json');
  assert.equal([seq.parallelResidual, seq.bias, seq.activation, seq.tiedHead], [false, { attn_in: false, attn_out: false, ff_in: true, ff_out: true }, 'gelu_new', true]);
  assert.ok(parameterShapes(seq).has('blocks.0.ff_in.bias') && !parameterShapes(seq).has('blocks.0.attn_in.bias'));
});

test('writeConfig reads back to the same ModelConfig (rope scaling too), rotary_pct flooring back to the same columns', () => {
  // Heads of 44 with 30 rotated columns: 30 / 44 · 44 floors to 29 in floating point, so the written rotary_pct must not be 30 / 44.
  for (const json of [PYTHIA_160M, { ...PYTHIA_160M, rope_scaling: { rope_type: 'linear', factor: 2 } }, { ...PYTHIA_160M, hidden_size: 88, num_attention_heads: 2, rotary_pct: 0.7, use_parallel_residual: false, hidden_act: 'gelu_new' }]) {
    const c = readConfig(json, 'config.json');
    assert.equal(readConfig(neox.writeConfig(c), 'config.json'), c);
  }
});

test('refusals: one line naming the field and the fix', () => {
  const bare = { model_type: 'gpt_neox', hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100 };
  throwsBad(() => readConfig(bare, 'config.json'), /^config\.json: rotary_pct 0\.25 of head size 12 rotates 3 columns; rotary positions need an even number of at least 2$/);
  throwsBad(() => readConfig({ ...bare, rotary_pct: 0 }, 'config.json'), /^config\.json: rotary_pct must be a number in \(0, 1\], got 0; fix the config$/);
  throwsBad(() => readConfig({ ...bare, rotary_pct: 0.5, hidden_act: 'gelu_10' }, 'config.json'), /^config\.json: hidden_act "gelu_10" is not implemented; this engine runs gelu_new/);
  throwsBad(() => readConfig({ ...bare, rotary_pct: 0.5, architectures: ['GPTNeoXForSequenceClassification'] }, 'config.json'), /^config\.json: architecture "GPTNeoXForSequenceClassification" is not supported; this engine runs GPTNeoXForCausalLM/);
  throwsBad(() => readConfig({ ...bare, hidden_size: 50 }, 'config.json'), /^config\.json: hidden_size 50 is not divisible by num_attention_heads 4; fix the config$/);
  throwsBad(() => readConfig({ ...bare, rotary_pct: 0.5, rope_scaling: { rope_type: 'yarn', factor: 2 } }, 'config.json'), /^config\.json: rope_scaling type "yarn" is not supported/);
});

test('tensor names both ways; buffers are not parameters; module names select roles', () => {
  const c = readConfig(PYTHIA_160M, 'config.json');
  const names = [...checkpointShapes(c).keys()];
  assert.equal(names.slice(0, 3), ['gpt_neox.embed_in.weight', 'gpt_neox.layers.0.input_layernorm.weight', 'gpt_neox.layers.0.input_layernorm.bias']);
  assert.ok(names.includes('gpt_neox.layers.11.attention.query_key_value.bias'));
  assert.ok(names.includes('gpt_neox.layers.3.mlp.dense_4h_to_h.weight'));
  assert.equal(names.slice(-2), ['gpt_neox.final_layer_norm.weight', 'gpt_neox.final_layer_norm.bias']);
  for (const name of names) assert.is(neox.checkpointName(neox.canonical(name)!), name);
  assert.is(neox.canonical('embed_out.weight'), 'unembed.weight');
  for (const buffer of ['gpt_neox.layers.0.attention.bias', 'gpt_neox.layers.5.attention.masked_bias', 'gpt_neox.layers.1.attention.rotary_emb.inv_freq', 'gpt_neox.rotary_emb.inv_freq']) {
    assert.is(neox.canonical(buffer), null, buffer);
  }
  for (const unknown of ['gpt_neox.layers.0.attention.query.weight', 'gpt_neox.emb_dropout.weight', 'lm_head.weight']) assert.is(neox.canonical(unknown), undefined, unknown);
  assert.is(neox.linearName(2, 'attn_in'), 'layers.2.attention.query_key_value');
  assert.equal(['attention.query_key_value', 'attention.dense', 'mlp.dense_h_to_4h', 'MLP.dense_4h_to_h'].map(roleNamed), ['attn_in', 'attn_out', 'ff_in', 'ff_out']);
});

test.run();
