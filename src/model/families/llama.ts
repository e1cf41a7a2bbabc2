// Llama (LlamaForCausalLM: Llama 1/2/3, TinyLlama, SmolLM) and its two close variants,
// Mistral (a sliding attention window) and Qwen2 (biases on q, k and v only): RMSNorm,
// rotary positions in Hugging Face's rotate_half pairing, a SiLU-gated MLP,
// grouped-query attention, nn.Linear weights kept [out, in], a head untied unless
// tie_word_embeddings. The checkpoint stores q/k/v and gate/up as separate matrices;
// the engine keeps each role as one matrix, their rows concatenated (q | k | v,
// gate | up), so every role is one product, as in GPT-2, while reports name the
// stored modules (moduleParts) and the paper's FF1 is up_proj.
import { BadModelError, type ModelConfig, type Position, type Role } from '../config.ts';
import type { Family } from './family.ts';
import { bool, has, int, num, ropeJson, ropeScaling, tokenIds, type Json } from './fields.ts';

/** How the three families differ, as far as config.json and the tensors go. */
interface Variant {
  name: string;
  displayName: string;
  modelTypes: string[];
  architectures: string[];
  /** Which roles carry a bias, from the config. */
  bias(o: Json, file: string): Record<Role, boolean>;
  /** The attention window that applies, if any. */
  slidingWindow(o: Json, file: string): number | undefined;
  /** config.json fields that only this variant writes back. */
  extra(c: ModelConfig): Record<string, unknown>;
  defaultPositions: number;
}

/** For messages: what the Llama-like families accept. */
const SUPPORTED = 'LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM (RMSNorm, rotary, SiLU-gated MLP)';

/** Fields of related architectures that change the computation; a config that sets one is refused rather than run as something else. */
const REFUSED: readonly [string, string][] = [
  ['attn_logit_softcapping', 'attention logit softcapping'],
  ['final_logit_softcapping', 'final logit softcapping'],
  ['qk_norm', 'q/k norms'],
  ['use_qk_norm', 'q/k norms'],
  ['qk_layernorm', 'q/k norms'],
];

function refuseOthers(o: Json, v: Variant, file: string): void {
  for (const [key, what] of REFUSED) {
    if (has(o, key) && o[key] !== false) throw new BadModelError(`${file}: ${key} (${what}) is not supported; this engine runs ${SUPPORTED}`);
  }
  const archs = Array.isArray(o.architectures) ? (o.architectures as unknown[]) : [];
  const other = archs.find((a) => !v.architectures.includes(a as string));
  if (other !== undefined) throw new BadModelError(`${file}: architecture ${JSON.stringify(other)} is not supported; this engine runs ${SUPPORTED}`);
  if (has(o, 'partial_rotary_factor') && o.partial_rotary_factor !== 1) throw new BadModelError(`${file}: partial_rotary_factor ${JSON.stringify(o.partial_rotary_factor)} is not supported; this engine rotates whole heads`);
  const act = o.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'swish') throw new BadModelError(`${file}: hidden_act ${JSON.stringify(act)} is not supported; ${v.displayName} runs silu`);
}

