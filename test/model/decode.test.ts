// Incremental (key/value-cached) decoding gives the same tokens as full forward
// passes, greedy and seeded top-k, for a batch of prompts of different lengths and
// different numbers of new tokens; and greedy equals the older generate().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { gpt2Config, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { decode, generate } from '../../src/model/decode.ts';
import { Model } from '../../src/model/model.ts';
import { randomGpt2ParamsRef } from '../reference/gpt2.ts';
import { mulberry32Ref } from '../reference/ops.ts';

const CFG: Gpt2Sizes = { nLayer: 3, nHead: 4, nEmbd: 32, nPositions: 40, vocabSize: 211, nInner: 64, eps: 1e-5 };
let model: Model;

test.before(async () => {
  model = Model.fromArrays(await getEngine(), gpt2Config(CFG), randomGpt2ParamsRef(CFG, 11, 0.3));
});
test.after(() => model.dispose());

const r = mulberry32Ref(9);
const prompts = [1, 7, 13].map((n) => Array.from({ length: n }, () => Math.floor(r() * CFG.vocabSize)));

test('greedy: cached = full passes = generate()', async () => {
  const newTokens = [20, 20, 20];
  const cached = await decode(model, prompts, { newTokens });
  const full = await decode(model, prompts, { newTokens, cache: false });
  assert.equal(cached, full);
  assert.equal(full, await generate(model, prompts, { maxNewTokens: 20 }));
});

test('seeded top-k: cached = full passes, and different counts per prompt', async () => {
  const newTokens = [39, 5, 27];
  const opts = { newTokens, topK: 5, seed: 1234 };
  const cached = await decode(model, prompts, opts);
  assert.equal(cached.map((a) => a.length), newTokens);
  assert.equal(cached, await decode(model, prompts, { ...opts, cache: false }));
  assert.equal(cached, await decode(model, prompts, opts), 'same seed, same tokens');
  assert.not.equal(cached, await decode(model, prompts, { ...opts, seed: 1235 }), 'another seed, other tokens');
});

test('refuses a prompt that with its new tokens exceeds the context', async () => {
  try {
    await decode(model, [prompts[2]!], { newTokens: [CFG.nPositions] });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /exceed the context/);
  }
});

test('a relu model decodes with relu: cached = generate()', async () => {
  const cfg: Gpt2Sizes = { ...CFG, activation: 'relu' };
  const relu = Model.fromArrays(await getEngine(), gpt2Config(cfg), randomGpt2ParamsRef(cfg, 11, 0.3));
  try {
    assert.equal(await decode(relu, prompts, { newTokens: [12, 12, 12] }), await generate(relu, prompts, { maxNewTokens: 12 }));
  } finally {
    relu.dispose();
  }
});

test.run();
