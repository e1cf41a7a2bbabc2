// 16-bit weights kept packed on the device (kernels/weights-*.wgsl): every kernel
// that reads weights, F16 and BF16, against the float64 references computed from
// the stored 16-bit values, on odd shapes (rows of an odd number of values), split
// in row blocks too. The tolerances are those of the f32 cases (matmul.cases.ts,
// heads.cases.ts): a decoded 16-bit value is exact in f32, so the kernels do the
// same f32 arithmetic on the same numbers. Gathers and widening are exact.
import { blockRows, readBits, readF32, upload } from '../../../src/gpu/buffers.ts';
import type { Kernels } from '../../../src/gpu/kernels.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../../src/half.ts';
import { embed, widen } from '../../../src/ops/embedding.ts';
import { decodeLens, lens, type LensLayout } from '../../../src/gpu/lens.ts';
import { lensWasm } from '../../../src/lens/lens-wasm.ts';
import { linear } from '../../../src/ops/linear.ts';
import { unembed } from '../../../src/ops/unembed.ts';
import type { Tensor } from '../../../src/tensor.ts';
import { lensRowRef } from '../../reference/lens.ts';
import { embeddingRef, matmulRef, mulberry32Ref } from '../../reference/ops.ts';
import { assertClose, assertEqual, gpu, read, rand, withTape, type Case } from '../../helpers.ts';
import { withBindLimit } from './split.cases.ts';

type Half = 'f16' | 'bf16';
const HALVES: readonly Half[] = ['f16', 'bf16'];

/** Random weights stored in 16 bits: the bits to upload and the values they hold. */
function half(dtype: Half, values: Float64Array): { bits: Uint16Array; values: Float64Array } {
  const f = Float32Array.from(values);
  const bits = dtype === 'f16' ? f32ToF16(f) : f32ToBf16(f);
  return { bits, values: Float64Array.from(dtype === 'f16' ? f16ToF32(bits) : bf16ToF32(bits)) };
}

const packed = (k: Kernels, dtype: Half, shape: number[], bits: Uint16Array, name = 'w'): Tensor => upload(k, shape, bits, dtype, name);

function expectSplit(t: Tensor, what: string): void {
  if (t.blocks.length < 2) throw new Error(`${what}: one block: the split path did not run`);
}

/** z = x W + b and dx = dz W^T with W packed (the forward and input-gradient matmuls). */
function linearCase(dtype: Half, n: number, inDim: number, outDim: number): Case {
  return {
    name: `${dtype} linear forward+dx n=${n} ${inDim}->${outDim}`,
    run: (k) => withTape(k, async (tape) => {
      const w = half(dtype, rand(inDim * outDim, 2));
      const [x, b, dz] = [rand(n * inDim, 1), rand(outDim, 3), rand(n * outDim, 4)];
      const X = tape.own(gpu(k, [n, inDim], x));
      const Z = linear(tape, 'layer', X, tape.own(packed(k, dtype, [inDim, outDim], w.bits)), tape.own(gpu(k, [outDim], b)));
      tape.backward(Z, tape.own(gpu(k, [n, outDim], dz)));
      const [z, dx] = await read(k, Z, tape.gradOf(X)!);
      assertClose(z!, matmulRef(x, w.values, n, inDim, outDim, { bias: b }), 1e-4, 'z');
      assertClose(dx!, matmulRef(dz, w.values, n, outDim, inDim, { transB: true }), 1e-4, 'dx');
    }),
  };
}

