// Random Llama-family checkpoints of real models' shapes, written as Hugging Face
// ships them (config.json, BF16 shards + model.safetensors.index.json, Llama 2's
// tokenizer.json), for the scale runs of bench/RESULTS.md. Written one tensor at a
// time: a 13.5 GB Llama2-7B shape needs one tensor's memory (256 MB at most).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parameterShapes, UNEMBED, type ModelConfig } from '../../src/model/config.ts';
import { familyOf, readConfig } from '../../src/model/families/index.ts';
import { LLAMA2_TOKENIZER_CONFIG, llama2TokenizerJson } from '../../test/model/llama2-tokenizer.ts';
import { writeShapedFile, type ShapedTensor } from './shapes.ts';

const llamaJson = (nLayer: number, d: number, ff: number, nHead: number, nKvHead: number, maxPositions: number) => ({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: d, intermediate_size: ff, num_hidden_layers: nLayer,
  num_attention_heads: nHead, num_key_value_heads: nKvHead, max_position_embeddings: maxPositions, vocab_size: 32000,
  rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, hidden_act: 'silu', tie_word_embeddings: false,
  attention_bias: false, mlp_bias: false, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'bfloat16',
});

/** config.json of each shape, as the models' own files give their sizes; all use Llama 2's vocabulary. `llama-tiny` (2 shards) is for trying a bench quickly. */
export const LLAMA_SHAPES: Readonly<Record<string, { json: Record<string, unknown>; shards: number }>> = {
  'llama-tiny': { json: llamaJson(2, 64, 176, 4, 2, 2048), shards: 2 },
  'llama2-7b': { json: llamaJson(32, 4096, 11008, 32, 32, 4096), shards: 3 },
  tinyllama: { json: llamaJson(22, 2048, 5632, 32, 4, 2048), shards: 1 },
};

/** The stored tensors: fused parameters split back into q/k/v and gate/up as the checkpoint keeps them. */
function storedShapes(c: ModelConfig): [string, number[]][] {
  const family = familyOf(c);
  const rows: Readonly<Record<string, number>> = {
    q_proj: c.nHead * c.headDim, k_proj: c.nKvHead * c.headDim, v_proj: c.nKvHead * c.headDim, gate_proj: c.nInner, up_proj: c.nInner,
  };
  const shapes = parameterShapes(c);
  if (!c.tiedHead) shapes.set(UNEMBED, [c.vocabSize, c.nEmbd]);
  return [...shapes].flatMap(([name, shape]) => {
    const parts = family.parts(name);
    return parts.length === 1 ? [[parts[0]!, shape]] : parts.map((p): [string, number[]] => [p, [rows[p.split('.').at(-2)!]!, ...shape.slice(1)]]);
  });
}

/** Consecutive runs of tensors of about equal bytes, in load order, as Hugging Face shards a checkpoint. */
function shardsOf(tensors: readonly ShapedTensor[], n: number): ShapedTensor[][] {
  const bytes = (t: ShapedTensor) => t.shape.reduce((a, b) => a * b, 2);
  const each = tensors.reduce((s, t) => s + bytes(t), 0) / n;
  const out: ShapedTensor[][] = [[]];
  let filled = 0;
  for (const t of tensors) {
    if (filled >= each * out.length && out.length < n) out.push([]);
    out.at(-1)!.push(t);
    filled += bytes(t);
  }
  return out;
}

/** Writes the named shape into `dir`: BF16 weights with std 0.023 and norm weights 1, so the forward pass stays finite. */
export async function writeLlamaShaped(shape: string, dir: string): Promise<void> {
  const { json, shards } = LLAMA_SHAPES[shape]!;
  const config = readConfig(json, 'config.json');
  const tensors = storedShapes(config).map(([name, shape]): ShapedTensor => ({
    name, dtype: 'BF16', shape, centre: /norm\.weight$/.test(name) ? 1 : 0, scale: /norm\.weight$/.test(name) ? 0 : 1, spread: 'mixed',
  }));
  mkdirSync(dir, { recursive: true });
  const groups = shardsOf(tensors, shards);
  const file = (i: number) => (shards === 1 ? 'model.safetensors' : `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`);
  for (const [i, group] of groups.entries()) await writeShapedFile(join(dir, file(i)), group);
  if (shards > 1) {
    const total = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 2), 0);
    const weightMap = Object.fromEntries(groups.flatMap((g, i) => g.map((t) => [t.name, file(i)])));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(json, null, 2));
  writeFileSync(join(dir, 'tokenizer.json'), llama2TokenizerJson());
  writeFileSync(join(dir, 'tokenizer_config.json'), LLAMA2_TOKENIZER_CONFIG);
}
