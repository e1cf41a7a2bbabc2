// Every WGSL file the engine uses, compiled once when the engine starts.
import adam from '../../kernels/adam.wgsl';
import attention from '../../kernels/attention.wgsl';
import bestList from '../../kernels/best-list.wgsl';
import elementwise from '../../kernels/elementwise.wgsl';
import embedding from '../../kernels/embedding.wgsl';
import gelu from '../../kernels/gelu.wgsl';
import layernorm from '../../kernels/layernorm.wgsl';
import lens from '../../kernels/lens.wgsl';
import matmul from '../../kernels/matmul.wgsl';
import overlap from '../../kernels/overlap.wgsl';
import softmaxXent from '../../kernels/softmax_xent.wgsl';
import vocab from '../../kernels/vocab.wgsl';
import type { KernelSource } from './kernels.ts';

const source = (file: string, code: string): KernelSource => ({ file, code });

export const ADAM = source('adam.wgsl', adam);
export const ATTENTION = source('attention.wgsl', attention);
export const ELEMENTWISE = source('elementwise.wgsl', elementwise);
export const EMBEDDING = source('embedding.wgsl', embedding);
export const GELU = source('gelu.wgsl', gelu);
export const LAYERNORM = source('layernorm.wgsl', layernorm);
export const LENS = source('lens.wgsl', `${lens}\n${bestList}`);
export const MATMUL = source('matmul.wgsl', matmul);
export const OVERLAP = source('overlap.wgsl', overlap);
export const SOFTMAX_XENT = source('softmax_xent.wgsl', softmaxXent);
export const VOCAB = source('vocab.wgsl', `${vocab}\n${bestList}`);

export const ALL_KERNELS = [ADAM, ATTENTION, ELEMENTWISE, EMBEDDING, GELU, LAYERNORM, LENS, MATMUL, OVERLAP, SOFTMAX_XENT, VOCAB];