function readConfig(v: Variant, o: Json, file: string): ModelConfig {
  refuseOthers(o, v, file);
  const nEmbd = int(o, 'hidden_size', file);
  const nHead = int(o, 'num_attention_heads', file);
  const nKvHead = int(o, 'num_key_value_heads', file, nHead);
  if (nHead % nKvHead !== 0) throw new BadModelError(`${file}: num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nKvHead}; fix the config`);
  if (!has(o, 'head_dim') && nEmbd % nHead !== 0) throw new BadModelError(`${file}: hidden_size ${nEmbd} is not divisible by num_attention_heads ${nHead}; give head_dim in the config`);
  const headDim = int(o, 'head_dim', file, nEmbd / nHead);
  if (headDim % 2 !== 0) throw new BadModelError(`${file}: head_dim ${headDim} is odd; rotary positions rotate pairs of dimensions`);
  const position: Position = { kind: 'rotary', base: num(o, 'rope_theta', file, 10000), dims: headDim, scaling: ropeScaling(o, file) };
  const window = v.slidingWindow(o, file);
  const bos = tokenIds(o, 'bos_token_id', file);
  const eos = tokenIds(o, 'eos_token_id', file);
  return {
    family: v.name, nLayer: int(o, 'num_hidden_layers', file), nHead, nKvHead, headDim, nEmbd,
    nPositions: int(o, 'max_position_embeddings', file, v.defaultPositions), vocabSize: int(o, 'vocab_size', file), nInner: int(o, 'intermediate_size', file),
    eps: num(o, 'rms_norm_eps', file, 1e-6), norm: 'rmsnorm', position, activation: 'silu', gated: true, bias: v.bias(o, file),
    parallelResidual: false, tiedHead: bool(o, 'tie_word_embeddings', file, false), weightLayout: 'out_in',
    ...(window !== undefined ? { slidingWindow: window } : {}),
    ...(bos.length > 0 ? { bos: bos[0]! } : {}),
    ...(eos.length > 0 ? { eos } : {}),
  };
}

function writeConfig(v: Variant, c: ModelConfig): Record<string, unknown> {
  const eos = c.eos ?? [];
  return {
    architectures: [v.architectures[0]],
    model_type: v.modelTypes[0],
    hidden_size: c.nEmbd,
    intermediate_size: c.nInner,
    num_hidden_layers: c.nLayer,
    num_attention_heads: c.nHead,
    num_key_value_heads: c.nKvHead,
    head_dim: c.headDim,
    max_position_embeddings: c.nPositions,
    vocab_size: c.vocabSize,
    rms_norm_eps: c.eps,
    rope_theta: c.position.kind === 'rotary' ? c.position.base : 10000,
    rope_scaling: ropeJson(c.position),
    hidden_act: 'silu',
    tie_word_embeddings: c.tiedHead,
    ...(c.bos !== undefined ? { bos_token_id: c.bos } : {}),
    ...(eos.length > 0 ? { eos_token_id: eos.length === 1 ? eos[0] : eos } : {}),
    ...v.extra(c),
  };
}

/** The stored modules each role is made of, in the order their rows are concatenated. */
const PARTS: Readonly<Record<Role, readonly string[]>> = {
  attn_in: ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj'], attn_out: ['self_attn.o_proj'], ff_in: ['mlp.gate_proj', 'mlp.up_proj'], ff_out: ['mlp.down_proj'],
};
/** Modules of one block written as one: self_attn.{q,k,v}_proj; a single module as it is. */
function braced(modules: readonly string[]): string {
  if (modules.length === 1) return modules[0]!;
  const [first] = modules as [string];
  const stem = first.slice(0, first.lastIndexOf('.') + 1);
  const suffix = first.slice(first.lastIndexOf('_'));
  return `${stem}{${modules.map((m) => m.slice(stem.length, m.lastIndexOf('_'))).join(',')}}${suffix}`;
}

/** A role's module as one name: self_attn.{q,k,v}_proj for the joined ones. */
const MODULES = Object.fromEntries(Object.entries(PARTS).map(([role, parts]) => [role, braced(parts)])) as Readonly<Record<Role, string>>;
const NORMS: Readonly<Record<string, string>> = { attn_norm: 'input_layernorm', ff_norm: 'post_attention_layernorm' };
const TOP: Readonly<Record<string, string>> = { 'embed.weight': 'model.embed_tokens.weight', 'final_norm.weight': 'model.norm.weight', 'unembed.weight': 'lm_head.weight' };
const TOP_BACK = Object.fromEntries(Object.entries(TOP).map(([a, b]) => [b, a])) as Readonly<Record<string, string>>;

/** Precomputed rotary frequencies some checkpoints store (per layer in older ones): not parameters. */
const BUFFER = /^model\.(layers\.\d+\.self_attn\.)?rotary_emb\.inv_freq$/;

