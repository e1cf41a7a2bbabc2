// Scoring against the float64 reference GPT-2: per-token NLL and top-1 of
// continuations (batched, prompts of different lengths), and perplexity. Tolerance:
// 2e-4 relative on NLLs (f32 forward of a 2-layer model; the reference logits agree
// to ~1e-5 of their largest entry, and a log-sum-exp adds little).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { perplexity, scoreContinuations } from '../../src/eval/score.ts';
import { gpt2Config, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { Model } from '../../src/model/model.ts';
import { gpt2ForwardRef, randomGpt2ParamsRef, type Gpt2ParamsRef } from '../reference/gpt2.ts';
import { mulberry32Ref } from '../reference/ops.ts';

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 3, nEmbd: 24, nPositions: 20, vocabSize: 101, nInner: 40, eps: 1e-5 };
let model: Model;
let params: Gpt2ParamsRef;

test.before(async () => {
  params = randomGpt2ParamsRef(CFG, 7, 0.3);
  model = Model.fromArrays(await getEngine(), gpt2Config(CFG), params);
});
test.after(() => model.dispose());

/** NLL of ids[i + 1] after ids[0..i] for every i, and the argmax, in float64. */
function referenceScores(ids: number[]): { nll: number[]; top1: number[] } {
  const V = CFG.vocabSize;
  const { logits } = gpt2ForwardRef(CFG, params, ids);
  const nll: number[] = [];
  const top1: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const row = logits.subarray(i * V, (i + 1) * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    top1.push(row.indexOf(max));
    if (i + 1 < ids.length) nll.push(lse - row[ids[i + 1]!]!);
  }
  return { nll, top1 };
}

const randomIds = (r: () => number, n: number) => Array.from({ length: n }, () => Math.floor(r() * CFG.vocabSize));

function close(actual: number[], expected: number[], tol: number, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, ...expected.map(Math.abs));
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol * scale, `${what}[${i}]: ${a} vs ${expected[i]}`));
}

test('continuation NLL and top-1 equal the float64 reference, batched over prompts of different lengths', async () => {
  const r = mulberry32Ref(3);
  const items = [[1, 1], [5, 3], [13, 1], [2, 6], [19, 1]].map(([p, c]) => ({ prompt: randomIds(r, p!), continuation: randomIds(r, c!) }));
  const scored = await scoreContinuations(model, items);
  items.forEach((it, n) => {
    const ref = referenceScores([...it.prompt, ...it.continuation]);
    const from = it.prompt.length - 1;
    close(scored[n]!.nll, ref.nll.slice(from), 2e-4, `item ${n} nll`);
    assert.equal(scored[n]!.top1, ref.top1.slice(from, from + it.continuation.length), `item ${n} top-1`);
  });
});

test('a prompt too long for the context keeps its last tokens', async () => {
  const r = mulberry32Ref(4);
  const prompt = randomIds(r, 30);
  const continuation = randomIds(r, 3);
  const [s] = await scoreContinuations(model, [{ prompt, continuation }]);
  const ids = [...prompt, ...continuation].slice(-CFG.nPositions);
  close(s!.nll, referenceScores(ids).nll.slice(-3), 2e-4, 'nll');
});

test('perplexity is exp of the mean NLL over all predicted tokens, texts cut to the limit', async () => {
  const r = mulberry32Ref(5);
  const texts = [randomIds(r, 9), randomIds(r, 1), randomIds(r, 33), randomIds(r, 4)];
  const limit = 12;
  const got = await perplexity(model, texts, limit);
  const nll = texts.map((t) => t.slice(0, limit)).filter((t) => t.length > 1).flatMap((t) => referenceScores(t).nll);
  const mean = nll.reduce((a, b) => a + b, 0) / nll.length;
  assert.is(got.tokens, 8 + 11 + 3);
  assert.ok(Math.abs(got.meanNll - mean) <= 2e-4 * mean, `mean NLL ${got.meanNll} vs ${mean}`);
  assert.ok(Math.abs(got.perplexity - Math.exp(mean)) <= 1e-3 * Math.exp(mean));
});

test('perplexity of texts longer than the context is cut to the context', async () => {
  const r = mulberry32Ref(6);
  const long = randomIds(r, 40);
  const got = await perplexity(model, [long], 256);
  assert.is(got.tokens, CFG.nPositions - 1);
});

test.run();
