// GPT-2 (Hugging Face GPT2LMHeadModel): layer norms with biases, learned positions,
// gelu_new, fused q/k/v in attn.c_attn, Conv1D weights stored [in, out] as the
// engine keeps them (no transpose), the head tied to wte unless lm_head differs.
import { BadModelError, type Activation, type ModelConfig, type ModelSizes, type Role } from '../config.ts';
import type { Family } from './family.ts';
import { nameTable, wholeModules } from './name-table.ts';

/** What a GPT-2 config.json sets; the rest of ModelConfig is GPT-2's fixed design. */
export type Gpt2Sizes = ModelSizes;

export function gpt2Config(s: Gpt2Sizes): ModelConfig {
  return {
    family: 'gpt2', nLayer: s.nLayer, nHead: s.nHead, nKvHead: s.nHead, headDim: s.nEmbd / s.nHead, nEmbd: s.nEmbd,
    nPositions: s.nPositions, vocabSize: s.vocabSize, nInner: s.nInner, eps: s.eps,
    norm: 'layernorm', position: { kind: 'learned' }, activation: s.activation ?? 'gelu_new', gated: false,
    bias: { attn_in: true, attn_out: true, ff_in: true, ff_out: true }, parallelResidual: false, tiedHead: true,
    weightLayout: 'in_out',
  };
}

// Hugging Face's activation_function names for what the kernels compute: gelu_fast
// and gelu_pytorch_tanh are the tanh approximation (gelu_fast only regroups the
// constants), gelu_python the erf form. Any other name is refused rather than run
// as something else.
const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  gelu_new: 'gelu_new', gelu_fast: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', gelu: 'gelu', gelu_python: 'gelu', relu: 'relu',
};

/** The activation config field `key` names (GPT-2's activation_function, GPT-NeoX's hidden_act). */
export function activationOf(o: Readonly<Record<string, unknown>>, key: string, fallback: string, file: string): Activation {
  const name = o[key] ?? fallback;
  const known = typeof name === 'string' && Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (known) return known;
  throw new BadModelError(`${file}: ${key} ${JSON.stringify(name)} is not implemented; this engine runs ${Object.keys(ACTIVATIONS).join(', ')}`);
}

function int(obj: Readonly<Record<string, unknown>>, keys: string[], file: string, fallback?: number): number {
  const key = keys.find((k) => obj[k] !== undefined && obj[k] !== null);
  const v = key === undefined ? fallback : obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new BadModelError(`${file}: ${keys[0]} must be a positive integer, got ${JSON.stringify(v)}; fix the config`);
  }
  return v;
}

/** Reads the fields GPT2LMHeadModel uses; n_inner null means 4 * n_embd as in Hugging Face. */
function readConfig(o: Readonly<Record<string, unknown>>, file: string): ModelConfig {
  const nEmbd = int(o, ['n_embd', 'hidden_size'], file);
  const nHead = int(o, ['n_head', 'num_attention_heads'], file);
  if (nEmbd % nHead !== 0) throw new BadModelError(`${file}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const eps = o.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new BadModelError(`${file}: layer_norm_epsilon must be a positive number`);
  return gpt2Config({
    nLayer: int(o, ['n_layer', 'num_hidden_layers'], file),
    nHead,
    nEmbd,
    nPositions: int(o, ['n_positions', 'n_ctx'], file),
    vocabSize: int(o, ['vocab_size'], file),
    nInner: int(o, ['n_inner'], file, 4 * nEmbd),
    eps,
    activation: activationOf(o, 'activation_function', 'gelu_new', file),
  });
}

/** The config.json a Hugging Face GPT-2 would carry, for writing checkpoints. */
function writeConfig(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_embd: c.nEmbd,
    n_positions: c.nPositions,
    n_ctx: c.nPositions,
    vocab_size: c.vocabSize,
    n_inner: c.nInner,
    layer_norm_epsilon: c.eps,
    activation_function: c.activation,
  };
}

const MODULES: Readonly<Record<Role, string>> = { attn_in: 'attn.c_attn', attn_out: 'attn.c_proj', ff_in: 'mlp.c_fc', ff_out: 'mlp.c_proj' };
/** Canonical part -> GPT-2 part, outside the blocks and inside one. */
const TOP: Readonly<Record<string, string>> = { embed: 'wte', pos_embed: 'wpe', final_norm: 'ln_f', unembed: 'lm_head' };
const BLOCK: Readonly<Record<string, string>> = { attn_norm: 'ln_1', ff_norm: 'ln_2', ...MODULES };
// Some checkpoints carry the causal mask and its -1e4 constant as buffers.
const NAMES = nameTable('GPT-2', 'h.', BLOCK, TOP, { buffer: /^h\.\d+\.attn\.(masked_)?bias$/, optionalPrefix: 'transformer.' });

export const gpt2: Family = {
  name: 'gpt2',
  displayName: 'GPT-2',
  modelTypes: ['gpt2'],
  architectures: ['GPT2LMHeadModel', 'GPT2Model'],
  tokenizer: 'gpt2-bpe',
  readConfig,
  writeConfig,
  ...NAMES,
  ...wholeModules('h.', MODULES),
};
