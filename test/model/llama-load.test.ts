// Loading Llama-family directories: shards through model.safetensors.index.json, the
// refusals (one line, before any upload), writing an edited model back with the
// source's tensor names (q/k/v and gate/up split again), and cached decoding with
// rotary positions.
import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { BadInputError } from '../../src/errors.ts';
import { BadModelError } from '../../src/model/config.ts';
import { decode } from '../../src/model/decode.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { fileSource, writeSafetensorsFile } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';
import { saveModelDir } from '../../src/model/save-node.ts';
import type { LlamaConfigRef } from '../reference/llama.ts';
import { writeLlamaCheckpoint, type LlamaCheckpointOptions } from './llama-checkpoint.ts';
import { PIECE_VOCAB } from './piece-tokenizer.ts';

const CFG: LlamaConfigRef = {
  nLayer: 2, nHead: 6, nKvHead: 2, headDim: 12, nEmbd: 72, nInner: 200, vocabSize: 503, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const QWEN2: LlamaConfigRef = { ...CFG, bias: { qkv: true, o: false, mlp: false } };

async function withDir(opts: LlamaCheckpointOptions, fn: (dir: string) => Promise<void>, cfg = CFG): Promise<void> {
  const { dir } = await writeLlamaCheckpoint(cfg, 3, opts);
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function refused(dir: string, message: RegExp): Promise<void> {
  await loadModelPath(await getEngine(), dir).then(() => assert.unreachable('loaded'), (e: Error) => {
    assert.instance(e, BadModelError);
    assert.match(e.message, message);
    assert.not.match(e.message, /\n/);
  });
}

/** Every stored tensor of a directory (one file or shards), name -> bytes. */
async function storedTensors(dir: string): Promise<Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>> {
  const index = join(dir, 'model.safetensors.index.json');
  let files = ['model.safetensors'];
  try {
    files = [...new Set(Object.values(JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>))];
  } catch {
    // one file
  }
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  for (const f of files) {
    const src = await fileSource(join(dir, f));
    try {
      const file = await openSafetensors(src);
      for (const [name, info] of file.tensors) out.set(name, { dtype: info.dtype, shape: info.shape, bytes: await file.read(name) });
    } finally {
      await src.close();
    }
  }
  return out;
}

test('a sharded checkpoint loads as its single-file twin: the same logits, bit for bit', async () => {
  const logitsOf = async (dir: string) => {
    const { model } = await loadModelPath(await getEngine(), dir);
    try {
      return await decode(model, [[5, 77, 301, 2, 499]], { newTokens: [6] });
    } finally {
      model.dispose();
    }
  };
  let single: number[][] = [];
  await withDir({ dtype: 'BF16' }, async (dir) => {
    single = await logitsOf(dir);
  });
  await withDir({ dtype: 'BF16', shards: 4 }, async (dir) => assert.equal(await logitsOf(dir), single));
});

test('refusals at load, one line each: a missing shard, a missing part of q/k/v, parts that disagree with the config, an untied head missing, a name from elsewhere', async () => {
  await withDir({ shards: 2 }, async (dir) => {
    unlinkSync(join(dir, 'model-00002-of-00002.safetensors'));
    await refused(dir, /model-00002-of-00002\.safetensors: listed in model\.safetensors\.index\.json but missing; download every shard$/);
  });
  await withDir({ shards: 2 }, async (dir) => {
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../elsewhere.safetensors' } }));
    await refused(dir, /weight_map names "\.\.\/elsewhere\.safetensors", not a \.safetensors file in the same directory/);
  });
  await withDir({}, async (dir) => {
    const kept = [...(await storedTensors(dir))].filter(([name]) => name !== 'model.layers.1.self_attn.k_proj.weight');
    await writeSafetensorsFile(join(dir, 'model.safetensors'), kept.map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4) })));
    await refused(dir, /model\.safetensors: missing tensor model\.layers\.1\.self_attn\.k_proj\.weight; the checkpoint is incomplete or of another model family$/);
  });
  await withDir({}, async (dir) => {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_key_value_heads: 3 }));
    await refused(dir, /tensor model\.layers\.0\.self_attn\.\{q,k,v\}_proj\.weight has shape \[72,72\] \+ \[24,72\] \+ \[24,72\] but the config implies \[144,72\]; the config does not match the weights$/);
  });
  await withDir({}, async (dir) => {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: false }));
    // The tied checkpoint has no lm_head.
    await refused(dir, /missing tensor lm_head\.weight \[503,72\]; the config says the head is not tied to the embedding \(tie_word_embeddings false\)$/);
  }, { ...CFG, tied: true });
  await withDir({ family: 'qwen2' }, async (dir) => {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'llama', architectures: ['LlamaForCausalLM'] }));
    // A Llama has no q/k/v biases unless attention_bias, and then o_proj has one too.
    await refused(dir, /unexpected tensor model\.layers\.0\.self_attn\.\{q,k,v\}_proj\.bias for a Llama with 2 layers; the config does not match the weights$/);
  }, QWEN2);
});

