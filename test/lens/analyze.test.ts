// Invariants of the Backward Lens on random GPT-2-layout checkpoints (paper §4-5, App. A, F).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { upload } from '../../src/gpu/buffers.ts';
import { gpt2 as gpt2Family, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { analyze } from '../../src/lens/analyze.ts';
import { logitLens } from '../../src/lens/logit-lens.ts';
import { openRandomModel } from '../checkpoint.ts';
import { gpt2BackwardRef, lnfLogitLensRef, type Gpt2ParamsRef } from '../reference/gpt2.ts';
import { mulberry32Ref, randomArrayRef, topkRef } from '../reference/ops.ts';
import { matrixRankRef } from '../reference/svd.ts';

/** GPT-2's module names, in role order (attn_in, attn_out, ff_in, ff_out). */
const LINEAR_MODULES = Object.values(gpt2Family.modules);

// 12 heads so that the last layer's c_attn keeps rank n for prompts up to 2*12+1 tokens.
const CFG: Gpt2Sizes = { nLayer: 3, nHead: 12, nEmbd: 48, nPositions: 32, vocabSize: 50257, nInner: 192, eps: 1e-5 };
let loaded: LoadedModel;
let params: Gpt2ParamsRef;
let close: () => void;

test.before(async () => {
  ({ loaded, params, close } = await openRandomModel(CFG, 33));
});
test.after(() => close());

function randomText(r: () => number, words: number): string {
  const vocab = ['the', ' city', ' of', ' Paris', ' plays', ' for', ' Messi', ' river', ' is', ' a', ' capital', ' language', ' speaks', ' born', ' in', ' Rome'];
  return Array.from({ length: words }, () => vocab[Math.floor(r() * vocab.length)]!).join('');
}

test('ranks: n everywhere, 1 for the last layer\'s attn.c_proj and MLP, and equal to a float64 SVD of the dense gradient', async () => {
  const { model, tokenizer } = loaded;
  const [prompt, target] = ['Lionel Messi plays for the city of', ' Paris'];
  const [a] = await analyze(model, tokenizer, [{ prompt, target }], { k: 3 });
  const ids = tokenizer.encode(prompt);
  const n = ids.length;
  const ref = gpt2BackwardRef(CFG, params, ids, [{ position: n - 1, token: tokenizer.encode(target)[0]! }]);
  for (const { layer, modules } of a!.layers) {
    for (const m of modules) {
      const expected = layer === CFG.nLayer - 1 && m.module !== 'attn.c_attn' ? 1 : n;
      assert.is(m.rank, expected, `h.${layer}.${m.module}`);
      const dense = ref.grads[`h.${layer}.${m.module}.weight`]!;
      assert.is(m.rank, matrixRankRef(dense, m.inDim, m.outDim, 2 ** -52), `h.${layer}.${m.module} vs dense SVD`);
    }
  }
});

test('--target-tokens all: every row that gets gradient counts (ranks equal a float64 SVD over prompt and forced rows)', async () => {
  const { model, tokenizer } = loaded;
  const [prompt, target] = ['Lionel Messi plays for', ' Paris Saint Germain'];
  const [a] = await analyze(model, tokenizer, [{ prompt, target }], { k: 2, targetTokens: 'all' });
  const ids = tokenizer.encode(prompt);
  const t = tokenizer.encode(target);
  const seq = [...ids, ...t.slice(0, -1)];
  assert.is(a!.tokens.length, ids.length);
  assert.equal(a!.forced.map((x) => x.id), t.slice(0, -1));
  const ref = gpt2BackwardRef(CFG, params, seq, t.map((token, j) => ({ position: ids.length - 1 + j, token })));
  let above = 0;
  for (const { layer, modules } of a!.layers) {
    for (const m of modules) {
      assert.is(m.x.length, seq.length, `h.${layer}.${m.module}: one vector per row`);
      const dense = ref.grads[`h.${layer}.${m.module}.weight`]!;
      assert.is(m.rank, matrixRankRef(dense, m.inDim, m.outDim, 2 ** -52), `h.${layer}.${m.module} vs dense SVD`);
      if (m.rank > ids.length) above++;
    }
  }
  assert.ok(above > 0, 'the forced rows raise some ranks above the prompt length');
  const last = a!.layers.at(-1)!.modules.find((m) => m.module === 'mlp.c_proj')!;
  assert.is(last.rank, t.length, 'last layer FF2: one rank per loss position');
  assert.is(a!.memory.factorBytes, a!.layers.length * 4 * seq.length * (48 + 3 * 48 + 48 + 48 + 48 + 192 + 192 + 48));
});

test('Lemma 5.1: the bottom-1 token of the last layer\'s FF2 delta_n is the target in >= 95% of 50 random pairs', async () => {
  const { model, tokenizer } = loaded;
  const r = mulberry32Ref(5);
  const pairs = Array.from({ length: 50 }, () => ({ prompt: randomText(r, 1 + Math.floor(r() * 8)), target: randomText(r, 1) }));
  const results = await analyze(model, tokenizer, pairs, { layers: [CFG.nLayer - 1], modules: ['ff_out'], k: 1 });
  const hits = results.filter((a) => {
    const deltas = a.layers[0]!.modules[0]!.delta;
    return deltas[deltas.length - 1]!.bottom![0]!.id === a.targetTokens[0]!.id;
  }).length;
  assert.ok(hits >= 48, `${hits} of 50`);
});

test('projections equal softmax(ln_f(v) D) in float64: same top-k ids, probabilities within 1e-4', async () => {
  const { model } = loaded;
  const d = CFG.nEmbd;
  const vectors = [randomArrayRef(d, 1), randomArrayRef(d, 2, 0.01), randomArrayRef(d, 3, 30)];
  const t = upload(model.k, [vectors.length, d], vectors.flatMap((v) => Array.from(v)));
  for (const normalized of [false, true]) {
    const proj = await logitLens(model, t, { k: 10, normalized }, [6342]);
    vectors.forEach((v, i) => {
      const probs = lnfLogitLensRef(CFG, params, v, normalized);
      for (const order of ['top', 'bottom'] as const) {
        const want = topkRef(probs, 10, order);
        const got = proj[i]![order];
        assert.equal(got.map((g) => g.id), want, `vector ${i} ${order} normalized=${normalized}`);
        got.forEach((g, j) => assert.ok(Math.abs(g.prob - probs[want[j]!]!) <= 1e-4, `prob ${g.prob} vs ${probs[want[j]!]}`));
      }
    });
  }
  t.dispose();
});

test('the normalized logit lens is invariant to scaling its vector by c > 0', async () => {
  const { model } = loaded;
  const v = randomArrayRef(CFG.nEmbd, 9, 0.001);
  const scaled = [1, 1e-3, 7, 1e4].map((c) => Array.from(v, (x) => x * c));
  const t = upload(model.k, [scaled.length, CFG.nEmbd], scaled.flat());
  const proj = await logitLens(model, t, { k: 5, normalized: true }, [42]);
  for (const p of proj.slice(1)) {
    assert.equal(p.top.map((x) => x.id), proj[0]!.top.map((x) => x.id));
    assert.equal(p.bottom.map((x) => x.id), proj[0]!.bottom.map((x) => x.id));
    assert.equal(p.rankFromTop, proj[0]!.rankFromTop);
    p.top.forEach((x, j) => assert.ok(Math.abs(x.prob - proj[0]!.top[j]!.prob) <= 1e-5 * Math.max(1, x.prob * 10)));
  }
  t.dispose();
});

test('results are frozen, cover every module, and report factor memory below dense', async () => {
  const { model, tokenizer } = loaded;
  const [a] = await analyze(model, tokenizer, [{ prompt: 'The capital of Italy is', target: ' Rome' }]);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a!.layers[0]!.modules[0]!.x));
  assert.equal(a!.layers.map((l) => l.modules.map((m) => m.module)), a!.layers.map(() => [...LINEAR_MODULES]));
  assert.ok(a!.memory.factorBytes < a!.memory.denseBytes);
  const ff2 = a!.layers[0]!.modules.find((m) => m.module === 'mlp.c_proj')!;
  assert.ok(ff2.delta[0]!.bottom && !ff2.x[0]!.top, 'FF2: delta is d-dimensional, x is not');
  assert.is(a!.original.prob > 0 && a!.targetProb > 0, true);
});

test.run();
