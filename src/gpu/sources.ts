// Every WGSL file the engine uses, compiled once when the engine starts.
import adam from '../../kernels/adam.wgsl';
import attention from '../../kernels/attention.wgsl';
import bestList from '../../kernels/best-list.wgsl';
import columns from '../../kernels/columns.wgsl';
import elementwise from '../../kernels/elementwise.wgsl';
import embedding from '../../kernels/embedding.wgsl';
import gelu from '../../kernels/gelu.wgsl';
import layernorm from '../../kernels/layernorm.wgsl';
import lens from '../../kernels/lens.wgsl';
import matmulRowsOwn from '../../kernels/matmul-rows-own.wgsl';
import matmulRowsShared from '../../kernels/matmul-rows-shared.wgsl';
import matmul from '../../kernels/matmul.wgsl';
import overlap from '../../kernels/overlap.wgsl';
import rmsnorm from '../../kernels/rmsnorm.wgsl';
import rotary from '../../kernels/rotary.wgsl';
import rowsOwn from '../../kernels/rows-own.wgsl';
import rowsShared from '../../kernels/rows-shared.wgsl';
import rowsTexture from '../../kernels/rows-texture.wgsl';
import siluGate from '../../kernels/silu-gate.wgsl';
import softmaxXent from '../../kernels/softmax_xent.wgsl';
import vocab from '../../kernels/vocab.wgsl';
import weightsBf16 from '../../kernels/weights-bf16.wgsl';
import weightsF16 from '../../kernels/weights-f16.wgsl';
import weightsF32 from '../../kernels/weights-f32.wgsl';
import type { WeightType } from '../tensor.ts';
import type { KernelSource } from './kernels.ts';

const source = (file: string, code: string): KernelSource => ({ file, code });

/**
 * A kernel that reads weights, once per weight dtype: the same text with the
 * matching weights-*.wgsl appended (after it, so error lines stay the file's own).
 * Each variant is its own module, so pipelines are cached per dtype.
 */
function weighted(file: string, code: string): Record<WeightType, KernelSource> {
  return {
    f32: source(file, `${code}\n${weightsF32}`),
    f16: source(`${file} (f16 weights)`, `${code}\n${weightsF16}`),
    bf16: source(`${file} (bf16 weights)`, `${code}\n${weightsBf16}`),
  };
}

export const ADAM = source('adam.wgsl', adam);
export const ATTENTION = source('attention.wgsl', attention);
export const COLUMNS = source('columns.wgsl', columns);
export const ELEMENTWISE = source('elementwise.wgsl', elementwise);
export const EMBEDDING = weighted('embedding.wgsl', embedding);
export const GELU = source('gelu.wgsl', gelu);
export const LAYERNORM = source('layernorm.wgsl', layernorm);
export const LENS = weighted('lens.wgsl', `${lens}\n${rowsOwn}\n${bestList}`);
/**
 * The lens with h's rows shared across a subgroup (kernels/rows-shared.wgsl), for
 * devices with the subgroups feature and subgroups of at least 8. The directive must
 * come first; it goes on the file's first line, a comment, so error lines stay the file's.
 */
export const LENS_SUBGROUPS = weighted('lens.wgsl (subgroups)', `enable subgroups; ${lens}\n${rowsShared}\n${bestList}`);
export const MATMUL = weighted('matmul.wgsl', `${matmul}\n${rowsOwn}\n${matmulRowsOwn}`);
/**
 * The matmuls with A's rows shared across a subgroup (kernels/matmul-rows-shared.wgsl).
 * Its early returns are whole subgroups, which the uniformity analysis cannot prove, so
 * the check is off for this form only; directives go on the first line, a comment.
 */
export const MATMUL_SUBGROUPS = weighted('matmul.wgsl (subgroups)', `enable subgroups; diagnostic(off, subgroup_uniformity); ${matmul}\n${rowsShared}\n${matmulRowsShared}`);
export const OVERLAP = source('overlap.wgsl', overlap);
export const RMSNORM = source('rmsnorm.wgsl', rmsnorm);
export const ROTARY = source('rotary.wgsl', rotary);
export const ROWS_TEXTURE = source('rows-texture.wgsl', rowsTexture);
export const SILU_GATE = source('silu-gate.wgsl', siluGate);
export const SOFTMAX_XENT = source('softmax_xent.wgsl', softmaxXent);
export const VOCAB = source('vocab.wgsl', `${vocab}\n${bestList}`);

/** Kernels every device compiles; SUBGROUP_KERNELS need the subgroups feature. */
export const ALL_KERNELS = [ADAM, ATTENTION, COLUMNS, ELEMENTWISE, ...Object.values(EMBEDDING), GELU, LAYERNORM, ...Object.values(LENS), ...Object.values(MATMUL), OVERLAP, RMSNORM, ROTARY, ROWS_TEXTURE, SILU_GATE, SOFTMAX_XENT, VOCAB];
export const SUBGROUP_KERNELS = [...Object.values(LENS_SUBGROUPS), ...Object.values(MATMUL_SUBGROUPS)];
