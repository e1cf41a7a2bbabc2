// Edits against the float64 reference (test/reference/edit.ts) on a random checkpoint
// with the full 50,257-token vocabulary and odd sizes (d 39, FF 101, 3 heads of 13),
// and restore() giving back the original bytes. Tolerances, relative to the largest
// entry of the reference update: shift 1e-4 (x_n comes from an f32 forward pass),
// SGD 1e-3 (Delta passes back through the layers in f32, as in test/gpt2), Adam 1e-3
// of eta (the first step is eta * g / (|g| + eps): sign-like, so only entries with
// |g| near eps could differ, and none does here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readAll, readBits } from '../../src/gpu/buffers.ts';
import { edit } from '../../src/edit/edit.ts';
import type { EditSpec } from '../../src/edit/types.ts';
import { type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { predictNext } from '../../src/model/next-token.ts';
import { openRandomModel } from '../checkpoint.ts';
import { assertClose } from '../helpers.ts';
import { adamStepRef, sgdStepRef, shiftRef, type EditPairRef } from '../reference/edit.ts';
import type { Gpt2ParamsRef } from '../reference/gpt2.ts';

const CFG: Gpt2Sizes = { nLayer: 3, nHead: 3, nEmbd: 39, nPositions: 24, vocabSize: 50257, nInner: 101, eps: 1e-5 };
const PAIRS = [
  { prompt: 'Lionel Messi plays for', target: ' Paris' },
  { prompt: 'The Eiffel Tower is in the city of', target: ' Rome' },
];
let loaded: LoadedModel;
let params: Gpt2ParamsRef;
let close: () => void;

test.before(async () => {
  ({ loaded, params, close } = await openRandomModel(CFG, 5));
});
test.after(() => close());

const refPairs = (pairs: typeof PAIRS): EditPairRef[] => pairs.map((p) => ({ ids: loaded.tokenizer.encode(p.prompt), target: loaded.tokenizer.encode(p.target) }));

/** Every parameter's bytes, for exact comparisons. */
async function snapshot(): Promise<Map<string, Uint32Array>> {
  const { model } = loaded;
  const names = [...model.params.keys()];
  const data = await readAll(model.k, names.map((n) => model.param(n)));
  return new Map(names.map((n, i) => [n, new Uint32Array(data[i]!.buffer)]));
}

/** Runs the edit, checks each changed parameter's update against the reference's, restores, checks the bytes. */
async function checkEdit(pairs: typeof PAIRS, spec: EditSpec, expected: Gpt2ParamsRef, tol: number, what: string): Promise<void> {
  const { model, tokenizer } = loaded;
  const before = await snapshot();
  const result = await edit(model, tokenizer, pairs, spec);
  try {
    assert.equal(model.edited.sort(), Object.keys(expected).sort(), `${what}: only the edited parameters are copied`);
    assert.equal(result.changes.map((c) => c.name).sort(), Object.keys(expected).sort());
    for (const [name, want] of Object.entries(expected)) {
      const [now] = (await readAll(model.k, [model.param(name)])) as Float32Array[];
      const original = params[name]!;
      assertClose(now!.map((w, i) => w - original[i]!), want.map((w, i) => w - original[i]!), tol, `${what} ${name} update`);
      const change = result.changes.find((c) => c.name === name)!;
      const refNorm = Math.hypot(...want.map((w, i) => w - original[i]!));
      assert.ok(Math.abs(change.norm - refNorm) <= tol * 10 * refNorm, `${what} ${name}: change norm ${change.norm} vs ${refNorm}`);
    }
  } finally {
    assert.equal(model.restore().sort(), Object.keys(expected).sort());
  }
  const after = await snapshot();
  for (const [name, bytes] of before) assert.ok(after.get(name)!.every((b, i) => b === bytes[i]), `${what}: ${name} restored byte for byte`);
  assert.equal(model.edited, []);
}

test('shift: W += eta x_n ⊗ wte[t] at one layer, one pair', async () => {
  await checkEdit(PAIRS.slice(0, 1), { method: 'shift', layers: [1], lr: 0.7 }, shiftRef(CFG, params, refPairs(PAIRS.slice(0, 1)), [1], 0.7), 1e-4, 'shift');
});

test('shift: several layers and a batch of pairs in one pass are the sum of rank-1 updates', async () => {
  await checkEdit(PAIRS, { method: 'shift', layers: [0, 2], lr: 0.3 }, shiftRef(CFG, params, refPairs(PAIRS), [0, 2], 0.3), 1e-4, 'batched shift');
});

test('shift: no change when the target already is the top-1 next token; --steps stops once it is', async () => {
  const { model, tokenizer } = loaded;
  const prompt = PAIRS[0]!.prompt;
  const [pred] = await predictNext(model, tokenizer, [tokenizer.encode(prompt)], 1);
  const top = pred!.top[0]!;
  const same = await edit(model, tokenizer, [{ prompt, target: top.text }], { method: 'shift', layers: [2], lr: 1 });
  assert.is(same.shifts[0], 0);
  assert.equal(model.edited, []);
  const iterated = await edit(model, tokenizer, PAIRS.slice(0, 1), { method: 'shift', layers: [2], lr: 5, steps: 50 });
  const [after] = await predictNext(model, tokenizer, [tokenizer.encode(prompt)], 1, [tokenizer.encode(PAIRS[0]!.target)[0]]);
  model.restore();
  assert.is(after!.watched!.rank, 1, 'iterated shifts reach top-1');
  assert.ok(iterated.steps <= 50 && iterated.shifts[0]! >= 1);
  assert.is(iterated.steps, iterated.shifts[0]! + 1, 'one more pass finds the target at top-1 and stops');
});

test('sgd: one step W - eta dW on two modules of two layers, straight from the factors', async () => {
  const names = [0, 2].flatMap((l) => [`h.${l}.mlp.c_proj.weight`, `h.${l}.attn.c_attn.weight`]);
  await checkEdit(PAIRS, { method: 'sgd', layers: [0, 2], modules: ['ff_out', 'attn_in'], lr: 0.05 }, sgdStepRef(CFG, params, refPairs(PAIRS), names, 0.05), 1e-3, 'sgd');
});

test('sgd: --target-tokens all teacher-forces every target token', async () => {
  const pairs = [{ prompt: 'Lionel Messi plays for', target: ' Paris Saint-Germain' }];
  await checkEdit(pairs, { method: 'sgd', layers: [1], lr: 0.05, targetTokens: 'all' }, sgdStepRef(CFG, params, refPairs(pairs), ['h.1.mlp.c_proj.weight'], 0.05, true), 1e-3, 'sgd all tokens');
});

test('adam: one step of MEMIT fine-tuning on FF2 weight and bias', async () => {
  await checkEdit(PAIRS, { method: 'adam', layers: [1], steps: 1 }, adamStepRef(CFG, params, refPairs(PAIRS), [1], 5e-4), 1e-3, 'adam');
});

test('adam: stops once the loss is below 1e-2, and restore() undoes many steps', async () => {
  const { model, tokenizer } = loaded;
  const before = await snapshot();
  const r = await edit(model, tokenizer, PAIRS.slice(0, 1), { method: 'adam', layers: [0, 1, 2], lr: 0.05, steps: 25 });
  assert.ok(r.losses.length >= 1 && r.losses.length <= 25);
  if (r.losses.length < 25) assert.ok(r.losses.at(-1)! < 1e-2 && r.losses.slice(0, -1).every((l) => l >= 1e-2));
  assert.ok(r.losses.at(-1)! < r.losses[0]!, 'the loss falls');
  model.restore();
  const after = await snapshot();
  for (const [name, bytes] of before) assert.ok(after.get(name)!.every((b, i) => b === bytes[i]), `${name} restored`);
});

test('edits stack until restore(): shift then sgd then restore', async () => {
  const { model, tokenizer } = loaded;
  const before = await snapshot();
  await edit(model, tokenizer, PAIRS, { method: 'shift', layers: [0], lr: 0.5 });
  const second = await edit(model, tokenizer, PAIRS, { method: 'sgd', layers: [0, 1], lr: 0.01 });
  assert.equal(second.changes.map((c) => c.name).sort(), ['h.0.mlp.c_proj.weight', 'h.1.mlp.c_proj.weight']);
  model.restore();
  const after = await snapshot();
  for (const [name, bytes] of before) assert.ok(after.get(name)!.every((b, i) => b === bytes[i]), `${name} restored`);
});

for (const dtype of ['F16', 'BF16'] as const) {
  test(`${dtype} checkpoint: shift and sgd widen each matrix they change to f32 (updates as the reference's), restore() gives back the 16-bit original bit for bit`, async () => {
    const half = await openRandomModel(CFG, 5, dtype);
    const { model, tokenizer } = half.loaded;
    try {
      const pairs = refPairs(PAIRS);
      const untouched = model.param('h.0.mlp.c_proj.weight');
      const methods = [
        { spec: { method: 'shift', layers: [1, 2], lr: 0.5 }, names: ['h.1.mlp.c_proj.weight', 'h.2.mlp.c_proj.weight'], ref: () => shiftRef(CFG, half.params, pairs, [1, 2], 0.5), tol: 1e-4 },
        { spec: { method: 'sgd', layers: [1, 2], modules: ['attn_in'], lr: 0.05 }, names: ['h.1.attn.c_attn.weight', 'h.2.attn.c_attn.weight'], ref: (n: string[]) => sgdStepRef(CFG, half.params, pairs, n, 0.05), tol: 1e-3 },
      ] as const;
      for (const m of methods) {
        const names = [...m.names];
        const bits = await Promise.all(names.map((n) => readBits(model.k, model.param(n))));
        const want = m.ref(names);
        await edit(model, tokenizer, PAIRS, m.spec as EditSpec);
        for (const name of names) {
          assert.is(model.param(name).dtype, 'f32', `${name} widened`);
          const [now] = (await readAll(model.k, [model.param(name)])) as Float32Array[];
          const was = half.params[name]!;
          assertClose(now!.map((w, i) => w - was[i]!), want[name]!.map((w, i) => w - was[i]!), m.tol, `${dtype} ${m.spec.method} ${name} update`);
        }
        assert.is(model.param('h.0.mlp.c_proj.weight'), untouched, 'an unedited matrix is neither copied nor widened');
        assert.equal(model.restore().sort(), names);
        for (const [i, name] of names.entries()) {
          assert.is(model.param(name).dtype, dtype.toLowerCase(), `${name} packed again`);
          assert.equal(Array.from(await readBits(model.k, model.param(name))), Array.from(bits[i]!), `${name} restored bit for bit`);
        }
      }
    } finally {
      half.close();
    }
  });
}

test('bad specs: unknown method, layer out of range, eta <= 0 or NaN, steps < 1, a module the method cannot edit', async () => {
  const { model, tokenizer } = loaded;
  const bad: [EditSpec, RegExp][] = [
    [{ method: 'rome' as 'shift', layers: [0], lr: 1 }, /unknown edit method "rome"/],
    [{ method: 'shift', layers: [3], lr: 1 }, /layer 3 does not exist: this model has layers 0-2/],
    [{ method: 'shift', layers: [], lr: 1 }, /no layers/],
    [{ method: 'sgd', layers: [0], lr: 0 }, /η .* must be a number > 0/],
    [{ method: 'sgd', layers: [0], lr: NaN }, /η .* must be a number > 0/],
    [{ method: 'shift', layers: [0] }, /shift needs a learning rate/],
    [{ method: 'sgd', layers: [0], lr: 1, steps: 0 }, /steps 0/],
    [{ method: 'shift', layers: [0], lr: 1, modules: ['attn_in'] }, /shift edits mlp.c_proj \(FF2\) only, not attn.c_attn/],
    [{ method: 'adam', layers: [0], modules: ['ff_in'] }, /adam edits mlp.c_proj \(FF2\) only/],
  ];
  for (const [spec, message] of bad) {
    try {
      await edit(model, tokenizer, PAIRS, spec);
      assert.unreachable(`${JSON.stringify(spec)} was accepted`);
    } catch (e) {
      assert.match((e as Error).message, message);
    }
  }
  assert.equal(model.edited, []);
});

test.run();
