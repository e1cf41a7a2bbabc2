// The analysis reads the factors back in chunks (src/lens/analyze.ts, factorReads):
// however small the chunks, every number of the analysis is the same. Its lens
// passes gather their rows straight from the factors, across pass boundaries too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { analyze, analyzePass, factorReads } from '../../src/lens/analyze.ts';
import { readF32 } from '../../src/gpu/buffers.ts';
import { ROLES } from '../../src/model/config.ts';
import { GradientPass } from '../../src/pass/pass.ts';
import { openRandomModel } from '../checkpoint.ts';
import { lnfLogitLensRef, type Gpt2ParamsRef } from '../reference/gpt2.ts';
import { topkRef } from '../reference/ops.ts';

// Odd sizes: 5 layers, d = 28 (7 heads of 4), an inner size of 52.
const CFG: Gpt2Sizes = { nLayer: 5, nHead: 7, nEmbd: 28, nPositions: 128, vocabSize: 50257, nInner: 52, eps: 1e-5 };
let loaded: LoadedModel;
let params: Gpt2ParamsRef;
let close: () => void;

test.before(async () => {
  ({ loaded, params, close } = await openRandomModel(CFG, 71));
});
test.after(() => close());

async function analyzeWithReads(bytes: number, ...args: Parameters<typeof analyze> extends [unknown, unknown, ...infer R] ? R : never) {
  const saved = factorReads.bytes;
  factorReads.bytes = bytes;
  try {
    return await analyze(loaded.model, loaded.tokenizer, ...args);
  } finally {
    factorReads.bytes = saved;
  }
}

const PAIRS = [
  { prompt: 'Lionel Messi plays for the city of', target: ' Paris' },
  { prompt: 'The river', target: ' Rome is' },
];

// One factor of this model at 8 rows is 8 x (28 + 84) x 4 = 3,584 bytes and up;
// 1 byte reads each factor alone, 10,000 two or three at a time, the default all at once.
for (const bytes of [1, 10_000]) {
  test(`factors read ${bytes} bytes at a time: the same analysis as one read (two pairs, zero rows, every module)`, async () => {
    const opts = { k: 4 } as const;
    const whole = await analyzeWithReads(factorReads.bytes, PAIRS, opts);
    assert.equal(await analyzeWithReads(bytes, PAIRS, opts), whole);
    const all = { k: 3, targetTokens: 'all', layers: [4, 0, 2] } as const;
    assert.equal(await analyzeWithReads(bytes, PAIRS, all), await analyzeWithReads(factorReads.bytes, PAIRS, all));
  });
}

test('the last layer\'s zero delta rows are projected (they share one projection) and keep their zero norm', async () => {
  const [a] = await analyzeWithReads(1, [PAIRS[0]!], { k: 2 });
  const last = a!.layers.find((l) => l.layer === CFG.nLayer - 1)!;
  const ff2 = last.modules.find((m) => m.module === 'mlp.c_proj')!;
  const zero = ff2.delta.slice(0, -1);
  assert.ok(zero.length > 0 && zero.every((v) => v.norm === 0 && v.top !== undefined));
  for (const v of zero) assert.equal(v.top, zero[0]!.top);
  assert.ok(ff2.delta.at(-1)!.norm > 0);
});

test('once its backward pass is recorded, a pass holds only the factors and the outputs on the device', async () => {
  const { model, tokenizer } = loaded;
  const k = model.k;
  const live = new Set<GPUBuffer>();
  const device = k.device as GPUDevice & { createBuffer: GPUDevice['createBuffer'] };
  const create = device.createBuffer;
  device.createBuffer = (d: GPUBufferDescriptor) => {
    const b = create.call(device, d);
    // Uniform blocks are the engine's cache, shared by every pass.
    if (d.usage & GPUBufferUsage.STORAGE) {
      live.add(b);
      const destroy = b.destroy.bind(b);
      b.destroy = () => (live.delete(b), destroy());
    }
    return b;
  };
  let pass: GradientPass;
  try {
    pass = GradientPass.run(model, tokenizer, PAIRS);
    k.submit();
  } finally {
    device.createBuffer = create;
  }
  try {
    const kept = new Set([pass.out.logits, pass.out.lse, pass.out.loss].map((t) => t.buffer));
    for (let layer = 0; layer < CFG.nLayer; layer++) for (const role of ROLES) pass.batchFactors(layer, role).tensors().forEach((t) => kept.add(t.buffer));
    assert.is(live.size, kept.size);
    for (const b of live) assert.ok(kept.has(b), `${b.label} is still on the device`);
  } finally {
    pass.dispose();
  }
});

test(`over 2,048 vectors (two lens passes, rows of one factor on both sides of the cut): the last layer's projections each equals softmax(ln_f(v) D) in float64`, async () => {
  const { model, tokenizer } = loaded;
  const prompt = ' the city of Paris is a river'.repeat(15);
  const pass = GradientPass.run(model, tokenizer, [{ prompt, target: ' Rome' }]);
  try {
    const n = pass.rows(0);
    // 5 d-dimensional sides per layer; the last layer's zero delta rows project once.
    assert.ok(5 * CFG.nLayer * n - 2 * (n - 1) + 1 > 2048, `${n} tokens`);
    const [a] = await analyzePass(pass, tokenizer, { k: 3 });
    // Layer-major order: the cut at row 2,048 falls in the last layer's first factor.
    let checked = 0;
    for (const { layer, modules } of a!.layers.filter((l) => l.layer === CFG.nLayer - 1)) {
      for (const [r, m] of modules.entries()) {
        const f = pass.factors(layer, ROLES[r]!, 0);
        for (const [side, t, views] of [['x', f.X, m.x], ['delta', f.delta!, m.delta]] as const) {
          if (t.cols !== CFG.nEmbd) continue;
          const data = await readF32(model.k, t);
          views.forEach((v, i) => {
            const probs = lnfLogitLensRef(CFG, params, data.subarray(i * CFG.nEmbd, (i + 1) * CFG.nEmbd), false);
            const want = topkRef(probs, 3, 'top');
            assert.equal(v.top!.map((g) => g.id), want, `h.${layer}.${m.module} ${side} row ${i}`);
            v.top!.forEach((g, j) => assert.ok(Math.abs(g.prob - probs[want[j]!]!) <= 1e-4, `prob ${g.prob} vs ${probs[want[j]!]}`));
            checked++;
          });
        }
      }
    }
    assert.is(checked, 5 * n);
  } finally {
    pass.dispose();
  }
});

test.run();