function canonical(stored: string): string | null | undefined {
  if (BUFFER.test(stored)) return null;
  if (Object.hasOwn(TOP_BACK, stored)) return TOP_BACK[stored];
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(stored);
  if (!m) return undefined;
  const [, l, module, kind] = m as unknown as [string, string, string, string];
  const norm = Object.keys(NORMS).find((k) => NORMS[k] === module);
  if (norm) return kind === 'weight' ? `blocks.${l}.${norm}.weight` : undefined;
  // A fused parameter's own name (checkpointName's braces, as `model.edited` lists it) names it too.
  const role = (Object.keys(PARTS) as Role[]).find((r) => PARTS[r].includes(module) || MODULES[r] === module);
  return role ? `blocks.${l}.${role}.${kind}` : undefined;
}

function parts(name: string): readonly string[] {
  if (Object.hasOwn(TOP, name)) return [TOP[name]!];
  const m = /^blocks\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name);
  const [, l, key, kind] = (m ?? []) as unknown as [string, string, string, string];
  if (m && Object.hasOwn(NORMS, key) && kind === 'weight') return [`model.layers.${l}.${NORMS[key]}.weight`];
  if (m && Object.hasOwn(PARTS, key)) return PARTS[key as Role].map((p) => `model.layers.${l}.${p}.${kind}`);
  throw new BadModelError(`Llama has no tensor for the canonical parameter ${name}`);
}

function checkpointName(name: string): string {
  const all = parts(name);
  if (all.length === 1) return all[0]!;
  const m = /^blocks\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name)!;
  return `model.layers.${m[1]}.${MODULES[m[2] as Role]}.${m[3]}`;
}

function family(v: Variant): Family {
  return {
    name: v.name,
    displayName: v.displayName,
    modelTypes: v.modelTypes,
    architectures: v.architectures,
    tokenizer: 'hf-json',
    readConfig: (o, file) => readConfig(v, o, file),
    writeConfig: (c) => writeConfig(v, c),
    canonical,
    checkpointName,
    parts,
    modules: MODULES,
    moduleParts: PARTS,
    ff1: 'mlp.up_proj',
    blockName: (layer, module) => `layers.${layer}.${module}`,
    linearName: (layer, role) => `layers.${layer}.${MODULES[role]}`,
  };
}

const NO_BIAS = { attn_in: false, attn_out: false, ff_in: false, ff_out: false };

export const llama = family({
  name: 'llama', displayName: 'Llama', modelTypes: ['llama'], architectures: ['LlamaForCausalLM'], defaultPositions: 2048,
  bias: (o, file) => {
    const attn = bool(o, 'attention_bias', file, false);
    const mlp = bool(o, 'mlp_bias', file, false);
    return { attn_in: attn, attn_out: attn, ff_in: mlp, ff_out: mlp };
  },
  slidingWindow: () => undefined,
  extra: (c) => ({ attention_bias: c.bias.attn_in, mlp_bias: c.bias.ff_in }),
});

export const mistral = family({
  name: 'mistral', displayName: 'Mistral', modelTypes: ['mistral'], architectures: ['MistralForCausalLM'], defaultPositions: 4096 * 32,
  bias: () => NO_BIAS,
  slidingWindow: (o, file) => (has(o, 'sliding_window') ? int(o, 'sliding_window', file) : undefined),
  extra: (c) => ({ sliding_window: c.slidingWindow ?? null }),
});

/** Qwen2 puts biases on q, k and v and nowhere else; its window applies only when use_sliding_window says so. */
export const qwen2 = family({
  name: 'qwen2', displayName: 'Qwen2', modelTypes: ['qwen2'], architectures: ['Qwen2ForCausalLM'], defaultPositions: 32768,
  bias: () => ({ ...NO_BIAS, attn_in: true }),
  slidingWindow: (o, file) => (bool(o, 'use_sliding_window', file, false) ? int(o, 'sliding_window', file, 4096) : undefined),
  extra: (c) => (c.slidingWindow !== undefined ? { use_sliding_window: true, sliding_window: c.slidingWindow } : { use_sliding_window: false }),
});
