// The general matrix product behind every linear map: C = alpha op(A) op(B) + beta C + bias.
import type { Kernels } from './kernels.ts';
import { f32 } from './kernels.ts';
import { MATMUL } from './sources.ts';
import type { WeightLayout, WeightType } from '../tensor.ts';

export interface GemmArgs {
  A: GPUBuffer;
  B: GPUBuffer;
  /** How B is stored: a weight in 16 bits stays packed (kernels/weights-*.wgsl). Default f32. */
  typeB?: WeightType;
  C: GPUBuffer;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  /** Leading dimensions (row strides as stored); default to the packed layout. */
  lda?: number;
  ldb?: number;
  ldc?: number;
  offA?: number;
  offB?: number;
  offC?: number;
  alpha?: number;
  beta?: number;
  bias?: GPUBuffer;
}

const TILE_M = 16;
const TILE_N = 8;
const WORKGROUP = 64;

const dummies = new WeakMap<Kernels, GPUBuffer>();

/** The bias binding is always bound; calls without one get a shared placeholder. */
function noBias(k: Kernels): GPUBuffer {
  let b = dummies.get(k);
  if (!b) {
    b = k.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    dummies.set(k, b);
  }
  return b;
}

export function gemm(k: Kernels, g: GemmArgs): void {
  const { M, N, K } = g;
  if (M === 0 || N === 0) return;
  const lda = g.lda ?? (g.transA ? M : K);
  const ldb = g.ldb ?? (g.transB ? K : N);
  const ldc = g.ldc ?? N;
  const params = [M, N, K, lda, ldb, ldc, g.offA ?? 0, g.offB ?? 0, g.offC ?? 0, f32(g.alpha ?? 1), f32(g.beta ?? 0), g.bias ? 1 : 0];
  const groupsM = Math.ceil(M / TILE_M);
  const groupsN = Math.ceil(Math.ceil(N / TILE_N) / WORKGROUP);
  if (groupsM > 65535) throw new RangeError(`matmul with ${M} rows exceeds the dispatch limit; split it`);
  // A single row gets a kernel of its own: the tile would compute it 16 times.
  k.dispatch(MATMUL[g.typeB ?? 'f32'], M === 1 ? 'matvec' : 'matmul', params, [g.A, g.B, g.C, g.bias ?? noBias(k)], [groupsN, groupsM], {
    TRANS_A: g.transA ? 1 : 0,
    TRANS_B: g.transB ? 1 : 0,
  });
}

/**
 * W <- beta W + alpha A^T B, a sum of outer products a_i b_i^T (a_i rows of A [n, in],
 * b_i rows of B [n, out]), written in W's own layout: W [in, out] gets A^T B, W [out,
 * in] gets B^T A. A gradient's factors, the shift's and ROME's updates all have this form.
 * With `outputs`, only those output columns of W change, from those columns of B.
 */
export function addOuterProducts(k: Kernels, W: GPUBuffer, layout: WeightLayout, A: GPUBuffer, B: GPUBuffer, n: number, inDim: number, outDim: number, alpha: number, beta: number, outputs?: ColumnRange): void {
  const { from, width } = outputs ?? { from: 0, width: outDim };
  if (layout === 'out_in') {
    gemm(k, { A: B, B: A, C: W, M: width, N: inDim, K: n, transA: true, lda: outDim, offA: from, offC: from * inDim, alpha, beta });
  } else {
    gemm(k, { A, B, C: W, M: inDim, N: width, K: n, transA: true, ldb: outDim, offB: from, ldc: outDim, offC: from, alpha, beta });
  }
}

/** Output columns [from, from + width) of a linear map: one stored module of a joined weight (Llama's up_proj in gate|up). */
export interface ColumnRange {
  readonly from: number;
  readonly width: number;
}
