// The fused logit lens (src/gpu/lens.ts, kernels/lens.wgsl) against a float64
// reference (test/reference/lens.ts) on odd sizes, with ties, a split embedding,
// skipped ids (rows that are no real token), and through logitLens with zero,
// normalized and unnormalized rows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockRows, readAll, upload } from '../../src/gpu/buffers.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import type { Kernels } from '../../src/gpu/kernels.ts';
import { lensWasm } from '../../src/lens/lens-wasm.ts';
import { lensWasmCases } from './lens-wasm.cases.ts';
import { logitLens } from '../../src/lens/logit-lens.ts';
import { checkpointShapes } from '../../src/model/families/index.ts';
import { gpt2Config, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { Model } from '../../src/model/model.ts';
import { decodeLens, lens, type LensLayout, type LensRow } from '../../src/gpu/lens.ts';
import { assertEqual } from '../helpers.ts';
import { withBindLimit } from '../engine/kernels/split.cases.ts';
import { lnfLogitLensRef } from '../reference/gpt2.ts';
import { bestRef, lensRowRef, nearTies, type LensRowRef } from '../reference/lens.ts';
import { mulberry32Ref, randomArrayRef, rankRef, topkRef } from '../reference/ops.ts';

/** Random values rounded to f32, so the reference sees exactly what the GPU does. */
const f32Data = (n: number, seed: number): Float64Array => randomArrayRef(n, seed).map(Math.fround);
/** Integers in -2..2: every logit is exact in f32, so ids, scores and ranks must match exactly, ties included. */
const intData = (n: number, seed: number): Float64Array => {
  const r = mulberry32Ref(seed);
  return Float64Array.from({ length: n }, () => Math.floor(r() * 5) - 2);
};

/** A layout of the lens kernel, or 'wasm': the lens on the CPU (src/lens/lens-wasm.ts). */
type LensForm = LensLayout | 'wasm';

async function runLens(k: Kernels, h: Float64Array, wte: Float64Array, R: number, d: number, count: number, watched: number[], skip: number[] = [], form?: LensForm, chunkBytes?: number): Promise<LensRow[]> {
  const H = upload(k, [R, d], h);
  const E = upload(k, [wte.length / d, d], wte);
  try {
    if (form === 'wasm') return decodeLens(await lensWasm(k, H, E, count, watched, skip, { chunkBytes }), R, count, watched.length);
    const out = lens(k, H, E, count, watched, skip, form, chunkBytes);
    const [data] = await readAll(k, [out]);
    out.dispose();
    return decodeLens(data as Float32Array, R, count, watched.length);
  } finally {
    [H, E].forEach((t) => t.dispose());
  }
}

/** Each layout of lens_tiles (the texture ones need d a multiple of 4: they fall back to 'buffer' otherwise, so those runs would repeat the other), and the CPU's. */
const layoutsFor = (d: number): LensForm[] => [...(d % 4 ? ['buffer' as const] : (['buffer', 'texture', 'texture-rows'] as const)), 'wasm'];

const refRows = (h: Float64Array, wte: Float64Array, R: number, d: number, count: number, watched: number[], skip: ReadonlySet<number> = new Set()): LensRowRef[] =>
  Array.from({ length: R }, (_, r) => lensRowRef(h.subarray(r * d, (r + 1) * d), wte, wte.length / d, d, count, watched, skip));

function checkExact(got: LensRow[], ref: LensRowRef[], what: string): void {
  ref.forEach((want, r) => {
    const g = got[r]!;
    assertEqual(g.top.map((x) => x.id), want.top, `${what} row ${r} top ids`);
    assertEqual(g.bottom.map((x) => x.id), want.bottom, `${what} row ${r} bottom ids`);
    assertEqual(g.top.map((x) => x.score), want.top.map((c) => want.logits[c]), `${what} row ${r} top scores`);
    assertEqual(g.bottom.map((x) => x.score), want.bottom.map((c) => want.logits[c]), `${what} row ${r} bottom scores`);
    assertEqual(g.rankFromTop, want.rankFromTop, `${what} row ${r} ranks from the top`);
    assertEqual(g.rankFromBottom, want.rankFromBottom, `${what} row ${r} ranks from the bottom`);
    // The logits are exact; only exp/log and the f32 sum of V terms round (see checkClose).
    assert.ok(Math.abs(g.lse - want.lse) <= lseTolerance(want), `${what} row ${r} lse ${g.lse} vs ${want.lse}`);
  });
}

/**
 * lse: the logits' own error, plus a worst-case f32 sum of V positive terms
 * (V * 2^-24 relative, here at most 3e-3 for 50,257 ids), plus exp/log rounding.
 */
function lseTolerance(want: LensRowRef): number {
  let worst = 0;
  for (const b of want.bound) worst = Math.max(worst, b);
  return worst + (want.logits.length + 8) * 2 ** -24 * 2 + 1e-6 * Math.max(1, Math.abs(want.lse));
}

/**
 * Random logits: an id may only differ from the reference's where their logits are
 * within the summed rounding bounds (gamma_d * sum |h_j w_j| each), ranks by at most
 * the number of such near-ties, and scores by the id's own bound.
 */
function checkClose(got: LensRow[], ref: LensRowRef[], what: string): void {
  ref.forEach((want, r) => {
    const g = got[r]!;
    for (const [order, list, wantIds] of [['top', g.top, want.top], ['bottom', g.bottom, want.bottom]] as const) {
      assert.is(new Set(list.map((x) => x.id)).size, list.length, `${what} row ${r} ${order}: ids repeat`);
      list.forEach((x, j) => {
        const w = wantIds[j]!;
        assert.ok(Math.abs(want.logits[x.id]! - want.logits[w]!) <= want.bound[x.id]! + want.bound[w]!, `${what} row ${r} ${order}[${j}] = ${x.id}, reference ${w}`);
        assert.ok(Math.abs(x.score - want.logits[x.id]!) <= want.bound[x.id]!, `${what} row ${r} ${order}[${j}] score ${x.score} vs ${want.logits[x.id]}`);
      });
    }
    assert.ok(Math.abs(g.lse - want.lse) <= lseTolerance(want), `${what} row ${r} lse ${g.lse} vs ${want.lse}`);
  });
}

function checkRanks(got: LensRow[], ref: LensRowRef[], watched: number[], what: string): void {
  ref.forEach((want, r) => {
    watched.forEach((t, w) => {
      const slack = nearTies(want, t);
      assert.ok(Math.abs(got[r]!.rankFromTop[w]! - want.rankFromTop[w]!) <= slack, `${what} row ${r} rank of ${t} from the top ${got[r]!.rankFromTop[w]} vs ${want.rankFromTop[w]} (${slack} near-ties)`);
      assert.ok(Math.abs(got[r]!.rankFromBottom[w]! - want.rankFromBottom[w]!) <= slack, `${what} row ${r} rank of ${t} from the bottom`);
    });
  });
}

test('bestRef orders as topkRef does, ties included', () => {
  const scores = intData(2000, 3);
  for (const order of ['top', 'bottom'] as const) for (const k of [1, 7, 2000]) assertEqual(bestRef(scores, k, order), topkRef(scores, k, order), `${order}-${k}`);
});

const SIZES: [V: number, R: number, d: number, count: number, watched: number[]][] = [
  [1, 1, 7, 1, [0]],
  [7, 7, 13, 7, [3, 6]],
  [13, 13, 7, 5, [12]],
  [13, 300, 13, 13, [0, 12]],
  [50257, 7, 768, 10, [50256, 0]],
  [50257, 300, 7, 5, [1, 25000]],
  [50257, 1, 13, 128, []],
  [13, 37, 12, 5, [12]],
  [501, 300, 20, 13, [0, 500]],
  [50257, 17, 64, 10, [50256, 7]],
];

for (const [V, R, d, count, watched] of SIZES) {
  test(`lens ${R} rows x ${V} ids, d ${d}, k ${count}, ${watched.length} watched: float64 reference`, async () => {
    const k = await getEngine();
    const h = f32Data(R * d, V + R);
    const wte = f32Data(V * d, d + count);
    const ref = refRows(h, wte, R, d, count, watched);
    for (const layout of layoutsFor(d)) {
      const got = await runLens(k, h, wte, R, d, count, watched, [], layout);
      checkClose(got, ref, `${layout} ${R}x${V}`);
      checkRanks(got, ref, watched, `${layout} ${R}x${V}`);
    }
  });
}

test('lens with integer logits and many ties: ids, scores and ranks exactly as topk/rankOf order them (whole and split embedding)', async () => {
  const k = await getEngine();
  for (const d of [7, 8]) {
    const [V, R, count] = [50257, 13, 20];
    const watched = [0, 1234, 50256];
    const h = intData(R * d, 5);
    const wte = intData(V * d, 6);
    const ref = refRows(h, wte, R, d, count, watched);
    for (const layout of layoutsFor(d)) {
      checkExact(await runLens(k, h, wte, R, d, count, watched, [], layout), ref, `${layout} d ${d} whole`);
      // About 380 KB per block: the 1.4-1.6 MB embedding splits in 4-5, and slices never cross blocks.
      const split = await withBindLimit(k, 380_000, () => runLens(k, h, wte, R, d, count, watched, [], layout));
      checkExact(split, ref, `${layout} d ${d} split`);
    }
  }
});

// Skipped ids: the first and last rows, ids around every block edge of the split
// embedding, and row 0's top-1 and bottom-1 over the whole vocabulary, which is also
// watched (a target that is itself a special token). Integer data: exact, ties included.
const SKIP_SIZES: [V: number, R: number, d: number, count: number, splitAt?: number][] = [
  [7, 7, 13, 3],
  [13, 13, 7, 5],
  [501, 300, 13, 13],
  [50257, 13, 7, 20, 380_000],
  [501, 37, 12, 13],
  [50257, 13, 8, 20, 380_000],
];

for (const [V, R, d, count, splitAt] of SKIP_SIZES) {
  test(`lens ${R} rows x ${V} ids, d ${d}, k ${count}, skipping ids: float64 reference${splitAt ? ', whole and split' : ''}`, async () => {
    const k = await getEngine();
    const h = intData(R * d, V + 1);
    const wte = intData(V * d, V + 2);
    const [plain] = refRows(h.subarray(0, d), wte, 1, d, 1, []);
    const edges = splitAt ? (await withBindLimit(k, splitAt, async () => blockRows(k, [V, d]))).flatMap((b) => [b.row0 - 1, b.row0, b.row0 + b.rows - 1]) : [];
    const skip = [...new Set([0, V - 1, plain!.top[0]!, plain!.bottom[0]!, ...edges.filter((id) => id >= 0)])].sort((a, b) => a - b);
    const kept = Array.from({ length: V }, (_, id) => id).find((id) => !skip.includes(id))!;
    const watched = [plain!.top[0]!, kept, V - 1];
    // V = 7 keeps only 3 ids: k is all of them.
    const listed = Math.min(count, V - skip.length);
    const ref = refRows(h, wte, R, d, listed, watched, new Set(skip));
    const check = (got: LensRow[], what: string) => {
      checkExact(got, ref, what);
      for (const row of got) for (const { id } of [...row.top, ...row.bottom]) assert.not.ok(skip.includes(id), `${what}: skipped id ${id} listed`);
    };
    for (const layout of layoutsFor(d)) {
      check(await runLens(k, h, wte, R, d, listed, watched, skip, layout), `${layout} whole`);
      if (splitAt) check(await withBindLimit(k, splitAt, () => runLens(k, h, wte, R, d, listed, watched, skip, layout)), `${layout} split`);
      // The embedding in many small chunks: 21-128 ids each, their edges inside blocks and tile rounds.
      if (layout !== 'buffer') check(await withBindLimit(k, splitAt ?? k.bindLimit, () => runLens(k, h, wte, R, d, listed, watched, skip, layout, 2048)), `${layout} in 2 KiB chunks`);
    }
    // The mask did change row 0: its unmasked top-1 and bottom-1 are gone.
    assert.is.not(ref[0]!.top[0], plain!.top[0]);
    assert.is.not(ref[0]!.bottom[0], plain!.bottom[0]);
  });
}

test('lens: duplicate embedding rows tie to the lower id, watched or not', async () => {
  const k = await getEngine();
  for (const d of [13, 16]) {
    const [V, R] = [13, 7];
    const wte = f32Data(V * d, 77);
    for (const dup of [5, 9]) wte.copyWithin(dup * d, 2 * d, 3 * d);
    const h = f32Data(R * d, 78);
    for (const layout of layoutsFor(d)) {
      const got = await runLens(k, h, wte, R, d, V, [2, 5, 9], [], layout);
      for (const [r, row] of got.entries()) {
        const top = row.top.map((x) => x.id);
        const bottom = row.bottom.map((x) => x.id);
        // Identical rows give bit-identical logits, so they sit together, lower id first.
        const at = top.indexOf(2);
        assertEqual(top.slice(at, at + 3), [2, 5, 9], `${layout} d ${d} row ${r} top`);
        const bat = bottom.indexOf(2);
        assertEqual(bottom.slice(bat, bat + 3), [2, 5, 9], `${layout} d ${d} row ${r} bottom`);
        assertEqual(row.rankFromTop, [at, at + 1, at + 2], `${layout} d ${d} row ${r} ranks from the top`);
        assertEqual(row.rankFromBottom, [bat, bat + 1, bat + 2], `${layout} d ${d} row ${r} ranks from the bottom`);
      }
    }
  }
});

// Every layout sums each logit's terms in the same order, so on random data (ties
// rare, every logit rounded) they must agree to the bit: lse, scores, ids and ranks.
test('lens: the buffer and texture layouts give the same bits (random rows, whole and split embedding)', async () => {
  const k = await getEngine();
  const [V, R, d, count] = [50257, 37, 768, 10];
  const h = f32Data(R * d, 91);
  const wte = f32Data(V * d, 92);
  const watched = [0, 777, 50256];
  const skip = [1, 50000];
  for (const limit of [undefined, 40_000_000]) {
    const run = (layout: LensForm) => (limit ? withBindLimit(k, limit, () => runLens(k, h, wte, R, d, count, watched, skip, layout)) : runLens(k, h, wte, R, d, count, watched, skip, layout));
    const buffer = await run('buffer');
    for (const layout of ['texture', 'texture-rows'] as const) assertEqual(await run(layout), buffer, `${layout}, ${limit ? 'split' : 'whole'}`);
    // The CPU's logits are the kernel's bits; its log-sum-exp is summed in another order.
    const cpu = await run('wasm');
    assertEqual(cpu.map(({ lse: _, ...rest }) => rest), buffer.map(({ lse: _, ...rest }) => rest), `wasm, ${limit ? 'split' : 'whole'}`);
    cpu.forEach((row, r) => assert.ok(Math.abs(row.lse - buffer[r]!.lse) <= 1e-5 * Math.abs(buffer[r]!.lse), `wasm row ${r} lse ${row.lse} vs ${buffer[r]!.lse}`));
  }
});

test('lens refuses k above the vocabulary and watched ids outside it', async () => {
  const k = await getEngine();
  const h = upload(k, [2, 7], f32Data(14, 1));
  const wte = upload(k, [7, 7], f32Data(49, 2));
  assert.throws(() => lens(k, h, wte, 8, []), /k = 8 must be between 1 and 7/);
  assert.throws(() => lens(k, h, wte, 0, []), /k = 0/);
  assert.throws(() => lens(k, h, wte, 3, [7]), /watched id 7 is outside/);
  assert.throws(() => lens(k, h, wte, 6, [], [0, 6]), /k = 6 must be between 1 and 5 \(the vocabulary has 7 ids, 5 of them listed\)/);
  assert.throws(() => lens(k, h, wte, 3, [], [6, 2]), /skipped ids must ascend within the vocabulary 0..6; got 2 at 1/);
  assert.throws(() => lens(k, h, wte, 3, [], [7]), /got 7 at 0/);
  h.dispose();
  wte.dispose();
});

// Through logitLens: ln_f, normalization and zero rows (analyze's last-layer delta_i, i < n).
const CFG: Gpt2Sizes = { nLayer: 1, nHead: 1, nEmbd: 13, nPositions: 4, vocabSize: 50257, nInner: 4, eps: 1e-5 };

test('logitLens of 300 rows (zero rows among them), normalized and not, kernel and WebAssembly, against ln_f + float64 projection', async () => {
  const k = await getEngine();
  const d = CFG.nEmbd;
  const arrays: Record<string, Float64Array> = {};
  [...checkpointShapes(gpt2Config(CFG))].forEach(([name, shape], i) => {
    arrays[name] = f32Data(shape.reduce((a, b) => a * b, 1), 100 + i);
  });
  const model = Model.fromArrays(k, gpt2Config(CFG), arrays);
  const R = 300;
  const vectors = f32Data(R * d, 9).map((x, i) => (Math.floor(i / d) % 37 === 3 ? 0 : x * (1 + (Math.floor(i / d) % 5) * 10)));
  const t = upload(k, [R, d], vectors);
  const watched = [464, 50256];
  try {
    for (const [normalized, cpu] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const proj = await logitLens(model, t, { k: 5, normalized, cpu }, watched);
      for (let r = 0; r < R; r++) {
        const probs = lnfLogitLensRef(CFG, arrays, vectors.subarray(r * d, (r + 1) * d), normalized);
        for (const order of ['top', 'bottom'] as const) {
          // Random data: the 5th and 6th probabilities are far apart compared with f32 rounding (ln_f and a 13-term dot).
          assertEqual(proj[r]![order].map((x) => x.id), bestRef(probs, 5, order), `row ${r} ${order} normalized=${normalized} cpu=${cpu}`);
          // Same bound as the analyze test's logit-lens check.
          proj[r]![order].forEach((x) => assert.ok(Math.abs(x.prob - probs[x.id]!) <= 1e-4, `row ${r} prob ${x.prob} vs ${probs[x.id]}`));
        }
        watched.forEach((id, w) => {
          // Ranks move only past ids whose probability is within f32 rounding (1e-5 relative) of the watched id's.
          const slack = Array.prototype.filter.call(probs, (p: number, c: number) => c !== id && Math.abs(p - probs[id]!) <= 1e-5 * probs[id]!).length;
          assert.ok(Math.abs(proj[r]!.rankFromTop[w]! - 1 - rankRef(probs, id, 'top')) <= slack, `row ${r} rank of ${id} from the top`);
          assert.ok(Math.abs(proj[r]!.rankFromBottom[w]! - 1 - rankRef(probs, id, 'bottom')) <= slack, `row ${r} rank of ${id} from the bottom`);
        });
      }
    }
  } finally {
    t.dispose();
  }
});

for (const c of lensWasmCases) test(c.name, async () => c.run(await getEngine()));

test.run();
