// GPT-2 hyperparameters, from a Hugging Face config.json or safetensors metadata.
import { BadInputError } from '../errors.ts';
import type { Activation } from '../ops/pointwise.ts';

export type { Activation };

export class BadModelError extends BadInputError {
  override name = 'BadModelError';
}

export interface Gpt2Config {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
  vocabSize: number;
  nInner: number;
  eps: number;
  /** The MLP's activation; absent means gelu_new, GPT-2's own. */
  activation?: Activation;
}

// Hugging Face's activation_function names for what the kernels compute: gelu_fast
// and gelu_pytorch_tanh are the tanh approximation (gelu_fast only regroups the
// constants), gelu_python the erf form. Any other name is refused rather than run
// as something else.
const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  gelu_new: 'gelu_new', gelu_fast: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', gelu: 'gelu', gelu_python: 'gelu', relu: 'relu',
};

function activation(o: Record<string, unknown>, file: string): Activation {
  const name = o.activation_function ?? 'gelu_new';
  const known = typeof name === 'string' && Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (known) return known;
  throw new BadModelError(`${file}: activation_function ${JSON.stringify(name)} is not implemented; this engine runs ${Object.keys(ACTIVATIONS).join(', ')}`);
}

function int(obj: Record<string, unknown>, keys: string[], file: string, fallback?: number): number {
  const key = keys.find((k) => obj[k] !== undefined && obj[k] !== null);
  const v = key === undefined ? fallback : obj[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new BadModelError(`${file}: ${keys[0]} must be a positive integer, got ${JSON.stringify(v)}; fix the config`);
  }
  return v;
}

/** Reads the fields GPT2LMHeadModel uses; n_inner null means 4 * n_embd as in Hugging Face. */
export function parseConfig(json: unknown, file: string): Gpt2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BadModelError(`${file}: config is not a JSON object`);
  const o = json as Record<string, unknown>;
  const nEmbd = int(o, ['n_embd', 'hidden_size'], file);
  const nHead = int(o, ['n_head', 'num_attention_heads'], file);
  if (nEmbd % nHead !== 0) throw new BadModelError(`${file}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const eps = o.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new BadModelError(`${file}: layer_norm_epsilon must be a positive number`);
  return {
    nLayer: int(o, ['n_layer', 'num_hidden_layers'], file),
    nHead,
    nEmbd,
    nPositions: int(o, ['n_positions', 'n_ctx'], file),
    vocabSize: int(o, ['vocab_size'], file),
    nInner: int(o, ['n_inner'], file, 4 * nEmbd),
    eps,
    activation: activation(o, file),
  };
}

/** The config.json a Hugging Face GPT-2 would carry, for writing checkpoints. */
export function configJson(c: Gpt2Config): Record<string, unknown> {
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
    activation_function: c.activation ?? 'gelu_new',
  };
}

export const LINEAR_MODULES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/** The paper's names for the MLP matrices. */
const MODULE_ALIASES: Readonly<Record<string, LinearModule>> = { ff1: 'mlp.c_fc', ff2: 'mlp.c_proj' };

/** A module by its name or alias (ff1, ff2, any case), or undefined. */
export function moduleByName(name: string): LinearModule | undefined {
  const lower = name.toLowerCase();
  return MODULE_ALIASES[lower] ?? LINEAR_MODULES.find((m) => m === lower);
}

/** Every accepted module name, for messages. */
export const MODULE_NAMES = [...LINEAR_MODULES, ...Object.keys(MODULE_ALIASES)].join(', ');

/** Every parameter GPT2LMHeadModel has (without the `transformer.` prefix), with its shape. */
export function parameterShapes(c: Gpt2Config): Map<string, number[]> {
  const d = c.nEmbd;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [c.vocabSize, d]],
    ['wpe.weight', [c.nPositions, d]],
  ]);
  for (let l = 0; l < c.nLayer; l++) {
    const h = `h.${l}`;
    shapes.set(`${h}.ln_1.weight`, [d]).set(`${h}.ln_1.bias`, [d]);
    shapes.set(`${h}.attn.c_attn.weight`, [d, 3 * d]).set(`${h}.attn.c_attn.bias`, [3 * d]);
    shapes.set(`${h}.attn.c_proj.weight`, [d, d]).set(`${h}.attn.c_proj.bias`, [d]);
    shapes.set(`${h}.ln_2.weight`, [d]).set(`${h}.ln_2.bias`, [d]);
    shapes.set(`${h}.mlp.c_fc.weight`, [d, c.nInner]).set(`${h}.mlp.c_fc.bias`, [c.nInner]);
    shapes.set(`${h}.mlp.c_proj.weight`, [c.nInner, d]).set(`${h}.mlp.c_proj.bias`, [d]);
  }
  shapes.set('ln_f.weight', [d]).set('ln_f.bias', [d]);
  return shapes;
}
