// Column permutations of row-major activations.
//   permuteColumns(tape, x [rows, cols], order) -> y [rows, cols], y[r, c] = x[r, order[c]]
//   headsToParts(heads, parts, hd) -> the order that turns rows of `heads` groups of
//     `parts` blocks of hd ([q_h | k_h | v_h] for each h, GPT-NeoX's query_key_value)
//     into rows of `parts` groups of `heads` blocks (q | k | v, what attention reads).
// The backward gathers dy with the inverse permutation.
import type { Tape } from '../autograd/tape.ts';
import { grid1d } from '../gpu/kernels.ts';
import { COLUMNS } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

export function headsToParts(heads: number, parts: number, hd: number): number[] {
  const order: number[] = [];
  for (let j = 0; j < parts; j++) {
    for (let h = 0; h < heads; h++) for (let i = 0; i < hd; i++) order.push((h * parts + j) * hd + i);
  }
  return order;
}

export function permuteColumns(tape: Tape, x: Tensor, order: readonly number[]): Tensor {
  const inverse = new Array<number>(order.length).fill(-1);
  order.forEach((c, i) => {
    if (Number.isInteger(c) && c >= 0 && c < order.length && inverse[c] === -1) inverse[c] = i;
  });
  if (order.length !== x.cols || inverse.includes(-1)) throw new RangeError(`permuteColumns: the order is not a permutation of the ${x.cols} columns`);
  const gather = (src: Tensor, by: readonly number[], name: string): Tensor => {
    const out = tape.zeros(src.shape, 'f32', name);
    tape.k.dispatch(COLUMNS, 'permute_columns', [src.rows, src.cols], [src.buffer, tape.constant([by.length], by, 'i32').buffer, out.buffer], grid1d(src.size, 64));
    return out;
  };
  const y = gather(x, order, 'columns');
  tape.record(() => {
    const dy = tape.gradOf(y);
    if (dy) tape.accumulate(x, gather(dy, inverse, 'columns.dx'));
  });
  return y;
}
