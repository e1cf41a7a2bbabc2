// The CPU adapters' matmul forms (kernels/matmul.wgsl, src/gpu/gemm.ts) sum the same
// terms in the same order as the 16 x 8 tile with all 64 invocations of a workgroup
// working, so they must give its bits: matmul_texture (A from a texture, B transposed
// read in quads) against matmul, and every count of working invocations gemm may pick
// against 64, and the 8-row tile against the 16-row one, on odd shapes,
// packed weights, bias, alpha and beta, and blocks of larger matrices. Their float64
// accuracy is in kernels/matmul.cases.ts and the linear cases, which run these forms
// on the CPU adapters.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { readF32, upload, zeros } from '../../src/gpu/buffers.ts';
import { workingInvocations, gemm, type GemmLayout } from '../../src/gpu/gemm.ts';
import { f32, type Kernels } from '../../src/gpu/kernels.ts';
import { rowsTexture } from '../../src/gpu/rows-texture.ts';
import { MATMUL } from '../../src/gpu/sources.ts';
import { f32ToBf16, f32ToF16 } from '../../src/half.ts';
import type { Tensor, WeightType } from '../../src/tensor.ts';

const wave = (n: number, f: number, a: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f + 0.3) * a);

function weight(k: Kernels, type: WeightType, shape: number[], values: Float32Array): Tensor {
  if (type === 'f32') return upload(k, shape, values);
  return upload(k, shape, type === 'f16' ? f32ToF16(values) : f32ToBf16(values), type);
}

const bits = async (k: Kernels, t: Tensor) => Array.from(new Uint32Array((await readF32(k, t)).buffer));

interface Product {
  M: number;
  K: number;
  N: number;
  type: WeightType;
  /** A's rows inside a wider matrix: lda K + 3, from row 1, column 2. */
  blockA?: boolean;
  /** B's rows inside a wider stored matrix: ldb K + 8, from column 4. */
  blockB?: boolean;
  bias?: boolean;
  beta?: boolean;
}

const products: Product[] = [
  { M: 2, K: 4, N: 1, type: 'f32' },
  { M: 7, K: 12, N: 13, type: 'f32', bias: true },
  { M: 16, K: 768, N: 257, type: 'f32' },
  { M: 17, K: 36, N: 65, type: 'f16', bias: true },
  { M: 33, K: 20, N: 9, type: 'bf16', beta: true },
  { M: 13, K: 16, N: 7, type: 'f32', blockA: true, blockB: true, bias: true, beta: true },
  { M: 5, K: 8, N: 11, type: 'bf16', blockA: true, blockB: true },
];

const describe = (p: Product) => `${p.M}x${p.K}x${p.N} ${p.type}${p.blockA ? ', A a block' : ''}${p.blockB ? ', B a block' : ''}${p.bias ? ', bias' : ''}${p.beta ? ', alpha and beta' : ''}`;

/**
 * Runs C = alpha A B^T + beta C0 + bias with gemm's layout, or an entry with `active`
 * invocations of each workgroup working and `rows` rows of C per invocation (default 16).
 */
