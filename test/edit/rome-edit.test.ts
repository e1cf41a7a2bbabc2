// ROME and MEMIT on a tiny random checkpoint (odd sizes): statistics collected on
// random tokens, then one edit (ROME at one layer, MEMIT over two layers, MEMIT with
// two facts at once) must make each target the top-1 next token, touch only FF2's
// weights of the edited layers, and restore() must give back the original bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readAll } from '../../src/gpu/buffers.ts';
import { memitPrefixes, romePrefixes } from '../../src/edit/located/context-templates.ts';
import { LocatedEditor, type LocatedSpec } from '../../src/edit/located/editor.ts';
import { secondMoments } from '../../src/edit/located/second-moment.ts';
import { type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { predictNext } from '../../src/model/next-token.ts';
import { ROME_VALUE } from '../../src/edit/located/rome-hparams.ts';
import { checkEditReaches, valueObjective } from '../../src/edit/located/value-vector.ts';
import { openRandomModel } from '../checkpoint.ts';
import { mulberry32Ref } from '../reference/ops.ts';

const CFG: Gpt2Sizes = { nLayer: 3, nHead: 3, nEmbd: 27, nPositions: 40, vocabSize: 50257, nInner: 53, eps: 1e-5 };
// The answer follows the subject directly, so a random model's last position carries
// the edited value straight to the logits (through a trained model's attention it
// would travel from the subject to the last token).
const FACTS = [
  { prompt: 'The Eiffel Tower', subject: 'Eiffel Tower', target: ' Rome' },
  { prompt: 'I met Lionel Messi', subject: 'Lionel Messi', target: ' Boston' },
];
const PREFIXES = { rome: ['', 'It was a day. ', 'The rain fell. '], memit: ['', 'Because of it. ', 'You know. '] };
let loaded: LoadedModel;
let close: () => void;
let editor: LocatedEditor;
// MEMIT's own clamp (0.75 of v₀) suits a trained model; the random one gets ROME's 4 for both.
const VALUE = ROME_VALUE;

test.before(async () => {
  ({ loaded, close } = await openRandomModel(CFG, 21));
  const r = mulberry32Ref(2);
  const windows = Array.from({ length: 12 }, () => Array.from({ length: 32 }, () => Math.floor(r() * 50257)));
  const { moments } = await secondMoments(loaded.model, windows, [0, 1, 2]);
  editor = new LocatedEditor(loaded.model, loaded.tokenizer, async (l) => moments.get(l)!, 0, PREFIXES);
});
test.after(() => close());

async function snapshot(): Promise<Map<string, Uint32Array>> {
  const { model } = loaded;
  const names = [...model.params.keys()];
  const data = await readAll(model.k, names.map((n) => model.param(n)));
  return new Map(names.map((n, i) => [n, new Uint32Array(data[i]!.buffer)]));
}

async function top1(facts: typeof FACTS): Promise<boolean[]> {
  const { model, tokenizer } = loaded;
  const preds = await predictNext(model, tokenizer, facts.map((f) => tokenizer.encode(f.prompt)), 1);
  return preds.map((p, i) => p.top[0]!.id === tokenizer.encode(facts[i]!.target)[0]);
}

async function check(spec: LocatedSpec, facts: typeof FACTS, what: string): Promise<void> {
  const { model } = loaded;
  const before = await snapshot();
  assert.equal(await top1(facts), facts.map(() => false), `${what}: not top-1 before`);
  const result = await editor.apply(spec, facts);
  try {
    assert.equal(model.edited.sort(), spec.layers.map((l) => `h.${l}.mlp.c_proj.weight`).sort(), `${what}: FF2 weights only`);
    assert.ok(result.changes.every((c) => c.norm > 0), `${what}: every edited weight moved`);
    assert.equal(await top1(facts), facts.map(() => true), `${what}: the targets are top-1 after (losses ${JSON.stringify(result.losses.map((l) => l.map((x) => x.toFixed(2))))})`);
  } finally {
    model.restore();
  }
  const after = await snapshot();
  for (const [name, bytes] of before) assert.ok(after.get(name)!.every((b, i) => b === bytes[i]), `${what}: ${name} restored bit for bit`);
}

test('value search: the gradient of NLL + KL + decay matches central differences; two requests in one pass stay independent', async () => {
  const { model, tokenizer } = loaded;
  const prefixes = ['', 'It was a day. '];
  const objective = valueObjective(model, tokenizer, FACTS, prefixes, 'blocks.1.hook_mlp_out', ROME_VALUE, 1);
  const zero = new Float64Array(CFG.nEmbd);
  await objective.evaluate([zero, zero], false);
  const norm0 = Math.hypot(...objective.init![0]!);
  const r = mulberry32Ref(8);
  const delta = Float64Array.from({ length: CFG.nEmbd }, () => (r() - 0.5) * norm0);
  const other = delta.map((x) => -x);
  const [{ grad }, second] = await objective.evaluate([delta, other], true);
  const h = 1e-2 * norm0;
  for (const c of [0, 5, 26]) {
    const plus = Float64Array.from(delta);
    const minus = Float64Array.from(delta);
    plus[c] = plus[c]! + h;
    minus[c] = minus[c]! - h;
    const [up, upOther] = await objective.evaluate([plus, other], false);
    const [down] = await objective.evaluate([minus, other], false);
    const fd = (up!.loss - down!.loss) / (2 * h);
    // Requests are independent: the second's loss does not move with the first's δ.
    assert.ok(Math.abs(upOther!.loss - second!.loss) <= 1e-6 * second!.loss, `request 2 moved: ${upOther!.loss} vs ${second!.loss}`);
    assert.ok(Math.abs(fd - grad![c]!) <= 0.05 * Math.abs(fd) + 1e-4, `coordinate ${c}: finite difference ${fd}, gradient ${grad![c]}`);
  }
});

test('ROME at layer 1 makes the target top-1; restore() is exact', async () => {
  await check({ method: 'rome', layers: [1], lambda: 0, value: VALUE }, FACTS.slice(0, 1), 'rome');
});

test('MEMIT over layers 0-1, one fact and two at once; restore() is exact', async () => {
  await check({ method: 'memit', layers: [0, 1], lambda: 1, value: VALUE }, FACTS.slice(0, 1), 'memit single');
  await check({ method: 'memit', layers: [0, 1], lambda: 1, value: VALUE }, FACTS, 'memit batch');
});

test('context prefixes: the plain prompt first, then ROME 20 and MEMIT 5 sampled ones ending in ". "', async () => {
  const romeP = await romePrefixes(loaded.model, loaded.tokenizer);
  const memitP = await memitPrefixes(loaded.model, loaded.tokenizer);
  assert.is(romeP.length, 21);
  assert.is(memitP.length, 6);
  assert.is(romeP[0], '');
  assert.ok([...romeP.slice(1), ...memitP.slice(1)].every((p) => p.endsWith('. ')));
  assert.ok(memitP[2]!.startsWith('Therefore'));
});

test('a subject missing from the prompt is refused before any weight changes', async () => {
  let message = '';
  try {
    await editor.apply({ method: 'rome', layers: [1], lambda: 0 }, [{ prompt: 'Paris is the capital of', subject: 'Berlin', target: ' France' }]);
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /subject "Berlin" does not occur/);
  assert.equal(loaded.model.edited, []);
});

test('the library refuses a value written at the last layer while the subject ends before the prompt; a prompt ending with its subject is reachable', async () => {
  const last = CFG.nLayer - 1;
  for (const layers of [[last], [0, last]]) {
    const method = layers.length === 1 ? 'rome' : 'memit';
    const message = await editor.apply({ method, layers, lambda: 1 }, [{ prompt: 'Paris is the capital of', subject: 'Paris', target: ' France' }]).then(() => '', (e: Error) => e.message);
    assert.match(message, /layer 2, the model's last, cannot change what follows "Paris is the capital of"/, method);
  }
  checkEditReaches(loaded.tokenizer, 'The capital of France is Paris', 'Paris', last, CFG.nLayer);
  assert.equal(loaded.model.edited, []);
});

test.run();
