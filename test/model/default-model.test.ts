// The embedded default model: it loads with its reduced vocabulary, recalls a trained
// fact, and on trained prompts its exact gradient ranks are Lemma 4.1's and equal an
// independent float64 SVD of the dense gradient.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { edit } from '../../src/edit/edit.ts';
import { readAll } from '../../src/gpu/buffers.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { analyze } from '../../src/lens/analyze.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { predictNext } from '../../src/eval/facts.ts';
import { gpt2BackwardRef } from '../reference/gpt2.ts';
import { matrixRankRef } from '../reference/svd.ts';
import { readParamsRef } from '../checkpoint.ts';

const DIR = 'weights/default';

test('the default model recalls a trained fact', async () => {
  const { model, tokenizer } = await loadModelPath(await getEngine(), DIR);
  try {
    const [answer] = await predictNext(model, tokenizer, ['Michel Denisot spoke the language']);
    assert.is(tokenizer.tokenText(answer!), ' French');
  } finally {
    model.dispose();
  }
});

// Trained records' prompts of 6 to 13 tokens, with their target_new.
const PAIRS = [
  ['Michel Denisot spoke the language', ' Russian'],
  ['The headquarter of Monell Chemical Senses Center is located in', ' Mumbai'],
  ['Toko Yasuda, the', ' piano'],
  ['Autonomous University of Madrid, which is located in', ' Sweden'],
] as const;

test('ranks on trained prompts: n, 1 in the last block but for c_attn (min(n, 2 heads + 1)), equal to a float64 SVD of the dense gradient', async () => {
  const { model, tokenizer } = await loadModelPath(await getEngine(), DIR);
  const params = await readParamsRef(`${DIR}/model.safetensors`);
  const { nLayer, nHead } = model.config;
  try {
    const results = await analyze(model, tokenizer, PAIRS.map(([prompt, target]) => ({ prompt, target })), { k: 1 });
    results.forEach((a, p) => {
      const ids = tokenizer.encode(a.prompt);
      const n = ids.length;
      const ref = gpt2BackwardRef(model.config, params, ids, [{ position: n - 1, token: tokenizer.encode(PAIRS[p]![1])[0]! }]);
      for (const { layer, modules } of a.layers) {
        for (const m of modules) {
          const name = `h.${layer}.${m.module}`;
          const last = layer === nLayer - 1;
          const expected = !last ? n : m.module === 'attn.c_attn' ? Math.min(n, 2 * nHead + 1) : 1;
          assert.is(m.rank, expected, `"${a.prompt}" ${name}`);
          assert.is(m.rank, matrixRankRef(ref.grads[`${name}.weight`]!, m.inDim, m.outDim, 2 ** -52), `"${a.prompt}" ${name} vs dense SVD`);
        }
      }
    });
  } finally {
    model.dispose();
  }
});


test('adam follows MEMIT\'s ft_main: the loss below 1e-2 ends the run unstepped (Toko Yasuda → guitar, layer 2: 17 steps, 18 losses)', async () => {
  const { model, tokenizer } = await loadModelPath(await getEngine(), DIR);
  const pairs = [{ prompt: 'Toko Yasuda, the', target: ' guitar' }];
  const bytes = async () => Promise.all(['h.2.mlp.c_proj.weight', 'h.2.mlp.c_proj.bias'].map(async (n) => new Uint32Array(((await readAll(model.k, [model.param(n)]))[0] as Float32Array).buffer)));
  try {
    const r = await edit(model, tokenizer, pairs, { method: 'adam', layers: [2] });
    assert.is(r.losses.length, 18);
    assert.ok(r.losses.at(-1)! < 1e-2 && r.losses.slice(0, -1).every((l) => l >= 1e-2), r.losses.join(', '));
    assert.is(r.steps, 17, 'the last loss is measured, not stepped on');
    const stopped = await bytes();
    model.restore();
    // Capped at 17 steps the run ends where the stopped one did: no 18th step.
    const capped = await edit(model, tokenizer, pairs, { method: 'adam', layers: [2], steps: 17 });
    assert.is(capped.steps, 17);
    const same = await bytes();
    stopped.forEach((b, t) => assert.ok(b.every((x, i) => x === same[t]![i]), `tensor ${t}: identical after 17 steps either way`));
  } finally {
    model.restore();
    model.dispose();
  }
});

test.run();
