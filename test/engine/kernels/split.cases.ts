// The split paths: tensors larger than one storage binding live in row blocks
// (src/gpu/buffers.ts) and the ops that may meet them walk the blocks. Each case
// lowers the engine's binding limit so that 50,257-row tensors (and odd small
// ones) split into several uneven blocks, and checks against the float64
// reference with the same tolerances as the unsplit cases in heads.cases.ts.
import { blockRows, readF32, upload } from '../../../src/gpu/buffers.ts';
import { Tape } from '../../../src/autograd/tape.ts';
import type { Kernels } from '../../../src/gpu/kernels.ts';
import { adamw } from '../../../src/gpu/adam.ts';
import { embed } from '../../../src/ops/embedding.ts';
import { rowNorms } from '../../../src/gpu/rows.ts';
import { unembed } from '../../../src/ops/unembed.ts';
import { linear } from '../../../src/ops/linear.ts';
import { bf16ToF32, f32ToBf16 } from '../../../src/half.ts';
import type { Tensor, WeightLayout } from '../../../src/tensor.ts';
import { adamwRef, embeddingBackwardRef, embeddingRef, matmulRef } from '../../reference/ops.ts';
import { checkTopk, checkXent } from './heads.cases.ts';
import { assertClose, assertEqual, gpu, read, rand, withTape, type Case } from '../../helpers.ts';

/** Runs fn with the binding limit lowered to `bytes` (a multiple of 16). */
export async function withBindLimit<T>(k: Kernels, bytes: number, fn: () => Promise<T>): Promise<T> {
  const saved = k.bindLimit;
  k.bindLimit = Math.min(saved, bytes);
  try {
    return await fn();
  } finally {
    k.bindLimit = saved;
  }
}

function expectSplit(t: Tensor, atLeast: number, what: string): void {
  if (t.blocks.length < atLeast) throw new Error(`${what}: ${t.blocks.length} blocks, expected at least ${atLeast}: the split path did not run`);
}

const blocksCase: Case = {
  name: 'row blocks: cover every row once, fit the limit, round-trip through upload/readback (odd shapes)',
  async run(k) {
    for (const [rows, cols, limit] of [[1, 1, 16], [7, 1, 16], [13, 7, 64], [50257, 3, 65536], [5, 4, 1 << 20]] as const) {
      await withBindLimit(k, limit, async () => {
        const ranges = blockRows(k, [rows, cols]);
        let next = 0;
        for (const r of ranges) {
          assertEqual(r.row0, next, `[${rows}, ${cols}] block start`);
          if (r.rows * cols * 4 > limit && ranges.length > 1) throw new Error(`block of ${r.rows} rows exceeds ${limit} bytes`);
          next += r.rows;
        }
        assertEqual(next, rows, `[${rows}, ${cols}] rows covered`);
        const data = rand(rows * cols, rows + cols);
        const t = gpu(k, [rows, cols], data);
        assertClose(await readF32(k, t), data, 2 ** -24, `round trip [${rows}, ${cols}]`);
        t.dispose();
      });
    }
  },
};

function embeddingSplitCase(V: number, d: number, ids: number[], limit: number): Case {
  return {
    name: `split embedding gather+scatter V=${V} d=${d} T=${ids.length} (binding limit ${limit} B)`,
    run: (k) => withBindLimit(k, limit, () => withTape(k, async (tape) => {
      const T = ids.length;
      const P = T;
      const [wte, wpe, dout] = [rand(V * d, V + d), rand(P * d, P + d), rand(T * d, 3)];
      const [WTE, WPE] = [tape.own(gpu(k, [V, d], wte)), tape.own(gpu(k, [P, d], wpe))];
      expectSplit(WTE, 2, 'wte');
      const out = embed(tape, WTE, WPE, tape.own(gpu(k, [T], ids, 'i32')), tape.own(gpu(k, [T], ids.map((_, t) => t), 'i32')));
      tape.backward(out, tape.own(gpu(k, [T, d], dout)));
      const dWTE = tape.gradOf(WTE)!;
      expectSplit(dWTE, 2, 'dwte');
      const [o, dwte] = await read(k, out, dWTE);
      assertClose(o!, embeddingRef(ids, wte, wpe, d), 2 ** -23, 'embedding out');
      assertClose(dwte!, embeddingBackwardRef(ids, dout, V, P, d).dwte, 1e-6, 'dwte');
    })),
  };
}

