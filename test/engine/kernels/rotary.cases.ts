// Rotary embeddings on fused q|k|v rows (6 query heads, 2 or 3 key/value heads, so v
// must pass through), rows 1, 7, 13, head sizes 6, 10, 18; unscaled, linear and
// llama3 frequencies; GPT-NeoX's partial rotary; positions that are not 0..n-1 (a
// padded batch, a decode step). cos/sin come from float64 on the CPU rounded to f32,
// so each output is two f32 products and a sum: 1e-5 relative to the largest entry.
// And: Meta's interleaved pairs give other numbers on the same weights.
import { ropeInvFreq, rotary, rotaryTable, type Rope } from '../../../src/ops/rotary.ts';
import { ropeInvFreqRef, rotaryInterleavedRef, rotaryRef, type RotaryShapeRef } from '../../reference/llama-ops.ts';
import { assertClose, gpu, rand, read, relErr, withTape, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

const rows = (n: number, offset: number): number[] => Array.from({ length: n }, (_, r) => offset + r);

function rotaryCase(label: string, nHead: number, nKv: number, hd: number, positions: number[], rope: Rope): Case {
  const shape: RotaryShapeRef = { rows: positions.length, width: (nHead + 2 * nKv) * hd, heads: nHead + nKv, headDim: hd, rotaryDim: rope.rotaryDim };
  const invFreq = () => ropeInvFreqRef(rope.rotaryDim, rope.theta, rope.scaling);
  return opCase({
    name: `rotary ${label} rows=${shape.rows} heads=${nHead}/${nKv} hd=${hd} rotaryDim=${rope.rotaryDim}`,
    inputs: [{ shape: [shape.rows, shape.width], data: rand(shape.rows * shape.width, shape.rows * 13 + hd, 2) }],
    dy: rand(shape.rows * shape.width, shape.rows + hd),
    op: (tape, x) => rotary(tape, x, rotaryTable(tape, positions, rope), nHead + nKv, hd),
    ref: (x) => rotaryRef(x, shape, positions, invFreq()),
    refBackward: (dy) => [rotaryRef(dy, shape, positions, invFreq(), -1)],
    tol: 1e-5,
  });
}

const plain = (rotaryDim: number, theta = 10000): Rope => ({ theta, rotaryDim, scaling: { type: 'default' } });
// Wavelengths 2π·θ^(2i/18) of head size 18 fall in all three llama3 bands for an
// original context of 64: i = 0 above the high band, i = 1, 2 blended, i ≥ 3 divided.
const LLAMA3: Rope = { theta: 10000, rotaryDim: 18, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 } };

/** The engine's inverse frequencies equal the reference's, and llama3's three bands are all exercised. */
const invFreqCase: Case = {
  name: 'rotary inverse frequencies: unscaled, linear and llama3 (all three bands) match the reference',
  run: async () => {
    const ropes: Rope[] = [plain(18), { theta: 500000, rotaryDim: 10, scaling: { type: 'linear', factor: 4 } }, LLAMA3];
    for (const rope of ropes) assertClose(ropeInvFreq(rope), ropeInvFreqRef(rope.rotaryDim, rope.theta, rope.scaling), 1e-14, `${rope.scaling.type} inv_freq`);
    const base = ropeInvFreqRef(18, 10000, { type: 'default' });
    const ratios = Array.from(ropeInvFreq(LLAMA3), (f, i) => base[i]! / f);
    const near = (r: number, to: number) => Math.abs(r - to) < 1e-12;
    const [kept, blended, divided] = [ratios.filter((r) => near(r, 1)), ratios.filter((r) => r > 1 + 1e-12 && r < 8 - 1e-12), ratios.filter((r) => near(r, 8))];
    if (kept.length !== 1 || blended.length !== 2 || divided.length !== 6) throw new Error(`llama3 bands: ratios ${ratios.map((r) => r.toFixed(3))}`);
  },
};

/**
 * The same x under Meta's interleaved pairs (2i, 2i+1) is far from the engine's
 * rotate_half output; permuting each head's columns (2i → i, 2i+1 → i + D/2, what
 * HF's conversion does to the q/k weight rows) makes the two agree.
 */
const interleavedCase: Case = {
  name: "rotary: Meta's interleaved convention differs on the same weights; HF's permutation reconciles them",
  run: (k) => withTape(k, async (tape) => {
    const [n, heads, hd] = [7, 6, 10];
    const shape: RotaryShapeRef = { rows: n, width: heads * hd, heads, headDim: hd, rotaryDim: hd };
    const positions = rows(n, 3);
    const x = rand(n * heads * hd, 21, 2);
    const inv = ropeInvFreqRef(hd, 10000, { type: 'default' });
    const [y] = await read(k, rotary(tape, tape.own(gpu(k, [n, heads * hd], x)), rotaryTable(tape, positions, plain(hd)), heads, hd));
    assertClose(y!, rotaryRef(x, shape, positions, inv), 1e-5, 'rotate_half');
    const interleaved = rotaryInterleavedRef(x, shape, positions, inv);
    const apart = relErr(y!, interleaved);
    if (!(apart > 0.1)) throw new Error(`the interleaved convention agrees with rotate_half to ${apart.toExponential(2)}: the test cannot tell them apart`);
    const permute = (v: ArrayLike<number>) => Float64Array.from({ length: v.length }, (_, j) => {
      const c = j % hd;
      const from = c < hd / 2 ? 2 * c : 2 * (c - hd / 2) + 1;
      return v[j - c + from]!;
    });
    assertClose(rotaryRef(permute(x), shape, positions, inv), permute(interleaved), 1e-12, 'permuted interleaved');
  }),
};

export const rotaryCases: Case[] = [
  rotaryCase('unscaled', 6, 2, 6, rows(1, 0), plain(6)),
  rotaryCase('unscaled', 6, 3, 10, rows(7, 0), plain(10)),
  rotaryCase('unscaled, batch of 2 padded', 6, 2, 18, [...rows(7, 0), ...rows(6, 0)], plain(18, 500000)),
  rotaryCase('linear', 6, 3, 10, rows(7, 40), { theta: 10000, rotaryDim: 10, scaling: { type: 'linear', factor: 4 } }),
  rotaryCase('llama3', 6, 2, 18, rows(13, 100), LLAMA3),
  rotaryCase('partial (NeoX)', 6, 6, 10, rows(7, 0), plain(4)),
  rotaryCase('partial (NeoX), decode step', 6, 3, 18, [4095], plain(6)),
  invFreqCase,
  interleavedCase,
];
