// The Llama, Mistral and Qwen2 families on paper: config.json into ModelConfig (with
// Hugging Face's defaults), back out again, the refusals (one line naming the field and
// what is supported), and the tensor names both ways.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadModelError, parameterShapes, type ModelConfig } from '../../src/model/config.ts';
import { checkpointShapes, familyOf, readConfig } from '../../src/model/families/index.ts';
import { llama, mistral, qwen2 } from '../../src/model/families/llama.ts';

/** A TinyLlama-like config.json, shrunk: d 72, 6 heads over 2 KV heads, ff 200. */
const LLAMA = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 72, intermediate_size: 200, num_hidden_layers: 3,
  num_attention_heads: 6, num_key_value_heads: 2, max_position_embeddings: 64, vocab_size: 503, rms_norm_eps: 1e-5,
  rope_theta: 10000, rope_scaling: null, hidden_act: 'silu', tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  attention_bias: false, mlp_bias: false, torch_dtype: 'bfloat16', pretraining_tp: 1,
};

const throwsBad = (f: () => unknown, message: RegExp) => assert.throws(f, (e: Error) => e instanceof BadModelError && message.test(e.message) && !e.message.includes('\n'));

test('Llama config.json: sizes, GQA, head_dim from hidden/heads, RMSNorm, rotary, gated SiLU, [out, in], untied, no biases', () => {
  const c = readConfig(LLAMA, 'config.json');
  assert.equal(c, {
    family: 'llama', nLayer: 3, nHead: 6, nKvHead: 2, headDim: 12, nEmbd: 72, nPositions: 64, vocabSize: 503, nInner: 200, eps: 1e-5,
    norm: 'rmsnorm', position: { kind: 'rotary', base: 10000, dims: 12, scaling: { type: 'default' } }, activation: 'silu', gated: true,
    bias: { attn_in: false, attn_out: false, ff_in: false, ff_out: false }, parallelResidual: false, tiedHead: false, weightLayout: 'out_in', bos: 1, eos: [2],
  } satisfies ModelConfig);
});

test('defaults as Hugging Face has them: KV heads = heads, eps 1e-6, theta 10000, untied; head_dim may differ from hidden/heads', () => {
  const bare = { model_type: 'llama', hidden_size: 72, intermediate_size: 200, num_hidden_layers: 2, num_attention_heads: 6, max_position_embeddings: 32, vocab_size: 500 };
  const c = readConfig(bare, 'config.json');
  assert.equal([c.nKvHead, c.headDim, c.eps, c.tiedHead, c.position], [6, 12, 1e-6, false, { kind: 'rotary', base: 10000, dims: 12, scaling: { type: 'default' } }]);
  assert.is(c.bos, undefined);
  const wide = readConfig({ ...bare, head_dim: 16, num_key_value_heads: 3 }, 'config.json');
  assert.equal([wide.headDim, wide.nKvHead], [16, 3]);
  assert.equal(parameterShapes(wide).get('blocks.0.attn_in.weight'), [(6 + 2 * 3) * 16, 72]);
  assert.equal(parameterShapes(wide).get('blocks.0.attn_out.weight'), [72, 6 * 16]);
  assert.equal(parameterShapes(wide).get('blocks.0.ff_in.weight'), [400, 72]);
  assert.equal(readConfig({ ...bare, eos_token_id: [128001, 128009] }, 'config.json').eos, [128001, 128009]);
  // HF's tied SmolLM-style head.
  assert.is(readConfig({ ...bare, tie_word_embeddings: true }, 'config.json').tiedHead, true);
});