/** Token + position embedding from packed tables (odd widths), unsplit or split. */
function embedCase(dtype: Half, V: number, P: number, d: number, ids: number[], limit?: number): Case {
  return {
    name: `${dtype} embedding gather V=${V} d=${d}${limit ? ` split at ${limit} bytes` : ''}`,
    run: (k) => withBindLimit(k, limit ?? k.bindLimit, () => withTape(k, async (tape) => {
      const [wte, wpe] = [half(dtype, rand(V * d, V + d)), half(dtype, rand(P * d, P))];
      const WTE = tape.own(packed(k, dtype, [V, d], wte.bits, 'wte'));
      if (limit) expectSplit(WTE, 'wte');
      const out = embed(tape, WTE, tape.own(packed(k, dtype, [P, d], wpe.bits, 'wpe')), tape.own(gpu(k, [ids.length], ids, 'i32')), tape.own(gpu(k, [ids.length], ids.map((_, t) => t), 'i32')));
      assertClose(await readF32(k, out), embeddingRef(ids, wte.values, wpe.values, d), 2 ** -23, 'embedding out'); // one f32 rounding of the sum
    })),
  };
}

/** The tied LM head with a packed wte: logits = h wte^T and dh = dlogits wte. */
function unembedCase(dtype: Half, n: number, d: number, V: number, limit?: number): Case {
  return {
    name: `${dtype} unembed forward+dh ${n}x${d} V=${V}${limit ? ` split at ${limit} bytes` : ''}`,
    run: (k) => withBindLimit(k, limit ?? k.bindLimit, () => withTape(k, async (tape) => {
      const wte = half(dtype, rand(V * d, 2));
      const [h, dl] = [rand(n * d, 1), rand(n * V, 3)];
      const H = tape.own(gpu(k, [n, d], h));
      const WTE = tape.own(packed(k, dtype, [V, d], wte.bits, 'wte'));
      if (limit) expectSplit(WTE, 'wte');
      const L = unembed(tape, H, WTE);
      tape.backward(L, tape.own(gpu(k, [n, V], dl)));
      const [l, dh] = await read(k, L, tape.gradOf(H)!);
      assertClose(l!, matmulRef(h, wte.values, n, d, V, { transB: true }), 1e-5, 'logits');
      assertClose(dh!, matmulRef(dl, wte.values, n, V, d), 1e-4, 'dh');
    })),
  };
}

/**
 * The fused logit lens on a packed wte. Integer weights and rows (-2..2, exact in
 * F16 and BF16) make every logit exact, so ids, scores and ranks must match the
 * reference exactly, ties included, as in lens.test.ts. The first and last rows and
 * one between are skipped (rows that are no real token), two of them watched.
 */
function lensCase(dtype: Half, R: number, d: number, V: number, limit?: number, layout?: LensLayout | 'wasm', chunkBytes?: number): Case {
  return {
    name: `${dtype} fused lens R=${R} d=${d} V=${V}${limit ? ` split at ${limit} bytes` : ''}${layout ? `, ${layout} layout` : ''}${chunkBytes ? `, embedding in ${chunkBytes}-byte chunks` : ''}`,
    run: (k) => withBindLimit(k, limit ?? k.bindLimit, async () => {
      const ints = (n: number, seed: number) => {
        const r = mulberry32Ref(seed);
        return Float64Array.from({ length: n }, () => Math.floor(r() * 5) - 2);
      };
      const [h, wte] = [ints(R * d, 1), half(dtype, ints(V * d, 2))];
      // An odd watched id: at an odd width its 16-bit row starts inside a word.
      const [count, watched, skip] = [5, [0, Math.floor(V / 2) | 1, V - 1], [0, Math.floor(V / 3), V - 1]];
      const H = gpu(k, [R, d], h);
      const E = packed(k, dtype, [V, d], wte.bits, 'wte');
      if (limit) expectSplit(E, 'wte');
      const data = layout === 'wasm' ? await lensWasm(k, H, E, count, watched, skip, { chunkBytes }) : await readAndDispose(k, lens(k, H, E, count, watched, skip, layout, chunkBytes));
      const got = decodeLens(data, R, count, watched.length);
      [H, E].forEach((t) => t.dispose());
      for (let r = 0; r < R; r++) {
        const want = lensRowRef(h.subarray(r * d, (r + 1) * d), wte.values, V, d, count, watched, new Set(skip));
        const g = got[r]!;
        assertEqual(g.top.map((x) => x.id), want.top, `row ${r} top ids`);
        assertEqual(g.bottom.map((x) => x.id), want.bottom, `row ${r} bottom ids`);
        assertEqual(g.top.map((x) => x.score), want.top.map((c) => want.logits[c]), `row ${r} top scores`);
        assertEqual(g.rankFromTop, want.rankFromTop, `row ${r} ranks from the top`);
        assertEqual(g.rankFromBottom, want.rankFromBottom, `row ${r} ranks from the bottom`);
      }
    }),
  };
}

