// GPT-2 on the engine against the float64 reference, on random checkpoints loaded
// from disk. Tolerances (relative to each tensor's largest entry): logits 1e-4,
// loss 1e-5, factors X and Delta 1e-3 (Delta passes back through every layer in f32).
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tape } from '../../src/autograd/tape.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { gpt2 as gpt2Family, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { Model } from '../../src/model/model.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { weightMemory } from '../../src/model/memory.ts';
import { decode, generate } from '../../src/model/decode.ts';
import { gpt2BackwardRef, gpt2ForwardRef, gpt2ParamShapesRef, type Gpt2ParamsRef } from '../reference/gpt2.ts';
import { mulberry32Ref } from '../reference/ops.ts';
import { assertClose, read } from '../helpers.ts';
import { writeRandomCheckpoint, type StorageDtype } from '../checkpoint.ts';

/** GPT-2's module names, in role order (attn_in, attn_out, ff_in, ff_out). */
const LINEAR_MODULES = Object.values(gpt2Family.modules);

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 4, nEmbd: 48, nPositions: 32, vocabSize: 50257, nInner: 192, eps: 1e-5 };

function randomIds(n: number, seed: number, V: number): number[] {
  const r = mulberry32Ref(seed);
  return Array.from({ length: n }, () => Math.floor(r() * V));
}

