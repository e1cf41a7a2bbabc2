// Top-k sets for the per-neuron view's LL intersection (paper Fig. 8a): which ids
// rank in a row's top k, as an unordered list or as counts against reference sets.
// A radix select finds each row's cut, so nothing is sorted and, for the counts,
// no row's list is ever formed. Order and ties are those of gpu/vocab.ts.
import { upload, zeros } from './buffers.ts';
import type { Kernels } from './kernels.ts';
import { grid1d } from './kernels.ts';
import { OVERLAP } from './sources.ts';
import type { Tensor } from '../tensor.ts';

/** The k ids of each row's top k in no particular order: i32 [rows, count]. */
export function topkMembers(k: Kernels, scores: Tensor, count: number): Tensor {
  const params = paramsFor(scores, count, 0, 0);
  const cut = cutOf(k, scores, params);
  const members = zeros(k, [scores.rows, count], 'i32', 'topk.members');
  k.dispatch(OVERLAP, 'top_members', params, [scores.buffer, cut.buffer, members.buffer], [scores.rows]);
  cut.dispose();
  return members;
}

/** |top-k(row) ∩ set| for every row of scores [rows, V] and set of ids i32 [nSets, setSize]: i32 [rows, nSets]. */
export function topkOverlap(k: Kernels, scores: Tensor, count: number, sets: Tensor): Tensor {
  const [nSets, setSize] = sets.shape as [number, number];
  const params = paramsFor(scores, count, nSets, setSize);
  const cut = cutOf(k, scores, params);
  const counts = zeros(k, [scores.rows, nSets], 'i32', 'topk.overlap');
  k.dispatch(OVERLAP, 'count_members', params, [scores.buffer, cut.buffer, sets.buffer, counts.buffer], grid1d(scores.rows * nSets, 64));
  cut.dispose();
  return counts;
}

/**
 * Sets the scores of `ids` to the lowest f32 in every row of scores [rows, V], in place: no
 * top-k of at most V - ids.length then holds one of them.
 */
export function skipIds(k: Kernels, scores: Tensor, ids: readonly number[]): void {
  if (ids.length === 0) return;
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= scores.cols);
  if (bad !== undefined) throw new RangeError(`skip ids: ${bad} is outside 0..${scores.cols - 1}`);
  const list = upload(k, [ids.length], ids, 'i32', 'skip.ids');
  k.dispatch(OVERLAP, 'skip_ids', [scores.rows, scores.cols, ids.length, 0, 0], [scores.buffer, list.buffer], grid1d(scores.rows * ids.length, 64));
  list.dispose();
}

function paramsFor(scores: Tensor, count: number, nSets: number, setSize: number): number[] {
  if (!Number.isInteger(count) || count < 1 || count > scores.cols) throw new RangeError(`top-k: k = ${count} must be between 1 and ${scores.cols}`);
  if (scores.rows > 65535) throw new RangeError(`top-k: ${scores.rows} rows exceed one dispatch; split them`);
  return [scores.rows, scores.cols, count, nSets, setSize];
}

/** Each row's k-th best (key, id): [rows, 2] u32, read as i32. */
function cutOf(k: Kernels, scores: Tensor, params: number[]): Tensor {
  const cut = zeros(k, [scores.rows, 2], 'i32', 'topk.cut');
  k.dispatch(OVERLAP, 'topk_cut', params, [scores.buffer, cut.buffer], [scores.rows]);
  return cut;
}
