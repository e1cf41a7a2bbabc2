// matmul.wgsl against matmulRef. Tolerance 1e-4 relative to the largest entry:
// f32 accumulation over K <= 3072 terms errs by about sqrt(K) * 6e-8 typically.
import { readF32 } from '../../../src/gpu/buffers.ts';
import { gemm } from '../../../src/gpu/gemm.ts';
import { matmulRef } from '../../reference/ops.ts';
import { assertClose, gpu, rand, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

const TOL = 1e-4;

function matmulCase(M: number, K: number, N: number, transA: boolean, transB: boolean, withBias: boolean): Case {
  return opCase({
    name: `matmul ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${M}x${K}x${N}${withBias ? ' +bias' : ''}`,
    inputs: [
      { shape: transA ? [K, M] : [M, K], data: rand(M * K, M * 7 + K) },
      { shape: transB ? [N, K] : [K, N], data: rand(K * N, N * 13 + K) },
      ...(withBias ? [{ shape: [N], data: rand(N, 99) }] : []),
    ],
    op: (tape, A, B, bias) => {
      const C = tape.zeros([M, N]);
      gemm(tape.k, { A: A.buffer, B: B.buffer, C: C.buffer, M, N, K, transA, transB, ...(bias ? { bias: bias.buffer } : {}) });
      return C;
    },
    ref: (a, b, bias) => matmulRef(a, b, M, K, N, { transA, transB, ...(bias ? { bias } : {}) }),
    tol: TOL,
  });
}

/** alpha/beta and block addressing: C[rows r0.., cols] = alpha * A_block B + beta * C. */
const blockCase = (M: number): Case => ({
  name: `matmul block offsets, alpha and beta, ${M} row${M > 1 ? 's' : ''}`,
  async run(k) {
    const [K, N, lda, offRow] = [9, 11, 12, 3];
    const a = rand((M + offRow) * lda, 5);
    const b = rand(K * N, 6);
    const c0 = rand(M * N, 7);
    const A = gpu(k, [M + offRow, lda], a);
    const B = gpu(k, [K, N], b);
    const C = gpu(k, [M, N], c0);
    gemm(k, { A: A.buffer, B: B.buffer, C: C.buffer, M, N, K, lda, offA: offRow * lda + 2, alpha: 0.5, beta: -2 });
    const block = Float64Array.from({ length: M * K }, (_, i) => a[(offRow + Math.floor(i / K)) * lda + 2 + (i % K)]!);
    const prod = matmulRef(block, b, M, K, N);
    assertClose(await readF32(k, C), prod.map((v, i) => 0.5 * v - 2 * c0[i]!), TOL, 'block gemm');
    [A, B, C].forEach((t) => t.dispose());
  },
});

export const matmulCases: Case[] = [
  matmulCase(1, 1, 1, false, false, false),
  matmulCase(7, 13, 5, false, false, true),
  matmulCase(13, 7, 50, false, false, false),
  matmulCase(17, 33, 65, false, true, true),
  matmulCase(13, 7, 50, true, false, false),
  matmulCase(7, 13, 5, true, true, false),
  matmulCase(16, 768, 3072, false, false, true),
  matmulCase(16, 3072, 768, false, true, false),
  matmulCase(2, 16, 50257, false, true, false),
  // B transposed with K a multiple of 4: the CPU adapters' matmul_texture (gemm.ts), odd M
  // and N, one to three row tiles.
  matmulCase(7, 12, 13, false, true, true),
  matmulCase(17, 36, 65, false, true, false),
  matmulCase(33, 4, 9, false, true, true),
  blockCase(5),
  // One row (gemm's matvec): every transpose, a bias, the LM head's shapes.
  matmulCase(1, 13, 5, false, false, true),
  matmulCase(1, 33, 65, false, true, true),
  matmulCase(1, 7, 50, true, false, false),
  matmulCase(1, 9, 11, true, true, false),
  matmulCase(1, 768, 8191, false, true, false),
  matmulCase(1, 50257, 7, false, false, false),
  blockCase(1),
];
