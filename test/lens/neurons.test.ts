// The per-neuron view (paper App. B) against a float64 reference that forms the dense
// gradient, on a random GPT-2-layout checkpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readAll, upload } from '../../src/gpu/buffers.ts';
import { GradientPass } from '../../src/pass/pass.ts';
import type { NeuronOptions, NeuronRequest, NeuronView } from '../../src/lens/neurons/types.ts';
import { parseNeuronSpec } from '../../src/cli/neurons-spec.ts';
import { neuronView } from '../../src/lens/neurons/view.ts';
import type { Role } from '../../src/model/config.ts';
import { gpt2, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { skipIds, topkMembers, topkOverlap } from '../../src/gpu/overlap.ts';
import { topk } from '../../src/gpu/vocab.ts';
import { formatNeuronView } from '../../src/report/neurons.ts';
import { openRandomModel } from '../checkpoint.ts';
import { gpt2BackwardRef, type Gpt2ParamsRef, type LinearFactorsRef } from '../reference/gpt2.ts';
import { lensScoresRef, neuronViewRef, type NeuronViewRef } from '../reference/neurons.ts';
import { bestRef } from '../reference/lens.ts';
import { mulberry32Ref } from '../reference/ops.ts';

const CFG: Gpt2Sizes = { nLayer: 3, nHead: 12, nEmbd: 48, nPositions: 32, vocabSize: 50257, nInner: 192, eps: 1e-5 };
const PROMPT = 'Lionel Messi plays for';
const TARGET = ' Paris';
let loaded: LoadedModel;
let params: Gpt2ParamsRef;
let closeModel: () => void;

test.before(async () => {
  ({ loaded, params, close: closeModel } = await openRandomModel(CFG, 21));
});
test.after(() => closeModel());

type Job = Pick<NeuronRequest, 'layer' | 'role'> & { seq?: number; opts: NeuronOptions };

interface Captured {
  view: NeuronView;
  /** The engine's own (f32) factors of the job's rows, for a reference free of forward-pass rounding. */
  factors: LinearFactorsRef;
}

/** Runs one gradient pass over `prompts` and takes each job's neuron view from it. */
async function views(prompts: string[], jobs: Job[]): Promise<Captured[]> {
  const { model, tokenizer } = loaded;
  const out: Captured[] = [];
  const pass = GradientPass.run(model, tokenizer, prompts.map((prompt) => ({ prompt, target: TARGET })));
  try {
    for (const { seq = 0, opts, ...req } of jobs) {
      const view = await neuronView(pass, tokenizer, { ...req, pair: seq }, opts);
      const f = pass.factors(req.layer, req.role, seq);
      const [x, delta] = await readAll(model.k, [f.X, f.delta!]);
      out.push({ view, factors: { x: Float64Array.from(x!), delta: Float64Array.from(delta!), rows: f.rows, inDim: f.inDim, outDim: f.outDim } });
    }
  } finally {
    pass.dispose();
  }
  return out;
}

const orientationOf = (role: Role) => (role === 'ff_out' || role === 'attn_out' ? 'rows' : 'columns');

/** Every 4th neuron and those at the edges of 50-neuron blocks: a float64 projection of all 192 takes seconds. */
const SAMPLE = Array.from({ length: CFG.nInner }, (_, j) => j).filter((j) => j % 4 === 0 || j % 50 === 0 || j % 50 === 49);

const backwards = new Map<string, Record<string, LinearFactorsRef>>();

/** The float64 model's own gradient of the module of `role`, from its own factors. */
function modelReference(prompt: string, layer: number, role: Role, lens?: { normalized: boolean }): NeuronViewRef {
  if (!backwards.has(prompt)) {
    const ids = loaded.tokenizer.encode(prompt);
    backwards.set(prompt, gpt2BackwardRef(CFG, params, ids, [{ position: ids.length - 1, token: loaded.tokenizer.encode(TARGET)[0]! }]).factors);
  }
  return neuronViewRef(CFG, params, backwards.get(prompt)![`h.${layer}.${gpt2.modules[role]}`]!, orientationOf(role), lens && { ...lens, depth: 100, neurons: SAMPLE });
}

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

/**
 * Norms and cosines: to rounding against the engine's factors (the Gram-matrix
 * algebra), and to f32 forward/backward accuracy against the float64 model, both
 * scaled by how much a neuron's cancellation amplifies errors in the factors.
 */
function checkGeometry({ view }: Captured, own: NeuronViewRef, model: NeuronViewRef): void {
  assert.is(view.norms.length, own.norms.length);
  for (const [ref, tol] of [[own, 1e-9], [model, 1e-3]] as const) {
    view.norms.forEach((x, j) => {
      const cond = Number.isFinite(ref.condition[j]) ? ref.condition[j]! : 1;
      close(x, ref.norms[j]!, tol * cond * Math.max(ref.norms[j]!, 1e-30), `norm ${j}`);
      view.cosine[j]!.forEach((c, i) => close(c, ref.cosine[j]![i]!, tol * cond, `cos(neuron ${j}, s_${i})`));
    });
  }
}

/** The sign-flip rule applied to the reference's counts, allowing f32 rounding to swap a few ids at the top-100 boundary. */
function consistent(got: number, plus: number, minus: number): boolean {
  for (let dp = -2; dp <= 2; dp++) {
    for (let dm = -2; dm <= 2; dm++) {
      const p = plus + dp;
      const m = minus + dm;
      if (got === (m > p ? -m : p)) return true;
    }
  }
  return false;
}

function checkIntersections(view: NeuronView, ref: NeuronViewRef): void {
  let exact = 0;
  let total = 0;
  ref.plus.forEach((_, j) => {
    view.intersection[j]!.forEach((got, i) => {
      const [p, m] = [ref.plus[j]![i]!, ref.minus[j]![i]!];
      assert.ok(consistent(got, p, m), `neuron ${j} vs s_${i}: ${got}, reference +${p} / -${m}`);
      exact += got === (m > p ? -m : p) ? 1 : 0;
      total++;
    });
    assert.ok(Math.abs(view.zeroIntersection[j]! - ref.zero[j]!) <= 2, `neuron ${j} vs zero: ${view.zeroIntersection[j]} vs ${ref.zero[j]}`);
  });
  assert.ok(total > 0 && exact >= 0.97 * total, `${exact} of ${total} intersections exact`);
}

/** Ids of the k best scores, ties to the lower id (as the vocabulary kernels order them). */
function bestIds(scores: Float64Array, k: number, sign: 1 | -1): number[] {
  const best: number[] = [];
  scores.forEach((_, id) => {
    let at = best.length;
    while (at > 0 && sign * scores[id]! > sign * scores[best[at - 1]!]!) at--;
    if (at < k) best.splice(at, 0, id);
    if (best.length > k) best.pop();
  });
  return best;
}

/** Groups hold the largest, median and smallest norms in order; representatives project like the float64 lens of the same neuron. */
function checkGroups({ view }: Captured, own: NeuronViewRef, normalized: boolean): void {
  const sorted = [...own.norms].sort((a, b) => b - a);
  const N = sorted.length;
  const g = view.settings.groupSize;
  const [largest, median, smallest] = view.groups;
  assert.equal(view.groups.map((x) => x.name), ['largest', 'median', 'smallest']);
  const tol = 1e-9 * sorted[0]!;
  largest!.neurons.forEach((s, r) => close(own.norms[s.index]!, sorted[r]!, tol, `largest #${r}`));
  smallest!.neurons.forEach((s, r) => close(own.norms[s.index]!, sorted[N - g + r]!, tol, `smallest #${r}`));
  const mid = median!.neurons.map((s) => own.norms[s.index]!);
  assert.ok(mid.every((x) => x <= sorted[g]! && x >= sorted[N - g - 1]!), 'median group between the others');
  assert.ok(mid[0]! >= sorted[N >> 1]! && mid[mid.length - 1]! <= sorted[N >> 1]!, 'median group straddles the median');
  const reps = view.groups.flatMap((group) => group.neurons);
  const scores = lensScoresRef(CFG, params, [...reps.map((s) => own.neurons[s.index]!), new Float64Array(CFG.nEmbd)], normalized);
  [...reps, view.zero].forEach((s, r) => {
    assert.equal(s.top.map((t) => t.id), bestIds(scores[r]!, view.settings.k, 1), `representative ${r} top`);
    assert.equal(s.bottom.map((t) => t.id), bestIds(scores[r]!, view.settings.k, -1), `representative ${r} bottom`);
  });
  for (const s of reps) {
    assert.equal(s.intersection, view.intersection[s.index]);
    assert.equal(s.cosine, view.cosine[s.index]);
    assert.is(s.norm, view.norms[s.index]);
  }
}

test('FF2 (rows of XᵀΔ, spanned by δ_i): norms, cosines, top-100 intersections and groups equal a float64 reference', async () => {
  const [got] = await views([PROMPT], [{ layer: 1, role: 'ff_out', opts: { k: 3, normalized: false, groupSize: 3, blockSize: 50 } }]);
  const view = got!.view;
  assert.is(view.neuronCount, CFG.nInner);
  assert.is(view.orientation, 'rows');
  assert.is(view.spannedBy, 'delta');
  const own = neuronViewRef(CFG, params, got!.factors, 'rows');
  const model = modelReference(PROMPT, 1, 'ff_out', { normalized: false });
  checkGeometry(got!, own, model);
  checkIntersections(view, model);
  checkGroups(got!, own, false);
  assert.ok(Object.isFrozen(view) && Object.isFrozen(view.groups[0]!.neurons[0]!.intersection) && Object.isFrozen(view.cosine[0]));

  // Summaries are the means of the per-neuron numbers.
  for (const { stats, neurons } of [...view.groups, { stats: view.all, neurons: view.norms.map((_, index) => ({ index })) }]) {
    const js = neurons.map((s) => s.index);
    const mean = (f: (j: number) => number) => js.reduce((s, j) => s + f(j), 0) / js.length;
    stats.meanIntersection.forEach((m, i) => close(m, mean((j) => view.intersection[j]![i]!), 1e-9, `∩ ${i}`));
    stats.meanAbsCosine.forEach((m, i) => close(m, mean((j) => Math.abs(view.cosine[j]![i]!)), 1e-9, `|cos| ${i}`));
    close(stats.meanZeroIntersection, mean((j) => view.zeroIntersection[j]!), 1e-9, 'zero ∩');
    assert.is(stats.closest.reduce((a, b) => a + b, 0), js.filter((j) => view.norms[j]! > 0).length);
  }
  const text = formatNeuronView(view, loaded.tokenizer.encode(PROMPT).map((id) => loaded.tokenizer.tokenText(id)));
  for (const s of ['h.1.mlp.c_proj (FF2)', 'largest', 'median', 'smallest', 'zero vector', 'δ3 Messi', String(view.groups[0]!.neurons[0]!.index)]) assert.ok(text.includes(s), `report lacks "${s}"`);
});

test('FF1 (columns of XᵀΔ, spanned by x_i) with the normalized lens equals the float64 reference', async () => {
  const [got] = await views([PROMPT], [{ layer: 0, role: 'ff_in', opts: { k: 2, normalized: true, groupSize: 3 } }]);
  assert.is(got!.view.spannedBy, 'x');
  assert.is(got!.view.spanning.length, loaded.tokenizer.encode(PROMPT).length);
  const own = neuronViewRef(CFG, params, got!.factors, 'columns');
  const model = modelReference(PROMPT, 0, 'ff_in', { normalized: true });
  checkGeometry(got!, own, model);
  checkIntersections(got!.view, model);
  checkGroups(got!, own, true);
});

test('rank-1 last layer: every attn.c_proj neuron is ±δ_n (intersection ±100, cosine ±1); a batch\'s second sequence gets its own view', async () => {
  const short = 'The city of';
  const [last, second] = await views([PROMPT, short], [
    { layer: CFG.nLayer - 1, role: 'attn_out', opts: { k: 1, normalized: true } },
    { layer: 1, role: 'attn_out', seq: 1, opts: { k: 1, normalized: false } },
  ]);
  const v = last!.view;
  const n = v.spanning.length;
  assert.ok(v.spanning.slice(0, -1).every((s) => s.norm === 0) && v.spanning[n - 1]!.norm > 0, 'only δ_n is nonzero');
  v.norms.forEach((norm, j) => {
    if (norm === 0) return;
    const sign = Math.sign(last!.factors.x[(n - 1) * CFG.nEmbd + j]!);
    close(v.cosine[j]![n - 1]!, sign, 1e-6, `cos ${j}`);
    assert.is(v.intersection[j]![n - 1], 100 * sign, `neuron ${j}`);
    assert.ok(v.cosine[j]!.slice(0, -1).every((c) => c === 0));
  });
  assert.equal(v.all.closest.slice(0, -1), new Array(n - 1).fill(0));

  assert.is(second!.view.neuronCount, CFG.nEmbd);
  assert.is(second!.view.spanning.length, loaded.tokenizer.encode(short).length);
  checkGeometry(second!, neuronViewRef(CFG, params, second!.factors, 'rows'), modelReference(short, 1, 'attn_out'));
});

test('top-k members and overlap counts match the vocabulary top-k, ties at the cut to the lower id', async () => {
  const k = loaded.model.k;
  const V = 5000;
  const r = mulberry32Ref(3);
  // Rows: distinct scores, 9 levels (ties across the cut), all equal (every id tied).
  const data = [...Array.from({ length: V }, () => r()), ...Array.from({ length: V }, () => Math.floor(r() * 9)), ...new Array<number>(V).fill(0.5)];
  const scores = upload(k, [3, V], data);
  const want = topk(k, scores, 100, 'top');
  const members = topkMembers(k, scores, 100);
  const overlap = topkOverlap(k, scores, 100, want.ids);
  const [w, m, o] = await readAll(k, [want.ids, members, overlap]);
  for (let row = 0; row < 3; row++) {
    assert.equal([...m!.slice(row * 100, (row + 1) * 100)].sort((a, b) => a - b), [...w!.slice(row * 100, (row + 1) * 100)].sort((a, b) => a - b), `row ${row}`);
    assert.is(o![row * 3 + row], 100);
  }
  [scores, want.ids, want.scores, members, overlap].forEach((t) => t.dispose());
});

test('skipIds: no top-k member is a skipped id (the first and last, each row\'s top-1), k up to every id left', async () => {
  const k = loaded.model.k;
  const [rows, V] = [3, 501];
  const r = mulberry32Ref(5);
  // Distinct scores, then 9 levels (ties across the cut), then every id tied.
  const data = [...Array.from({ length: V }, () => r()), ...Array.from({ length: V }, () => Math.floor(r() * 9)), ...new Array<number>(V).fill(0.5)];
  const rowOf = (row: number) => data.slice(row * V, (row + 1) * V);
  const skip = [...new Set([0, V - 1, ...[0, 1, 2].map((row) => bestRef(rowOf(row), 1, 'top')[0]!), 250])].sort((a, b) => a - b);
  for (const count of [1, 100, V - skip.length]) {
    const scores = upload(k, [rows, V], data);
    skipIds(k, scores, skip);
    const members = topkMembers(k, scores, count);
    const [got, masked] = (await readAll(k, [members, scores])) as [Int32Array, Float32Array];
    for (let row = 0; row < rows; row++) {
      const want = bestRef(rowOf(row), count, 'top', new Set(skip)).sort((a, b) => a - b);
      assert.equal([...got.slice(row * count, (row + 1) * count)].sort((a, b) => a - b), want, `row ${row}, k ${count}`);
      skip.forEach((id) => assert.is(masked[row * V + id], -3.4028234663852886e38));
    }
    [scores, members].forEach((t) => t.dispose());
  }
});

test('bad requests: unknown module or layer, rows outside the factors, k out of range', async () => {
  assert.equal(parseNeuronSpec('2.mlp.c_proj', 3), { layer: 2, role: 'ff_out', module: 'mlp.c_proj' });
  assert.equal(parseNeuronSpec('0.FF1', 3), { layer: 0, role: 'ff_in', module: 'ff1' });
  assert.equal(parseNeuronSpec('1.attn_out', 3), { layer: 1, role: 'attn_out', module: 'attn_out' });
  assert.throws(() => parseNeuronSpec('3.mlp.c_proj', 3), /layer 3 does not exist/);
  assert.throws(() => parseNeuronSpec('1.ln_2', 3), /LAYER\.MODULE/);
  assert.throws(() => parseNeuronSpec('mlp.c_fc', 3), /LAYER\.MODULE/);
  const { model, tokenizer } = loaded;
  const errors: string[] = [];
  const pass = GradientPass.run(model, tokenizer, [{ prompt: PROMPT, target: TARGET }]);
  const attempt = async (req: NeuronRequest, k = 3) => {
    try {
      await neuronView(pass, tokenizer, req, { k, normalized: false });
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  try {
    await attempt({ layer: 0, role: 'ln_2' as Role, pair: 0 });
    await attempt({ layer: 7, role: 'ff_in', pair: 0 });
    await attempt({ layer: 0, role: 'ff_in', pair: 1 });
    await attempt({ layer: 0, role: 'ff_in', pair: 0 }, 129);
  } finally {
    pass.dispose();
  }
  assert.is(errors.length, 4);
  assert.match(errors[0]!, /layer 0, ln_2: no gradient/);
  assert.match(errors[1]!, /h\.7\.mlp\.c_fc: no gradient/);
  assert.match(errors[2]!, /outside/);
  assert.match(errors[3]!, /k = 129/);
});

test.run();