test('the tokenizer is the tokenizer.json beside the weights; without one, one line naming the file and the fix', async () => {
  await withDir({}, async (dir) => {
    const { model, tokenizer } = await loadModelPath(await getEngine(), dir);
    model.dispose();
    assert.is(tokenizer.bos, 1, 'tokenizer_config.json adds <s>');
    assert.equal(tokenizer.promptParts('The Eiffel Tower').map((p) => p.ids[0]), [1, ...['▁The', '▁Eiffel', '▁Tower'].map((t) => PIECE_VOCAB[t])]);
    assert.is(tokenizer.vocabSize, CFG.vocabSize);
  });
  await withDir({ noTokenizer: true }, async (dir) => {
    await loadModelPath(await getEngine(), dir).then(() => assert.unreachable('loaded'), (e: Error) => {
      assert.instance(e, BadInputError);
      assert.match(e.message, /no tokenizer\.json; put the tokenizer\.json \(and tokenizer_config\.json\) that came with the model beside its weights/);
      assert.not.match(e.message, /\n/);
    });
  });
});

test('saved back (edit --out), every stored tensor keeps its name, dtype, shape and bytes; q/k/v and gate/up are split again; shards become one file', async () => {
  await withDir({ family: 'qwen2', dtype: 'F16', shards: 3 }, async (dir) => {
    const { model } = await loadModelPath(await getEngine(), dir);
    const out = `${dir}-saved`;
    try {
      await saveModelDir(model, dir, out);
      const [before, after] = [await storedTensors(dir), await storedTensors(out)];
      assert.equal([...after.keys()].sort(), [...before.keys()].sort());
      for (const [name, t] of before) {
        const u = after.get(name)!;
        assert.equal([u.dtype, u.shape], name.endsWith('inv_freq') ? ['F32', t.shape] : [t.dtype, t.shape], name);
        assert.ok(Buffer.from(u.bytes).equals(Buffer.from(t.bytes)), `${name}: bytes differ`);
      }
      assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) assert.is(readFileSync(join(out, f), 'utf8'), readFileSync(join(dir, f), 'utf8'), `${f} goes with the weights`);
      const again = await loadModelPath(model.k, out);
      assert.equal(again.model.config, model.config);
      again.model.dispose();
    } finally {
      model.dispose();
      rmSync(out, { recursive: true, force: true });
    }
  }, QWEN2);
});

test('cached decoding turns each new token at its own position: the same tokens as full passes, for a batch of different lengths', async () => {
  await withDir({ dtype: 'F32' }, async (dir) => {
    const { model } = await loadModelPath(await getEngine(), dir);
    try {
      const prompts = [[4, 8, 15, 16, 23, 42], [100], [7, 7, 7]];
      const newTokens = [9, 12, 5];
      const cached = await decode(model, prompts, { newTokens });
      assert.equal(cached, await decode(model, prompts, { newTokens, cache: false }));
    } finally {
      model.dispose();
    }
  });
});

test.run();
