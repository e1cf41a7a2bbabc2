// The linear op with nn.Linear's [out, in] weight ('out_in'), read transposed in
// place: z = x Wᵀ + b, dx = Δ W, dW = Δᵀ X [out, in] and db on a training tape,
// the update W ← W − η Δᵀ X, and a packed F16/BF16 W. The factors stay x_i and δ_i.
// Odd shapes: rows 1, 7, 13; in/out 6, 7, 10, 13, 18 (and 12, 20: multiples of 4).
import type { Kernels } from '../../../src/gpu/kernels.ts';
import { upload } from '../../../src/gpu/buffers.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../../src/half.ts';
import { linear } from '../../../src/ops/linear.ts';
import { matmulRef } from '../../reference/ops.ts';
import { assertClose, gpu, read, rand, withTape, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

const columnSums = (m: Float64Array, rows: number, cols: number): Float64Array =>
  Float64Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (_, r) => m[r * cols + c]!).reduce((a, b) => a + b, 0));

const outInCase = (n: number, inDim: number, outDim: number, bias: boolean): Case => opCase({
  name: `linear [out, in] forward+backward n=${n} ${inDim}->${outDim}${bias ? ' +bias' : ''}`,
  inputs: [
    { shape: [n, inDim], data: rand(n * inDim, n + inDim) },
    { shape: [outDim, inDim], data: rand(outDim * inDim, outDim * 3 + inDim) },
    ...(bias ? [{ shape: [outDim], data: rand(outDim, 9) }] : []),
  ],
  dy: rand(n * outDim, n * 5 + outDim),
  op: (tape, x, W, b) => linear(tape, 'layer', x, W, b ?? null, 'out_in'),
  ref: (x, W, b) => matmulRef(x, W, n, inDim, outDim, { transB: true, ...(b ? { bias: b } : {}) }),
  refBackward: (dz, x, W) => [
    matmulRef(dz, W, n, outDim, inDim),
    matmulRef(dz, x, outDim, n, inDim, { transA: true }),
    ...(bias ? [columnSums(dz, n, outDim)] : []),
  ],
  tol: 1e-4,
});

type Half = 'f16' | 'bf16';

/** A packed [out, in] weight: forward and dx against the stored 16-bit values. */
function packedCase(dtype: Half, n: number, inDim: number, outDim: number): Case {
  return {
    name: `${dtype} linear [out, in] forward+dx n=${n} ${inDim}->${outDim}`,
    run: (k: Kernels) => withTape(k, async (tape) => {
      const f = Float32Array.from(rand(outDim * inDim, 2));
      const bits = dtype === 'f16' ? f32ToF16(f) : f32ToBf16(f);
      const w = Float64Array.from(dtype === 'f16' ? f16ToF32(bits) : bf16ToF32(bits));
      const [x, dz] = [rand(n * inDim, 1), rand(n * outDim, 4)];
      const X = tape.own(gpu(k, [n, inDim], x));
      const Z = linear(tape, 'layer', X, tape.own(upload(k, [outDim, inDim], bits, dtype)), null, 'out_in');
      tape.backward(Z, tape.own(gpu(k, [n, outDim], dz)));
      const [z, dx] = await read(k, Z, tape.gradOf(X)!);
      assertClose(z!, matmulRef(x, w, n, inDim, outDim, { transB: true }), 1e-4, 'z');
      assertClose(dx!, matmulRef(dz, w, n, outDim, inDim), 1e-4, 'dx');
    }),
  };
}

/** applyUpdate in W's own layout, and factors that are x_i and δ_i whatever the layout. */
const updateCase: Case = {
  name: 'linear [out, in]: W ← W − η Δᵀ X from the factors, which are x and dz',
  run: (k: Kernels) => withTape(k, async (tape) => {
    const [n, inDim, outDim, eta] = [7, 10, 6, 0.3];
    const [x, w, dz] = [rand(n * inDim, 11), rand(outDim * inDim, 12), rand(n * outDim, 13)];
    const X = tape.own(gpu(k, [n, inDim], x));
    const W = tape.own(gpu(k, [outDim, inDim], w));
    tape.backward(linear(tape, 'layer', X, W, null, 'out_in'), tape.own(gpu(k, [n, outDim], dz)));
    const f = tape.factors.get('layer')!;
    const [fx, fdelta] = await read(k, f.X, f.delta!);
    assertClose(fx!, x, 0, 'X');
    assertClose(fdelta!, dz, 0, 'Delta');
    f.applyUpdate(W, eta);
    const step = matmulRef(dz, x, outDim, n, inDim, { transA: true });
    const [updated] = await read(k, W);
    assertClose(updated!, w.map((v, i) => v - eta * step[i]!), 1e-5, 'updated W');
  }),
};

export const linearCases: Case[] = [
  outInCase(1, 6, 10, true), outInCase(7, 10, 18, false), outInCase(13, 18, 6, true),
  // in a multiple of 4: the forward's x W^T takes matmul_texture on the CPU adapters.
  outInCase(7, 12, 13, true),
  ...(['f16', 'bf16'] as const).flatMap((d) => [packedCase(d, 1, 7, 13), packedCase(d, 13, 18, 10), packedCase(d, 13, 20, 7)]),
  updateCase,
];