async function product(k: Kernels, p: Product, how: { layout: GemmLayout } | { entry: 'matmul' | 'matmul_texture'; active: number; rows?: number }): Promise<number[]> {
  const { M, K, N } = p;
  const lda = p.blockA ? K + 3 : K;
  const offA = p.blockA ? lda + 2 : 0;
  const ldb = p.blockB ? K + 8 : K;
  const offB = p.blockB ? 4 : 0;
  const A = upload(k, [M + 1, lda], wave((M + 1) * lda, 1.3, 0.7));
  const B = weight(k, p.type, [N, ldb], wave(N * ldb, 0.37, 0.05));
  const bias = upload(k, [N], wave(N, 1, 0.1));
  const C = upload(k, [M, N], wave(M * N, 0.11, 0.5));
  const [alpha, beta] = p.beta ? [0.5, -2] : [1, 0];
  if ('layout' in how) {
    gemm(k, { A: A.buffer, B: B.buffer, typeB: p.type, C: C.buffer, M, N, K, transB: true, lda, offA, ldb, offB, alpha, beta, layout: how.layout, ...(p.bias ? { bias: bias.buffer } : {}) });
  } else {
    const params = [M, N, K, lda, ldb, N, offA, offB, 0, f32(alpha), f32(beta), p.bias ? 1 : 0, how.active];
    const rows = how.rows ?? 16;
    const grid: [number, number] = [Math.ceil(Math.ceil(N / 8) / how.active), Math.ceil(M / rows)];
    if (how.entry === 'matmul') {
      k.dispatch(MATMUL[p.type], 'matmul', params, [A.buffer, B.buffer, C.buffer, bias.buffer], grid, { TRANS_A: 0, TRANS_B: 1, ROWS: rows });
    } else {
      const texture = rowsTexture(k, { X: A.buffer, rows: M, cols: K, offset: offA, stride: lda }, 'test.aRows');
      k.dispatch(MATMUL[p.type], 'matmul_texture', params, [null, B.buffer, C.buffer, bias.buffer, texture.createView()], grid, { ROWS: rows });
      k.release(texture);
    }
  }
  const out = await bits(k, C);
  [A, B, bias, C].forEach((t) => t.dispose());
  return out;
}

for (const p of products) {
  test(`B transposed ${describe(p)}: matmul_texture gives matmul's bits`, async () => {
    const k = await getEngine();
    assert.equal(await product(k, p, { layout: 'texture' }), await product(k, p, { layout: 'buffer' }));
  });
  test(`B transposed ${describe(p)}: any count of working invocations gives the bits of 64`, async () => {
    const k = await getEngine();
    for (const entry of ['matmul', 'matmul_texture'] as const) {
      const want = await product(k, p, { entry, active: 64 });
      for (const active of [8, 24, 48]) assert.equal(await product(k, p, { entry, active }), want, `${entry} with ${active}`);
      // The 8-row tile, as gemm runs a product of at most 8 rows on the CPU adapters (and here also more).
      assert.equal(await product(k, p, { entry, active: 48, rows: 8 }), want, `${entry} with 8 rows`);
    }
  });
}

test('B not transposed, any count of working invocations or 8 rows: the bits of 64 and 16', async () => {
  const k = await getEngine();
  const [M, K, N] = [17, 13, 100];
  const A = upload(k, [M, K], wave(M * K, 1.3, 0.7));
  const B = upload(k, [K, N], wave(K * N, 0.37, 0.05));
  const run = async (active: number, rows = 16) => {
    const C = zeros(k, [M, N]);
    k.dispatch(MATMUL.f32, 'matmul', [M, N, K, K, N, N, 0, 0, 0, f32(1), f32(0), 0, active], [A.buffer, B.buffer, C.buffer, B.buffer], [Math.ceil(Math.ceil(N / 8) / active), Math.ceil(M / rows)], { TRANS_A: 0, TRANS_B: 0, ROWS: rows });
    const out = await bits(k, C);
    C.dispose();
    return out;
  };
  const want = await run(64);
  for (const active of [8, 16, 40]) assert.equal(await run(active), want, `with ${active}`);
  assert.equal(await run(64, 8), want, 'with 8 rows');
  [A, B].forEach((t) => t.dispose());
});

test('working invocations: 64 on a GPU; an even share per core for skinny products on a CPU', () => {
  assert.is(workingInvocations(false, 2, 96, 1), 64);
  // 768 columns at 16 rows: 96 invocations, 48 per core, not 64 and 32.
  assert.is(workingInvocations(true, 2, 96, 1), 48);
  // 2304 columns: 288 invocations in 6 workgroups, not 4.5 (3 against 1.5).
  assert.is(workingInvocations(true, 2, 288, 1), 48);
  // 3072 columns: 6 workgroups of 64 already share evenly.
  assert.is(workingInvocations(true, 2, 384, 1), 64);
  assert.is(workingInvocations(true, 4, 96, 1), 24);
  // Many workgroups per core, or one core: 64.
  assert.is(workingInvocations(true, 2, 5462, 1), 64);
  assert.is(workingInvocations(true, 1, 96, 1), 64);
  // Two row tiles of 96: 64 + 32 twice already share evenly.
  assert.is(workingInvocations(true, 2, 96, 2), 64);
});

test.run();
