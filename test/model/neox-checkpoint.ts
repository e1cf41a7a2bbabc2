// Random Hugging Face-layout GPT-NeoX checkpoints: config.json as GPTNeoXConfig writes
// it, the hand-made Pythia-shaped tokenizer.json, and model.safetensors with the
// buffers older checkpoints carry, written by our safetensors writer, with the
// float64 parameters the reference should use (rounded as the storage dtype rounds them).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensorsFile } from '../../src/model/node-file.ts';
import { storedAs, type StorageDtype } from '../checkpoint.ts';
import { neoxParamShapesRef, randomNeoxParamsRef, rotaryDimRef, type NeoxConfigRef, type NeoxParamsRef } from '../reference/neox.ts';
import { NEOX_TOKENIZER_CONFIG, NEOX_TOKENIZER_JSON } from './neox-tokenizer.ts';

export interface NeoxCheckpointOptions {
  dtype?: StorageDtype;
  std?: number;
  maxPositions?: number;
}

export function neoxConfigJson(cfg: NeoxConfigRef, opts: NeoxCheckpointOptions = {}): Record<string, unknown> {
  return {
    architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', hidden_size: cfg.nEmbd, intermediate_size: cfg.nInner, num_hidden_layers: cfg.nLayer,
    num_attention_heads: cfg.nHead, max_position_embeddings: opts.maxPositions ?? 64, vocab_size: cfg.vocabSize, layer_norm_eps: cfg.eps,
    rotary_pct: cfg.rotaryPct, rotary_emb_base: cfg.rotaryBase, hidden_act: cfg.act, use_parallel_residual: cfg.parallel,
    attention_bias: cfg.attentionBias, tie_word_embeddings: cfg.tied, rope_scaling: null, bos_token_id: 0, eos_token_id: 0,
    attention_dropout: 0, hidden_dropout: 0, initializer_range: 0.02, use_cache: true,
  };
}

/** Writes the checkpoint into a new temporary directory; returns it with the reference parameters. */
export async function writeNeoxCheckpoint(cfg: NeoxConfigRef, seed: number, opts: NeoxCheckpointOptions = {}): Promise<{ dir: string; params: NeoxParamsRef }> {
  const dir = mkdtempSync(join(tmpdir(), 'bl-neox-'));
  const { params, tensors } = storedAs(randomNeoxParamsRef(cfg, seed, opts.std ?? 0.3), neoxParamShapesRef(cfg), opts.dtype ?? 'F32');
  // What older Pythia checkpoints store beside the parameters; the loader skips them.
  const half = rotaryDimRef(cfg) / 2;
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `gpt_neox.layers.${l}.attention.`;
    tensors.push({ name: `${p}bias`, dtype: 'F32', shape: [1, 1, 4, 4], data: new Float32Array(16).fill(1) });
    tensors.push({ name: `${p}masked_bias`, dtype: 'F32', shape: [], data: new Float32Array([-1e9]) });
    tensors.push({ name: `${p}rotary_emb.inv_freq`, dtype: 'F32', shape: [half], data: new Float32Array(half).fill(1) });
  }
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(neoxConfigJson(cfg, opts)));
  writeFileSync(join(dir, 'tokenizer.json'), NEOX_TOKENIZER_JSON);
  writeFileSync(join(dir, 'tokenizer_config.json'), NEOX_TOKENIZER_CONFIG);
  return { dir, params };
}