async function withModel(dtype: StorageDtype, fn: (model: Model, params: Gpt2ParamsRef) => Promise<void>, cfg = CFG): Promise<void> {
  const { dir, params } = await writeRandomCheckpoint(cfg, 11, { dtype, prefix: dtype === 'F16', maskBuffers: dtype === 'BF16' });
  const { model } = await loadModelPath(await getEngine(), dir);
  try {
    await fn(model, params);
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs one prompt with its loss at the last position and compares everything with the reference. */
async function checkAgainstReference(model: Model, params: Gpt2ParamsRef, ids: number[], target: number, what: string): Promise<void> {
  const tape = new Tape(model.k, { grad: true });
  try {
    const out = model.forward(tape, [ids], [{ seq: 0, position: ids.length - 1, token: target }]);
    tape.backward(out.loss);
    // model.config: the activation the loader read from config.json.
    const ref = gpt2BackwardRef(model.config, params, ids, [{ position: ids.length - 1, token: target }]);
    const [logits, loss] = await read(model.k, out.logits, out.loss);
    const V = CFG.vocabSize;
    assertClose(logits!, ref.logits.slice((ids.length - 1) * V), 1e-4, `${what} logits`);
    assertClose(loss!, [ref.loss], 1e-5, `${what} loss`);
    for (let l = 0; l < CFG.nLayer; l++) {
      for (const m of LINEAR_MODULES) {
        const name = `h.${l}.${m}`;
        const f = tape.factors.get(name)!;
        const [x, delta] = await read(model.k, f.X, f.delta!);
        assertClose(x!, ref.factors[name]!.x, 1e-3, `${what} ${name} X`);
        assertClose(delta!, ref.factors[name]!.delta, 1e-3, `${what} ${name} Delta`);
      }
    }
  } finally {
    tape.dispose();
  }
}

/** A 16-bit checkpoint's matrices stay 16-bit on the device; its vectors are widened. */
function checkStorage(model: Model, dtype: StorageDtype): void {
  const matrix = dtype === 'F32' ? 'f32' : dtype.toLowerCase();
  for (const name of ['wte.weight', 'wpe.weight', 'h.1.attn.c_attn.weight', 'h.0.mlp.c_proj.weight']) assert.is(model.param(name).dtype, matrix, name);
  assert.is(model.param('h.0.ln_1.bias').dtype, 'f32');
  const sizes = Object.values(gpt2ParamShapesRef(CFG)).map((shape) => ({ matrix: shape.length === 2, n: shape.reduce((a, b) => a * b, 1) }));
  const sum = (matrix: boolean) => sizes.filter((s) => s.matrix === matrix).reduce((a, s) => a + s.n, 0);
  const expected = dtype === 'F32' ? { f32: 4 * (sum(true) + sum(false)) } : { f32: 4 * sum(false), [matrix]: 2 * sum(true) };
  assert.equal(weightMemory(model).byDtype, expected, 'device memory of the weights');
}

for (const dtype of ['F32', 'F16', 'BF16'] as const) {
  test(`GPT-2 ${dtype} checkpoint (vocab 50257, 2 layers, d=48): logits, loss and every factor match float64 for prompts of 1, 5 and 17 tokens`, async () => {
    await withModel(dtype, async (model, params) => {
      checkStorage(model, dtype);
      for (const n of [1, 5, 17]) await checkAgainstReference(model, params, randomIds(n, n, CFG.vocabSize), 6342, `${dtype} n=${n}`);
    });
  });
}

for (const activation of ['gelu', 'relu'] as const) {
  test(`GPT-2 with activation_function "${activation}": logits, loss and every factor match float64`, async () => {
    await withModel('F32', async (model, params) => {
      assert.is(model.config.activation, activation);
      for (const n of [1, 7]) await checkAgainstReference(model, params, randomIds(n, n, CFG.vocabSize), 6342, `${activation} n=${n}`);
    }, { ...CFG, activation });
  });
}

test('a batch of 3 prompts of different lengths equals the three single runs', async () => {
  await withModel('F32', async (model) => {
    const prompts = [randomIds(5, 1, CFG.vocabSize), randomIds(17, 2, CFG.vocabSize), randomIds(1, 3, CFG.vocabSize)];
    const targets = [15496, 995, 6342];
    const run = async (batch: number[][], which: number[]) => {
      const tape = new Tape(model.k, { grad: true });
      try {
        const out = model.forward(tape, batch, batch.map((p, s) => ({ seq: s, position: p.length - 1, token: targets[which[s]!]! })));
        tape.backward(out.loss);
        const factors = LINEAR_MODULES.flatMap((m) => [0, 1].map((l) => tape.factors.get(`h.${l}.${m}`)!));
        const got = await read(model.k, out.logits, out.loss, ...factors.flatMap((f) => [f.X, f.delta!]));
        return { T: out.T, logits: got[0]!, loss: got[1]!, factors: got.slice(2) };
      } finally {
        tape.dispose();
      }
    };
    const batched = await run(prompts, [0, 1, 2]);
    const V = CFG.vocabSize;
    for (let s = 0; s < prompts.length; s++) {
      const single = await run([prompts[s]!], [s]);
      const n = prompts[s]!.length;
      assertClose(batched.logits.slice(s * V, (s + 1) * V), single.logits, 1e-6, `prompt ${s} logits`);
      assertClose([batched.loss[s]!], single.loss, 1e-6, `prompt ${s} loss`);
      batched.factors.forEach((b, i) => {
        const width = b.length / (prompts.length * batched.T);
        const rows = b.slice(s * batched.T * width, (s * batched.T + n) * width);
        assertClose(rows, single.factors[i]!, 1e-6, `prompt ${s} factor ${i}`);
      });
    }
  });
});

test('loading refuses a config that does not match the tensors', async () => {
  const { dir } = await writeRandomCheckpoint({ ...CFG, vocabSize: 97 }, 1);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${dir}/config.json`, JSON.stringify({ n_layer: 3, n_head: 4, n_embd: 48, n_positions: 32, vocab_size: 97 }));
  try {
    await loadModelPath(await getEngine(), dir);
    assert.unreachable('loaded a mismatched checkpoint');
  } catch (e) {
    assert.match((e as Error).message, /missing tensor h\.2\.ln_1\.weight/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const dtype of ['F32', 'F16', 'BF16'] as const) test(`${dtype}: greedy generation, full passes and with the key/value cache, follows the float64 argmax; top-k sampling is seeded and stays in the top k`, async () => {
  await withModel(dtype, async (model, params) => {
    const prompt = randomIds(4, 9, CFG.vocabSize);
    const [greedy] = await generate(model, [prompt], { maxNewTokens: 3 });
    const seq = [...prompt];
    for (let i = 0; i < 3; i++) {
      const { logits } = gpt2ForwardRef(CFG, params, seq);
      const last = logits.subarray((seq.length - 1) * CFG.vocabSize);
      seq.push(last.indexOf(Math.max(...last)));
    }
    assert.equal(greedy, seq.slice(prompt.length));
    assert.equal(await decode(model, [prompt], { newTokens: [3] }), [seq.slice(prompt.length)], 'key/value-cached decoding');
    const a = await generate(model, [prompt, prompt.slice(0, 2)], { maxNewTokens: 2, topK: 5, seed: 3 });
    const b = await generate(model, [prompt, prompt.slice(0, 2)], { maxNewTokens: 2, topK: 5, seed: 3 });
    assert.equal(a, b);
    const { logits } = gpt2ForwardRef(CFG, params, prompt);
    const last = Array.from(logits.subarray((prompt.length - 1) * CFG.vocabSize));
    const top5 = last.map((v, i) => [v, i] as const).sort((x, y) => y[0] - x[0]).slice(0, 5).map((x) => x[1]);
    assert.ok(top5.includes(a[0]![0]!), `sampled ${a[0]![0]} outside the top 5 ${top5}`);
  });
});

test.run();
