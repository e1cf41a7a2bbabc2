// Model shapes the benches run on, and a random checkpoint of any of them written
// to disk (config.json + model.safetensors) so a bench loads it as a user's model
// would. 16-bit data is drawn directly as bit patterns and written one tensor at a
// time, so a 3.2 GB gpt2-xl file needs one tensor's memory, not 3.2 GB (or 6.4).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernels } from '../../src/gpu/kernels.ts';
import { UNEMBED, type ModelConfig } from '../../src/model/config.ts';
import { gpt2Config, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { checkpointShapes, familyOf, readConfig } from '../../src/model/families/index.ts';
import { seededRandom } from '../../src/model/sample.ts';
import { Model } from '../../src/model/model.ts';
import { writeSafetensorsStreamed } from '../../src/model/node-file.ts';
import { f32ToBf16, f32ToF16 } from '../../src/model/safetensors.ts';

const gpt2 = (nLayer: number, nEmbd: number, nHead: number): Gpt2Sizes => ({ nLayer, nHead, nEmbd, nPositions: 1024, vocabSize: 50257, nInner: 4 * nEmbd, eps: 1e-5 });

/** `tiny` keeps GPT-2's vocabulary (the tokenizer needs it) for quick trial runs of a bench. */
export const SHAPES: Record<string, Gpt2Sizes> = {
  tiny: gpt2(2, 64, 4),
  small: gpt2(12, 768, 12),
  medium: gpt2(24, 1024, 16),
  xl: { ...gpt2(48, 1600, 25), nInner: 6400 },
};

/**
 * Shapes of other families, by their published config.json. pythia-160m: 12 layers,
 * d 768, 12 heads, a quarter of each head rotary, parallel blocks, vocab_size 50,304
 * (padded beyond its tokenizer), untied embed_out.
 */
export const FAMILY_SHAPES: Record<string, ModelConfig> = {
  'pythia-160m': readConfig({
    architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12,
    max_position_embeddings: 2048, vocab_size: 50304, layer_norm_eps: 1e-5, rotary_pct: 0.25, rotary_emb_base: 10000, hidden_act: 'gelu',
    use_parallel_residual: true, tie_word_embeddings: false, bos_token_id: 0, eos_token_id: 0,
  }, 'pythia-160m'),
};

export function shapeNamed(name: string): Gpt2Sizes {
  const cfg = SHAPES[name];
  if (!cfg) throw new Error(`unknown shape "${name}": choose ${Object.keys(SHAPES).join(', ')}`);
  return cfg;
}

// 4,096 values in +-0.04 (std 0.023; layernorm gains near 1), indexed by a hash of the position.
const TABLE = Float32Array.from({ length: 4096 }, (_, i) => 0.04 * ((i / 4095) * 2 - 1));

export type ShapedDtype = 'F32' | 'F16' | 'BF16';

/**
 * How a position picks its table entry. `weyl` (a multiplicative hash's top bits) is
 * what the GPT-2 shapes have always used; its rows are shifted copies of one another,
 * so a product of two such matrices adds up coherently; `mixed` scrambles the bits,
 * so a deep, wide model's activations stay near those of random weights.
 */
export type Spread = 'weyl' | 'mixed';

const INDEX: Readonly<Record<Spread, (i: number, seed: number) => number>> = {
  weyl: (i, seed) => (Math.imul(i + seed, 2654435761) >>> 20) & 4095,
  mixed: (i, seed) => {
    let h = Math.imul(i ^ seed, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & 4095;
  },
};

/** One tensor of a shaped checkpoint: centre + scale * (a table entry) at every position. */
export interface ShapedTensor {
  name: string;
  dtype: ShapedDtype;
  shape: number[];
  centre: number;
  scale: number;
  spread: Spread;
}

/** The tensor's values, in its dtype (16-bit ones as bit patterns, never widened). */
function shapedData(t: ShapedTensor): Float32Array | Uint16Array {
  const values = Float32Array.from(TABLE, (v) => t.centre + t.scale * v);
  const table = t.dtype === 'F32' ? values : t.dtype === 'F16' ? f32ToF16(values) : f32ToBf16(values);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const data = t.dtype === 'F32' ? new Float32Array(n) : new Uint16Array(n);
  const seed = [...t.name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const at = INDEX[t.spread];
  for (let i = 0; i < n; i++) data[i] = table[at(i, seed)]!;
  return data;
}

/** Writes `tensors` to `path`, one tensor in memory at a time. */
export async function writeShapedFile(path: string, tensors: readonly ShapedTensor[]): Promise<void> {
  await writeSafetensorsStreamed(path, tensors, shapedData);
}

/** Writes a random GPT-2 checkpoint of shape `cfg` into `dir`. */
export async function writeShapedCheckpoint(cfg: Gpt2Sizes, dtype: 'F16' | 'F32', dir: string): Promise<void> {
  await writeConfigCheckpoint(gpt2Config(cfg), dtype, dir);
}

/** Writes a random checkpoint of any family's `config` into `dir`: its tensor names, an untied head where it has one, its config.json. */
export async function writeConfigCheckpoint(config: ModelConfig, dtype: 'F16' | 'F32', dir: string): Promise<void> {
  const family = familyOf(config);
  const shapes = checkpointShapes(config);
  if (!config.tiedHead) shapes.set(family.checkpointName(UNEMBED), [config.vocabSize, config.nEmbd]);
  const tensors = [...shapes].map(([name, shape]): ShapedTensor => ({
    name, dtype, shape, centre: /norm\.weight$/.test(family.canonical(name) ?? '') ? 1 : 0, scale: 1, spread: 'weyl',
  }));
  mkdirSync(dir, { recursive: true });
  await writeShapedFile(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(family.writeConfig(config)));
}

/** `dir`, holding a checkpoint of the named shape: written once, reused by later runs. */
export async function cachedCheckpoint(shape: string, dtype: 'F16' | 'F32', root: string): Promise<string> {
  const dir = join(root, `${shape}-${dtype}`);
  if (!existsSync(join(dir, 'config.json'))) await writeShapedCheckpoint(shapeNamed(shape), dtype, dir);
  return dir;
}

/**
 * A random model of shape `cfg` built in memory (no file): weights uniform in ±0.02
 * from a seeded generator, layernorm gains 1. Unlike the hashed checkpoint above, its
 * matrices have full rank, which ROME/MEMIT's second moments need.
 */
export function randomGpt2(k: Kernels, cfg: Gpt2Sizes, seed = 1): Model {
  const random = seededRandom(seed);
  const arrays: Record<string, Float32Array> = {};
  for (const [name, shape] of checkpointShapes(gpt2Config(cfg))) {
    const n = shape.reduce((a, b) => a * b, 1);
    arrays[name] = /ln_.*weight$/.test(name) ? new Float32Array(n).fill(1) : Float32Array.from({ length: n }, () => 0.04 * (random() - 0.5));
  }
  return Model.fromArrays(k, gpt2Config(cfg), arrays);
}