function unembedSplitCase(n: number, d: number, V: number, limit: number): Case {
  return {
    name: `split unembed forward+backward n=${n} d=${d} V=${V} (binding limit ${limit} B)`,
    run: (k) => withBindLimit(k, limit, () => withTape(k, async (tape) => {
      const [h, wte, dl] = [rand(n * d, 1), rand(V * d, 2), rand(n * V, 3)];
      const [H, WTE] = [tape.own(gpu(k, [n, d], h)), tape.own(gpu(k, [V, d], wte))];
      expectSplit(WTE, 2, 'wte');
      const L = unembed(tape, H, WTE);
      if (n * V * 4 > limit) expectSplit(L, 2, 'logits');
      tape.backward(L, tape.own(gpu(k, [n, V], dl)));
      const [l, dh, dwte] = await read(k, L, tape.gradOf(H)!, tape.gradOf(WTE)!);
      assertClose(l!, matmulRef(h, wte, n, d, V, { transB: true }), 1e-5, 'logits');
      assertClose(dh!, matmulRef(dl, wte, n, V, d), 1e-4, 'dh');
      assertClose(dwte!, matmulRef(dl, h, V, n, d, { transA: true }), 1e-5, 'dwte');
    })),
  };
}

async function withAnalysisTape<T>(k: Kernels, fn: (tape: Tape) => Promise<T>): Promise<T> {
  const tape = new Tape(k, { grad: true });
  try {
    return await fn(tape);
  } finally {
    tape.dispose();
  }
}

/**
 * A linear layer whose weight is split (Llama2-7B's gate|up over lavapipe's 128 MiB):
 * z and dx against float64 from the stored values, in either layout, packed or not.
 * F32 tolerances as linear-layout.cases.ts; a split [out, in] W with a bias is refused.
 */
function linearSplitCase(layout: WeightLayout, dtype: 'f32' | 'bf16', n: number, inDim: number, outDim: number, limit: number): Case {
  return {
    name: `split linear ${layout} ${dtype} forward+dx n=${n} ${inDim}->${outDim} (binding limit ${limit} B)`,
    // An analysis tape (no parameter gradients), as the lens runs on a checkpoint's weights.
    run: (k) => withBindLimit(k, limit, () => withAnalysisTape(k, async (tape) => {
      const outIn = layout === 'out_in';
      const shape = outIn ? [outDim, inDim] : [inDim, outDim];
      const f = Float32Array.from(rand(inDim * outDim, 2));
      const bits = f32ToBf16(f);
      const w = dtype === 'bf16' ? Float64Array.from(bf16ToF32(bits)) : Float64Array.from(f);
      const W = tape.own(dtype === 'bf16' ? upload(k, shape, bits, 'bf16') : gpu(k, shape, w));
      expectSplit(W, 2, 'W');
      const [x, dz] = [rand(n * inDim, 1), rand(n * outDim, 4)];
      const X = tape.own(gpu(k, [n, inDim], x));
      const Z = linear(tape, 'layer', X, W, null, layout);
      tape.backward(Z, tape.own(gpu(k, [n, outDim], dz)));
      const [z, dx] = await read(k, Z, tape.gradOf(X)!);
      assertClose(z!, matmulRef(x, w, n, inDim, outDim, { transB: outIn }), 1e-4, 'z');
      assertClose(dx!, matmulRef(dz, w, n, outDim, inDim, { transB: !outIn }), 1e-4, 'dx');
      if (outIn) {
        const b = tape.own(gpu(k, [outDim], rand(outDim, 5)));
        const refused = (() => {
          try {
            linear(tape, 'biased', X, W, b, layout);
            return '';
          } catch (e) {
            return String(e);
          }
        })();
        if (!/biased: its weight .* is split over \d+ storage bindings, which this engine supports only without a bias/.test(refused)) throw new Error(`a split [out, in] W with a bias: ${refused || 'not refused'}`);
      }
    })),
  };
}

