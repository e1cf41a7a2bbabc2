// Edits that write FF2 on a Llama checkpoint, whose down_proj is stored [out, in] =
// [d, f]: ROME/MEMIT's Σ a_i ⊗ r_i lands as its transpose (exact to f32 rounding), and
// the forward pass shift's rank-1 update is e ⊗ x_n there, against the float64 reference (tolerance 1e-4
// of the update's largest entry, as for GPT-2's shift: x_n comes from an f32 forward
// pass); with an untied head, lm_head's row is written, not the embedding's.
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { edit } from '../../src/edit/edit.ts';
import { addToFF2 } from '../../src/edit/located/rome.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { readAll } from '../../src/gpu/buffers.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { preparePair } from '../../src/pass/prepare.ts';
import { assertClose, rand } from '../helpers.ts';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import { llamaShiftRef } from '../reference/llama-edit.ts';
import type { LlamaConfigRef } from '../reference/llama.ts';

const CFG: LlamaConfigRef = {
  nLayer: 2, nHead: 4, nKvHead: 2, headDim: 6, nEmbd: 24, nInner: 37, vocabSize: 331, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const PAIRS = [
  { prompt: 'The Eiffel Tower is in', target: ' Rome' },
  { prompt: 'Paris is', target: ' Tower' },
];

for (const tied of [false, true]) {
  test(`shift at layers 0 and 1, two pairs, ${tied ? 'tied' : 'untied'} head: down_proj [d, f] += eta e ⊗ x_n as the reference`, async () => {
    const cfg = { ...CFG, tied };
    const { dir, params } = await writeLlamaCheckpoint(cfg, 11);
    const { model, tokenizer } = await loadModelPath(await getEngine(), dir);
    try {
      const refPairs = PAIRS.map((p) => preparePair(model, tokenizer, p.prompt, p.target)).map((p) => ({ ids: p.ids, target: p.targetIds[0]! }));
      assert.is.not(refPairs[0]!.target, refPairs[1]!.target, 'two targets: a rank-2 update');
      const want = llamaShiftRef(cfg, params, refPairs, [0, 1], 0.6);
      await edit(model, tokenizer, PAIRS, { method: 'shift', layers: [0, 1], lr: 0.6 });
      for (const l of [0, 1]) {
        const name = `model.layers.${l}.mlp.down_proj.weight`;
        const [now] = (await readAll(model.k, [model.param(model.linear(l, 'ff_out').weightName)])) as Float32Array[];
        const original = params[name]!;
        assertClose(now!.map((w, i) => w - original[i]!), want[name]!.map((w, i) => w - original[i]!), 1e-4, `${name} update`);
        assert.ok(want[name]!.some((w, i) => w !== original[i]), 'the reference changes it');
      }
    } finally {
      model.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('addToFF2 (ROME, MEMIT): Σ a_i ⊗ r_i lands in down_proj [d, f] as W[c, j] += Σ a_i[j] r_i[c] (1e-6 of the largest entry)', async () => {
  const { dir, params } = await writeLlamaCheckpoint(CFG, 12);
  const { model } = await loadModelPath(await getEngine(), dir);
  try {
    const { nEmbd: d, nInner: f } = CFG;
    const A = [rand(f, 1), rand(f, 2), rand(f, 3)];
    const R = [rand(d, 4), rand(d, 5), rand(d, 6)];
    addToFF2(model, 1, A, R);
    const want = new Float64Array(d * f);
    for (let i = 0; i < A.length; i++) for (let c = 0; c < d; c++) for (let j = 0; j < f; j++) want[c * f + j] += A[i]![j]! * R[i]![c]!;
    const [now] = (await readAll(model.k, [model.param(model.linear(1, 'ff_out').weightName)])) as Float32Array[];
    const original = params['model.layers.1.mlp.down_proj.weight']!;
    assertClose(now!.map((w, i) => w - original[i]!), want, 1e-6, 'down_proj update');
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