test('rope_scaling: linear and llama3 kept, dynamic within the context is plain rotary, rope_type or type, rope_parameters', () => {
  const scaling = (rope_scaling: unknown) => {
    const p = readConfig({ ...LLAMA, rope_scaling }, 'config.json').position;
    return p.kind === 'rotary' ? p.scaling : undefined;
  };
  assert.equal(scaling({ type: 'linear', factor: 2 }), { type: 'linear', factor: 2 });
  assert.equal(scaling({ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }), {
    type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192,
  });
  assert.equal(scaling({ type: 'dynamic', factor: 2 }), { type: 'default' });
  assert.equal(scaling({ rope_type: 'default' }), { type: 'default' });
  const { rope_scaling: _, ...noScaling } = LLAMA;
  const p = readConfig({ ...noScaling, rope_parameters: { rope_type: 'linear', factor: 4 } }, 'config.json').position;
  assert.equal(p.kind === 'rotary' && p.scaling, { type: 'linear', factor: 4 });
  throwsBad(() => scaling({ rope_type: 'yarn', factor: 4 }), /^config\.json: rope_scaling type "yarn" is not supported; this engine runs default, linear, llama3, dynamic \(within max_position_embeddings\)$/);
  throwsBad(() => scaling({ rope_type: 'linear' }), /^config\.json: rope_scaling: factor must be a positive number, got undefined; fix the config$/);
  throwsBad(() => scaling({ rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 8192 }), /high_freq_factor must exceed low_freq_factor/);
});

test('Mistral: sliding_window kept (null: none); Qwen2: biases on q/k/v only, its window only with use_sliding_window', () => {
  const m = readConfig({ ...LLAMA, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 40 }, 'config.json');
  assert.equal([m.family, m.slidingWindow, m.bias.attn_in], ['mistral', 40, false]);
  assert.is(readConfig({ ...LLAMA, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: null }, 'config.json').slidingWindow, undefined);
  const q = readConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', sliding_window: 32, use_sliding_window: false }, 'config.json');
  assert.equal([q.family, q.bias, q.slidingWindow], ['qwen2', { attn_in: true, attn_out: false, ff_in: false, ff_out: false }, undefined]);
  assert.is(readConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', sliding_window: 32, use_sliding_window: true }, 'config.json').slidingWindow, 32);
  assert.equal(parameterShapes(q).get('blocks.0.attn_in.bias'), [(6 + 4) * 12]);
  assert.is(parameterShapes(q).get('blocks.0.attn_out.bias'), undefined);
  const biased = readConfig({ ...LLAMA, attention_bias: true, mlp_bias: true }, 'config.json');
  assert.equal(biased.bias, { attn_in: true, attn_out: true, ff_in: true, ff_out: true });
});

test('refused in one line naming the field and what runs: softcapping, q/k norms, other activations, partial rotary, another architecture, bad sizes', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ final_logit_softcapping: 30 }, /^config\.json: final_logit_softcapping \(final logit softcapping\) is not supported; this engine runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM/],
    [{ attn_logit_softcapping: 50 }, /^config\.json: attn_logit_softcapping \(attention logit softcapping\) is not supported/],
    [{ qk_norm: true }, /^config\.json: qk_norm \(q\/k norms\) is not supported/],
    [{ hidden_act: 'gelu_pytorch_tanh' }, /^config\.json: hidden_act "gelu_pytorch_tanh" is not supported; Llama runs silu$/],
    [{ partial_rotary_factor: 0.5 }, /^config\.json: partial_rotary_factor 0\.5 is not supported; this engine rotates whole heads$/],
    [{ architectures: ['LlamaForSequenceClassification'] }, /^config\.json: architecture "LlamaForSequenceClassification" is not supported; this engine runs LlamaForCausalLM/],
    [{ num_key_value_heads: 4 }, /^config\.json: num_attention_heads 6 is not a multiple of num_key_value_heads 4; fix the config$/],
    [{ hidden_size: 70 }, /^config\.json: hidden_size 70 is not divisible by num_attention_heads 6; give head_dim in the config$/],
    [{ head_dim: 7 }, /^config\.json: head_dim 7 is odd; rotary positions rotate pairs of dimensions$/],
    [{ intermediate_size: undefined }, /^config\.json: intermediate_size must be a positive integer, got undefined; fix the config$/],
    [{ tie_word_embeddings: 'yes' }, /^config\.json: tie_word_embeddings must be true or false, got "yes"/],
    [{ eos_token_id: 'eos' }, /^config\.json: eos_token_id must be a token id or a list of them/],
  ];
  for (const [change, message] of cases) throwsBad(() => readConfig({ ...LLAMA, ...change }, 'config.json'), message);
  // Softcapping fields set to null are absent (Gemma 2 style configs write them so).
  readConfig({ ...LLAMA, final_logit_softcapping: null, qk_norm: false }, 'config.json');
});

