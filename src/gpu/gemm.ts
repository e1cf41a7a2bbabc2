// The general matrix product behind every linear map: C = alpha op(A) op(B) + beta C + bias.
import type { Kernels } from './kernels.ts';
import { f32, sharesRows } from './kernels.ts';
import { fitsTexture, rowsScratch } from './rows-texture.ts';
import { MATMUL, MATMUL_SUBGROUPS } from './sources.ts';
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
  /** Where the tile reads A from; default: defaultLayout. Tests set it to compare the two. */
  layout?: GemmLayout;
}

/**
 * 'buffer' (matmul: A and B read a value at a time) or 'texture' (matmul_texture: A
 * copied to an rgba32float texture, B read four weights at a time; only for B
 * transposed, with K and B's addressing in whole quads, else 'buffer' serves). Same
 * results, bit for bit.
 */
export type GemmLayout = 'buffer' | 'texture';

/** The CPU adapters, where a storage load costs a guarded scalar load per lane (bench/RESULTS.md, issue 28, 6). */
export const defaultLayout = (k: Kernels): GemmLayout => (k.gpu.software ? 'texture' : 'buffer');

const TILE_M = 16;
const TILE_N = 8;
const WORKGROUP = 64;

/**
 * Invocations that work in each workgroup of 64, for `columns` invocations along N
 * times `rowTiles`. A GPU uses all 64. A CPU adapter runs one workgroup per thread, so
 * a few full workgroups share a skinny product out unevenly: a 768-wide output at 16
 * rows was workgroups of 64 and 32 invocations, one of two cores busy twice as long as
 * the other. There the multiple of 8 (lavapipe's lanes) up to 64 whose workgroups,
 * each handed to the least loaded thread, finish first serves; on a tie the larger
 * (fewer workgroups). A count rather than a workgroup size: each size would be a
 * pipeline of its own (~5 MB of compiled code on lavapipe).
 */
export function workingInvocations(software: boolean, cores: number, columns: number, rowTiles: number): number {
  // With this many workgroups per thread the last round costs little.
  if (!software || cores < 2 || Math.ceil(columns / WORKGROUP) * rowTiles >= 8 * cores) return WORKGROUP;
  let best = WORKGROUP;
  let bestSpan = Infinity;
  for (let size = WORKGROUP; size >= 8; size -= 8) {
    const loads = new Array<number>(cores).fill(0);
    for (let r = 0; r < rowTiles; r++) {
      for (let at = 0; at < columns; at += size) {
        const least = loads.indexOf(Math.min(...loads));
        loads[least]! += Math.ceil(Math.min(size, columns - at) / 8) * 8;
      }
    }
    const span = Math.max(...loads);
    if (span < bestSpan) [best, bestSpan] = [size, span];
  }
  return best;
}

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
  // A short product on the CPU adapters gets the 8-row tile: the 16-row one would
  // compute its last row over again for the rest, at the full cost of each.
  const rows = k.gpu.software && M <= TILE_M / 2 ? TILE_M / 2 : TILE_M;
  const groupsM = Math.ceil(M / rows);
  const columns = Math.ceil(N / TILE_N);
  const working = workingInvocations(k.gpu.software, k.gpu.cores, columns, groupsM);
  const groupsN = Math.ceil(columns / working);
  const params = [M, N, K, lda, ldb, ldc, g.offA ?? 0, g.offB ?? 0, g.offC ?? 0, f32(g.alpha ?? 1), f32(g.beta ?? 0), g.bias ? 1 : 0, working];
  if (groupsM > 65535) throw new RangeError(`matmul with ${M} rows exceeds the dispatch limit; split it`);
  const kernel = (sharesRows(k) ? MATMUL_SUBGROUPS : MATMUL)[g.typeB ?? 'f32'];
  // A single row gets a kernel of its own: the tile would compute it 16 times.
  if (M === 1 || !quadsFit(k, g, ldb)) {
    k.dispatch(kernel, M === 1 ? 'matvec' : 'matmul', params, [g.A, g.B, g.C, g.bias ?? noBias(k)], [groupsN, groupsM], {
      TRANS_A: g.transA ? 1 : 0,
      TRANS_B: g.transB ? 1 : 0,
      ...(M > 1 && rows !== TILE_M ? { ROWS: rows } : {}),
    });
    return;
  }
  const { texture, owned } = rowsScratch(k, { X: g.A, rows: M, cols: K, offset: g.offA ?? 0, stride: lda });
  k.dispatch(kernel, 'matmul_texture', params, [null, g.B, g.C, g.bias ?? noBias(k), texture.createView()], [groupsN, groupsM], rows !== TILE_M ? { ROWS: rows } : {});
  if (owned) k.release(texture);
}

/** matmul_texture's conditions: B transposed, A not, and every quad of A and B whole. */
function quadsFit(k: Kernels, g: GemmArgs, ldb: number): boolean {
  if ((g.layout ?? defaultLayout(k)) !== 'texture' || g.transA || !g.transB) return false;
  return fitsTexture(k, g.M, g.K) && ldb % 4 === 0 && (g.offB ?? 0) % 4 === 0;
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