async function readAndDispose(k: Kernels, t: Tensor): Promise<Float32Array> {
  const data = await readF32(k, t);
  t.dispose();
  return data;
}

/** Row blocks of packed tensors (even rows per block at odd widths), round-tripped bit for bit, and widened to f32 exactly. */
function blocksCase(dtype: Half): Case {
  return {
    name: `${dtype} packed row blocks round-trip and widen (odd shapes)`,
    async run(k) {
      for (const [rows, cols, limit] of [[1, 1, 16], [7, 1, 16], [13, 7, 64], [50257, 3, 65536], [5, 4, 1 << 20]] as const) {
        await withBindLimit(k, limit, async () => {
          const w = half(dtype, rand(rows * cols, rows + cols));
          const ranges = blockRows(k, [rows, cols], dtype);
          ranges.slice(0, -1).forEach((r) => {
            if ((r.rows * cols) % 2) throw new Error(`${rows}x${cols}: block at row ${r.row0} ends mid-word`);
          });
          const t = packed(k, dtype, [rows, cols], w.bits);
          const wide = widen(k, t);
          assertEqual(Array.from(await readBits(k, t)), Array.from(w.bits), `${rows}x${cols} bits`);
          assertClose(await readF32(k, t), w.values, 0, `${rows}x${cols} read as f32`);
          assertClose(await readF32(k, wide), w.values, 0, `${rows}x${cols} widened`);
          [t, wide].forEach((x) => x.dispose());
        });
      }
    },
  };
}

export const packedCases: Case[] = HALVES.flatMap((dtype) => [
  linearCase(dtype, 1, 1, 1), linearCase(dtype, 1, 13, 50), linearCase(dtype, 7, 13, 5), linearCase(dtype, 13, 7, 50), linearCase(dtype, 16, 257, 769), linearCase(dtype, 13, 7, 20),
  embedCase(dtype, 11, 9, 7, [3, 1, 3, 10, 3]), embedCase(dtype, 5, 1, 1, [4]),
  embedCase(dtype, 50257, 13, 3, [50256, 0, 50256, 15496, 995, 7, 0], 65536),
  unembedCase(dtype, 3, 7, 1001), unembedCase(dtype, 2, 13, 50257, 1 << 18), unembedCase(dtype, 1, 13, 50257, 1 << 18),
  lensCase(dtype, 13, 7, 1001), lensCase(dtype, 17, 9, 50257, 1 << 18),
  ...(['buffer', 'texture', 'texture-rows'] as const).flatMap((layout) => [lensCase(dtype, 13, 12, 1001, undefined, layout), lensCase(dtype, 17, 8, 50257, 1 << 18, layout)]),
  // Dozens of chunks, their edges inside tiles' rounds and blocks: 16 and 256 ids a chunk.
  lensCase(dtype, 13, 12, 1001, undefined, 'texture-rows', 512), lensCase(dtype, 17, 8, 50257, 1 << 18, 'texture', 4096),
  // The CPU's lens (src/lens/lens-wasm.ts): odd widths, a split embedding, chunks of 16-2048 ids.
  lensCase(dtype, 13, 7, 1001, undefined, 'wasm'), lensCase(dtype, 17, 9, 50257, 1 << 18, 'wasm', 36_000), lensCase(dtype, 7, 8, 1001, undefined, 'wasm', 256),
  blocksCase(dtype),
]);