function xentSplitCase(rows: number, V: number, ignoreRow: number, limit: number): Case {
  return {
    name: `split softmax-xent forward+backward ${rows}x${V} (binding limit ${limit} B)`,
    run: (k) => withBindLimit(k, limit, () => withTape(k, (tape) => checkXent(k, tape, rows, V, ignoreRow, (L) => expectSplit(L, 2, 'logits')))),
  };
}

/** AdamW, gradient accumulation and row norms on split [V, d] tensors, as training meets them. */
function paramSplitCase(V: number, d: number, limit: number): Case {
  return {
    name: `split AdamW, accumulate and row norms [${V}, ${d}] (binding limit ${limit} B)`,
    run: (k) => withBindLimit(k, limit, () => withTape(k, async (tape) => {
      const n = V * d;
      const [p, g1, g2, m] = [rand(n, 1), rand(n, 2), rand(n, 6), rand(n, 3, 0.1)];
      const v = rand(n, 4, 0.1).map(Math.abs);
      const h = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 };
      const [P, M, Vt] = [gpu(k, [V, d], p), gpu(k, [V, d], m), gpu(k, [V, d], v)];
      expectSplit(P, 3, 'param');
      tape.accumulate(P, tape.own(gpu(k, [V, d], g1)));
      tape.accumulate(P, tape.own(gpu(k, [V, d], g2)));
      const G = tape.gradOf(P)!;
      const norms = tape.own(rowNorms(k, G));
      adamw(k, P, G, M, Vt, h);
      const [gp, gm, gv, gn] = await read(k, P, M, Vt, norms);
      const g = g1.map((x, i) => x + g2[i]!);
      const ref = adamwRef(p, g, m, v, h);
      assertClose(gp!, ref.p, 1e-6, 'adam p');
      assertClose(gm!, ref.m, 1e-6, 'adam m');
      assertClose(gv!, ref.v, 1e-6, 'adam v');
      assertClose(gn!, Array.from({ length: V }, (_, r) => Math.hypot(...g.subarray(r * d, (r + 1) * d))), 1e-6, 'row norms');
      [P, M, Vt].forEach((t) => t.dispose());
    })),
  };
}

/** Top-k and bottom-k of a split score matrix (generation over a batch of prompts): exact, ties included. */
function topkSplitCase(rows: number, V: number, count: number, limit: number): Case {
  return {
    name: `split top/bottom-${count} ${rows}x${V} with ties (binding limit ${limit} B)`,
    run: (k) => withBindLimit(k, limit, () => checkTopk(k, rows, V, count, true, (S) => expectSplit(S, 2, 'scores'))),
  };
}

export const splitCases: Case[] = [
  blocksCase,
  embeddingSplitCase(50257, 8, [50256, 0, 50256, 15496, 995, 7, 0], 400_000), embeddingSplitCase(13, 7, [12, 0, 6, 12], 128), embeddingSplitCase(7, 1, [6], 16),
  unembedSplitCase(7, 16, 50257, 1_000_000), unembedSplitCase(1, 13, 50257, 2_000_000), unembedSplitCase(3, 7, 13, 96),
  linearSplitCase('out_in', 'bf16', 3, 1031, 13, 16384), linearSplitCase('out_in', 'f32', 1, 7, 13, 64), linearSplitCase('out_in', 'bf16', 1, 13, 7, 64),
  linearSplitCase('in_out', 'f32', 2, 1031, 13, 16384), linearSplitCase('in_out', 'bf16', 1, 13, 7, 64),
  // Multiples of 4 where the transposed products take matmul_texture on the CPU adapters.
  linearSplitCase('out_in', 'bf16', 3, 1032, 13, 16384), linearSplitCase('in_out', 'f32', 3, 1031, 16, 16384),
  xentSplitCase(7, 50257, 2, 500_000), xentSplitCase(13, 13, 5, 64), xentSplitCase(3, 7, -1, 32),
  paramSplitCase(50257, 3, 200_000), paramSplitCase(13, 7, 64),
  topkSplitCase(10, 50257, 5, 1 << 20), topkSplitCase(7, 13, 3, 160),
];
