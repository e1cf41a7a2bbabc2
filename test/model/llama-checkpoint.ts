// Random Hugging Face-layout Llama / Mistral / Qwen2 checkpoints: config.json, a small
// tokenizer.json and model.safetensors, or shards with model.safetensors.index.json, written by our
// safetensors writer, with the float64 parameters the reference should use (rounded
// as the storage dtype rounds them).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensorsFile } from '../../src/model/node-file.ts';
import { storedAs, type StorageDtype } from '../checkpoint.ts';
import { PIECE_TOKENIZER_CONFIG, PIECE_TOKENIZER_JSON } from './piece-tokenizer.ts';
import { llamaParamShapesRef, randomLlamaParamsRef, type LlamaConfigRef, type LlamaParamsRef } from '../reference/llama.ts';

export type LlamaFamilyName = 'llama' | 'mistral' | 'qwen2';

/** The odd shapes the family's tests start from: d 72, 6 heads of 12 over 2 key/value heads, ff 200, vocabulary 503, 3 layers. */
export const ODD_LLAMA: LlamaConfigRef = {
  nLayer: 3, nHead: 6, nKvHead: 2, headDim: 12, nEmbd: 72, nInner: 200, vocabSize: 503, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};

export interface LlamaCheckpointOptions {
  family?: LlamaFamilyName;
  dtype?: StorageDtype;
  /** Files to spread the tensors over, round robin (so q, k and v land in different shards); 1 writes model.safetensors. */
  shards?: number;
  maxPositions?: number;
  /** Mistral's window. */
  slidingWindow?: number;
  std?: number;
  /** Write no tokenizer.json (nor tokenizer_config.json), as a directory missing them. */
  noTokenizer?: boolean;
}

const ARCHITECTURE: Readonly<Record<LlamaFamilyName, string>> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' };

/** The config.json Hugging Face would write for `cfg` (Qwen2 implies q/k/v biases; Mistral none). */
export function llamaConfigJson(cfg: LlamaConfigRef, opts: LlamaCheckpointOptions = {}): Record<string, unknown> {
  const family = opts.family ?? 'llama';
  const s = cfg.ropeScaling;
  return {
    architectures: [ARCHITECTURE[family]], model_type: family, hidden_size: cfg.nEmbd, intermediate_size: cfg.nInner, num_hidden_layers: cfg.nLayer,
    num_attention_heads: cfg.nHead, num_key_value_heads: cfg.nKvHead, head_dim: cfg.headDim, max_position_embeddings: opts.maxPositions ?? 64,
    vocab_size: cfg.vocabSize, rms_norm_eps: cfg.eps, rope_theta: cfg.ropeTheta, hidden_act: 'silu', tie_word_embeddings: cfg.tied,
    rope_scaling: s.type === 'default' ? null : s.type === 'linear' ? { rope_type: 'linear', factor: s.factor }
      : { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositions },
    ...(family === 'llama' ? { attention_bias: cfg.bias.qkv, mlp_bias: cfg.bias.mlp } : {}),
    ...(family === 'mistral' ? { sliding_window: opts.slidingWindow ?? null } : {}),
    bos_token_id: 1, eos_token_id: 2,
  };
}

/** Writes the checkpoint into a new temporary directory; returns it with the reference parameters. */
export async function writeLlamaCheckpoint(cfg: LlamaConfigRef, seed: number, opts: LlamaCheckpointOptions = {}): Promise<{ dir: string; params: LlamaParamsRef }> {
  const dtype = opts.dtype ?? 'F32';
  const dir = mkdtempSync(join(tmpdir(), 'bl-llama-'));
  const { params, tensors } = storedAs(randomLlamaParamsRef(cfg, seed, opts.std ?? 0.3), llamaParamShapesRef(cfg), dtype);
  // Older checkpoints carry the rotary frequencies as a buffer; the loader skips it.
  tensors.push({ name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32', shape: [cfg.headDim / 2], data: new Float32Array(cfg.headDim / 2).fill(1) });
  const n = opts.shards ?? 1;
  if (n === 1) {
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  } else {
    const file = (i: number) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    for (let i = 0; i < n; i++) await writeSafetensorsFile(join(dir, file(i)), tensors.filter((_, j) => j % n === i));
    const weightMap = Object.fromEntries(tensors.map((t, j) => [t.name, file(j % n)]));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(llamaConfigJson(cfg, opts)));
  if (!opts.noTokenizer) {
    writeFileSync(join(dir, 'tokenizer.json'), PIECE_TOKENIZER_JSON);
    writeFileSync(join(dir, 'tokenizer_config.json'), PIECE_TOKENIZER_CONFIG);
  }
  return { dir, params };
}