test('config.json written back reads as the same config, for each family', () => {
  const configs = [
    readConfig({ ...LLAMA, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 }, head_dim: 16 }, 'config.json'),
    readConfig({ ...LLAMA, rope_scaling: { type: 'linear', factor: 2 }, attention_bias: true, tie_word_embeddings: true, eos_token_id: [2, 3] }, 'config.json'),
    readConfig({ ...LLAMA, architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 40 }, 'config.json'),
    readConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', use_sliding_window: true, sliding_window: 48 }, 'config.json'),
    readConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }, 'config.json'),
  ];
  for (const c of configs) assert.equal(readConfig(JSON.parse(JSON.stringify(familyOf(c).writeConfig(c))), 'config.json'), c, c.family);
});

test('names: every parameter to its Hugging Face tensors and back; q/k/v and gate/up are one parameter each, concatenated by rows', () => {
  const c = readConfig({ ...LLAMA, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }, 'config.json');
  for (const name of parameterShapes(c).keys()) {
    for (const stored of qwen2.parts(name)) assert.is(qwen2.canonical(stored), name, stored);
    // model.edited lists parameters by checkpointName, and Model.param takes those back.
    assert.is(qwen2.canonical(qwen2.checkpointName(name)), name, name);
  }
  assert.equal(qwen2.parts('blocks.2.attn_in.weight'), ['model.layers.2.self_attn.q_proj.weight', 'model.layers.2.self_attn.k_proj.weight', 'model.layers.2.self_attn.v_proj.weight']);
  assert.equal(qwen2.parts('blocks.2.attn_in.bias'), ['model.layers.2.self_attn.q_proj.bias', 'model.layers.2.self_attn.k_proj.bias', 'model.layers.2.self_attn.v_proj.bias']);
  assert.equal(llama.parts('blocks.0.ff_in.weight'), ['model.layers.0.mlp.gate_proj.weight', 'model.layers.0.mlp.up_proj.weight']);
  assert.equal(llama.parts('blocks.0.ff_out.weight'), ['model.layers.0.mlp.down_proj.weight']);
  assert.is(llama.checkpointName('blocks.0.attn_in.weight'), 'model.layers.0.self_attn.{q,k,v}_proj.weight');
  assert.is(llama.checkpointName('blocks.1.ff_in.weight'), 'model.layers.1.mlp.{gate,up}_proj.weight');
  assert.equal([...checkpointShapes(c).keys()].slice(0, 8), [
    'model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.0.self_attn.{q,k,v}_proj.weight', 'model.layers.0.self_attn.{q,k,v}_proj.bias',
    'model.layers.0.self_attn.o_proj.weight', 'model.layers.0.post_attention_layernorm.weight', 'model.layers.0.mlp.{gate,up}_proj.weight', 'model.layers.0.mlp.down_proj.weight',
  ]);
  assert.equal([...checkpointShapes(c).keys()].slice(-1), ['model.norm.weight']);
  assert.equal([llama.canonical('lm_head.weight'), llama.checkpointName('unembed.weight')], ['unembed.weight', 'lm_head.weight']);
  for (const buffer of ['model.layers.0.self_attn.rotary_emb.inv_freq', 'model.rotary_emb.inv_freq']) assert.is(llama.canonical(buffer), null, buffer);
  for (const unknown of ['model.layers.0.input_layernorm.bias', 'model.layers.0.self_attn.q_norm.weight', 'h.0.mlp.c_fc.weight', 'model.constructor.weight', 'layers.0.mlp.up_proj.weight']) {
    assert.is(llama.canonical(unknown), undefined, unknown);
  }
  throwsBad(() => llama.parts('pos_embed.weight'), /^Llama has no tensor for the canonical parameter pos_embed\.weight$/);
  assert.equal([mistral.linearName(4, 'ff_out'), llama.linearName(0, 'attn_in'), llama.linearName(1, 'ff_in')], ['layers.4.mlp.down_proj', 'layers.0.self_attn.{q,k,v}_proj', 'layers.1.mlp.{gate,up}_proj']);
});

test.run();
