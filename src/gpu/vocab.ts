// Top-k / bottom-k ids per row of scores (decoding, generation, edits). Only k ids
// and scores per row come back to the CPU. The logit lens has its own fused kernels
// (gpu/lens.ts) with the same order and ties.
import { zeros } from './buffers.ts';
import type { Kernels } from './kernels.ts';
import { f32, grid1d } from './kernels.ts';
import { VOCAB } from './sources.ts';
import type { Tensor } from '../tensor.ts';

export const MAX_K = 128; // kernels/vocab.wgsl MAX_K
const CHUNK = 1024;

export type Order = 'top' | 'bottom';

export interface TopK {
  /** [rows, k] i32, best first. */
  ids: Tensor;
  /** [rows, k] the scores of those ids. */
  scores: Tensor;
}

export function topk(k: Kernels, scores: Tensor, count: number, order: Order): TopK {
  const V = scores.cols;
  if (!Number.isInteger(count) || count < 1 || count > Math.min(MAX_K, V)) throw new RangeError(`top-k: k = ${count} must be between 1 and ${Math.min(MAX_K, V)}`);
  const ids = zeros(k, [scores.rows, count], 'i32', `${order}k.ids`);
  const vals = zeros(k, [scores.rows, count], 'f32', `${order}k.scores`);
  if (scores.blocks.length === 1) rowsTopk(k, scores.blocks[0]!.buffer, scores.rows, V, count, order, ids.buffer, vals.buffer);
  else {
    // Rows are independent: each block of a split score matrix is its own problem,
    // its k ids per row copied to their rows of the result.
    for (const b of scores.blocks) {
      const part = { ids: zeros(k, [b.rows, count], 'i32'), vals: zeros(k, [b.rows, count]) };
      rowsTopk(k, b.buffer, b.rows, V, count, order, part.ids.buffer, part.vals.buffer);
      k.copy(part.ids.buffer, 0, ids.buffer, b.row0 * count * 4, b.rows * count * 4);
      k.copy(part.vals.buffer, 0, vals.buffer, b.row0 * count * 4, b.rows * count * 4);
      part.ids.dispose();
      part.vals.dispose();
    }
  }
  return { ids, scores: vals };
}

function rowsTopk(k: Kernels, scores: GPUBuffer, rows: number, V: number, count: number, order: Order, ids: GPUBuffer, vals: GPUBuffer): void {
  const nChunks = Math.ceil(V / CHUNK);
  const params = [rows, V, count, CHUNK, nChunks, f32(order === 'top' ? 1 : -1)];
  const candVal = zeros(k, [rows * nChunks * count]);
  const candId = zeros(k, [rows * nChunks * count], 'i32');
  k.dispatch(VOCAB, 'topk_chunks', params, [scores, candVal.buffer, candId.buffer], grid1d(rows * nChunks, 64));
  k.dispatch(VOCAB, 'topk_merge', params, [candVal.buffer, candId.buffer, ids, vals], [Math.ceil(rows / 64)]);
  candVal.dispose();
  candId.dispose();
}
