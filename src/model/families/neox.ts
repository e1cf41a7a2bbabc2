// GPT-NeoX (GPTNeoXForCausalLM: Pythia, GPT-NeoX-20B): layer norms with biases,
// rotary positions on the first rotary_pct of each head (rotate_half within that
// slice), an MLP with gelu (hidden_act), parallel residual blocks unless
// use_parallel_residual is false, nn.Linear weights kept [out, in], an untied head
// (embed_out) unless tie_word_embeddings. query_key_value is one stored matrix whose
// output rows are q, k, v interleaved per head; the model regroups that output
// (ModelConfig.qkvPerHead), so the stored weight, its factors and an edited
// checkpoint all keep the checkpoint's own row order.
import { BadModelError, type ModelConfig, type Role } from '../config.ts';
import type { Family } from './family.ts';
import { bool, has, int, num, ropeJson, ropeScaling, tokenIds, type Json } from './fields.ts';
import { activationOf } from './gpt2.ts';
import { nameTable, wholeModules } from './name-table.ts';

const ARCHITECTURE = 'GPTNeoXForCausalLM';

/** A nested rope_parameters (newer configs) or the top-level field, the first that is set. */
function ropeField(o: Json, keys: readonly string[]): [Json, string] | undefined {
  const nested = typeof o.rope_parameters === 'object' && o.rope_parameters !== null ? (o.rope_parameters as Json) : {};
  for (const key of keys) {
    if (has(nested, key)) return [nested, key];
    if (has(o, key)) return [o, key];
  }
  return undefined;
}

/** The rotated columns of each head: int(head_dim · rotary_pct), as GPTNeoXAttention's rotary_ndims. */
function rotaryDims(o: Json, headDim: number, file: string): number {
  const found = ropeField(o, ['partial_rotary_factor', 'rotary_pct']);
  const pct = found ? found[0][found[1]] : 0.25;
  const key = found?.[1] ?? 'rotary_pct';
  if (typeof pct !== 'number' || !(pct > 0 && pct <= 1)) throw new BadModelError(`${file}: ${key} must be a number in (0, 1], got ${JSON.stringify(pct)}; fix the config`);
  const dims = Math.floor(headDim * pct);
  if (dims < 2 || dims % 2 !== 0) throw new BadModelError(`${file}: ${key} ${pct} of head size ${headDim} rotates ${dims} columns; rotary positions need an even number of at least 2`);
  return dims;
}

function readConfig(o: Json, file: string): ModelConfig {
  const archs = Array.isArray(o.architectures) ? (o.architectures as unknown[]) : [];
  const other = archs.find((a) => a !== ARCHITECTURE);
  if (other !== undefined) throw new BadModelError(`${file}: architecture ${JSON.stringify(other)} is not supported; this engine runs ${ARCHITECTURE} of model_type gpt_neox`);
  const nEmbd = int(o, 'hidden_size', file);
  const nHead = int(o, 'num_attention_heads', file);
  if (nEmbd % nHead !== 0) throw new BadModelError(`${file}: hidden_size ${nEmbd} is not divisible by num_attention_heads ${nHead}; fix the config`);
  const headDim = nEmbd / nHead;
  const base = ropeField(o, ['rope_theta', 'rotary_emb_base']);
  const attnBias = bool(o, 'attention_bias', file, true);
  const bos = tokenIds(o, 'bos_token_id', file);
  const eos = tokenIds(o, 'eos_token_id', file);
  return {
    family: 'gpt_neox', nLayer: int(o, 'num_hidden_layers', file), nHead, nKvHead: nHead, headDim, nEmbd,
    nPositions: int(o, 'max_position_embeddings', file, 2048), vocabSize: int(o, 'vocab_size', file), nInner: int(o, 'intermediate_size', file, 4 * nEmbd),
    eps: num(o, 'layer_norm_eps', file, 1e-5), norm: 'layernorm',
    position: { kind: 'rotary', base: base ? num(base[0], base[1], file) : 10000, dims: rotaryDims(o, headDim, file), scaling: ropeScaling(o, file) },
    activation: activationOf(o, 'hidden_act', 'gelu', file), gated: false,
    bias: { attn_in: attnBias, attn_out: attnBias, ff_in: true, ff_out: true },
    parallelResidual: bool(o, 'use_parallel_residual', file, true), qkvPerHead: true,
    tiedHead: bool(o, 'tie_word_embeddings', file, false), weightLayout: 'out_in',
    ...(bos.length > 0 ? { bos: bos[0]! } : {}),
    ...(eos.length > 0 ? { eos } : {}),
  };
}

/** rotary_pct that floors back to the same rotated columns (dims / headDim may round below). */
function rotaryPct(dims: number, headDim: number): number {
  const pct = dims / headDim;
  return Math.floor(headDim * pct) === dims ? pct : (dims + 0.5) / headDim;
}

function writeConfig(c: ModelConfig): Record<string, unknown> {
  if (c.position.kind !== 'rotary') throw new BadModelError('a GPT-NeoX model has rotary positions');
  const eos = c.eos ?? [];
  return {
    architectures: [ARCHITECTURE], model_type: 'gpt_neox',
    hidden_size: c.nEmbd, intermediate_size: c.nInner, num_hidden_layers: c.nLayer, num_attention_heads: c.nHead,
    max_position_embeddings: c.nPositions, vocab_size: c.vocabSize, layer_norm_eps: c.eps,
    rotary_pct: rotaryPct(c.position.dims, c.headDim), rotary_emb_base: c.position.base,
    rope_scaling: ropeJson(c.position),
    // The engine's activation names are HF's (gelu exact, gelu_new, relu).
    hidden_act: c.activation, use_parallel_residual: c.parallelResidual, attention_bias: c.bias.attn_in,
    tie_word_embeddings: c.tiedHead,
    ...(c.bos !== undefined ? { bos_token_id: c.bos } : {}),
    ...(eos.length > 0 ? { eos_token_id: eos.length === 1 ? eos[0] : eos } : {}),
  };
}

const MODULES: Readonly<Record<Role, string>> = { attn_in: 'attention.query_key_value', attn_out: 'attention.dense', ff_in: 'mlp.dense_h_to_4h', ff_out: 'mlp.dense_4h_to_h' };
const BLOCK: Readonly<Record<string, string>> = { attn_norm: 'input_layernorm', ff_norm: 'post_attention_layernorm', ...MODULES };
const TOP: Readonly<Record<string, string>> = { embed: 'gpt_neox.embed_in', final_norm: 'gpt_neox.final_layer_norm', unembed: 'embed_out' };
// The causal mask, its fill value and the rotary frequencies (per layer in older checkpoints, once in newer) are buffers.
const NAMES = nameTable('GPT-NeoX', 'gpt_neox.layers.', BLOCK, TOP, {
  buffer: /^gpt_neox\.(layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)|rotary_emb\.inv_freq)$/,
});

export const neox: Family = {
  name: 'gpt_neox',
  displayName: 'GPT-NeoX',
  modelTypes: ['gpt_neox'],
  architectures: [ARCHITECTURE],
  tokenizer: 'hf-json',
  readConfig,
  writeConfig,
  ...NAMES,
  ...wholeModules('layers.', MODULES),
};
