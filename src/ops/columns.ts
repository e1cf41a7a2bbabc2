// Column operations on [rows, cols] activations, as tape ops with their backward:
//   sliceColumns / joinColumns: column blocks, so that hooks can see and replace the
//     parts of a joined product (a gated MLP's gate and up halves); plain copies
//     forward, the same copies back.
//   permuteColumns(tape, x, order) -> y, y[r, c] = x[r, order[c]]; its backward
//     gathers dy with the inverse permutation. columnOrder uploads an order and its
//     inverse once, for a pass that permutes every layer's columns the same way.
//   headsToParts(heads, parts, hd) -> the order that turns rows of `heads` groups of
//     `parts` blocks of hd ([q_h | k_h | v_h] for each h, GPT-NeoX's query_key_value)
//     into rows of `parts` groups of `heads` blocks (q | k | v, what attention reads).
import type { Tape } from '../autograd/tape.ts';
import { grid1d } from '../gpu/kernels.ts';
import { copyColumns } from '../gpu/rows.ts';
import { COLUMNS } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

/** Columns [from, from + width) of x. */
export function sliceColumns(tape: Tape, x: Tensor, from: number, width: number, name = 'columns'): Tensor {
  const y = tape.zeros([x.rows, width], 'f32', name);
  copyColumns(tape.k, x, from, y, 0, width);
  tape.record(() => {
    const g = tape.gradOf(y);
    if (!g) return;
    const dx = tape.zeros(x.shape, 'f32', `${name}.dx`);
    copyColumns(tape.k, g, 0, dx, from, width);
    tape.accumulate(x, dx);
  });
  return y;
}

/** The parts side by side: [a_r | b_r | ...] for every row r. */
export function joinColumns(tape: Tape, parts: readonly Tensor[], name = 'joined'): Tensor {
  const rows = parts[0]!.rows;
  if (parts.some((p) => p.rows !== rows)) throw new RangeError(`joinColumns: parts of ${parts.map((p) => p.rows).join(', ')} rows`);
  const out = tape.zeros([rows, parts.reduce((w, p) => w + p.cols, 0)], 'f32', name);
  let at = 0;
  const spans = parts.map((p) => {
    copyColumns(tape.k, p, 0, out, at, p.cols);
    return (at += p.cols) - p.cols;
  });
  tape.record(() => {
    const g = tape.gradOf(out);
    if (!g) return;
    parts.forEach((p, i) => {
      const dp = tape.zeros(p.shape, 'f32', `${name}.d${i}`);
      copyColumns(tape.k, g, spans[i]!, dp, 0, p.cols);
      tape.accumulate(p, dp);
    });
  });
  return out;
}

export function headsToParts(heads: number, parts: number, hd: number): number[] {
  const order: number[] = [];
  for (let j = 0; j < parts; j++) {
    for (let h = 0; h < heads; h++) for (let i = 0; i < hd; i++) order.push((h * parts + j) * hd + i);
  }
  return order;
}

/** A permutation of `cols` columns and its inverse on the device, owned by the tape. */
export interface ColumnOrder {
  readonly cols: number;
  readonly order: Tensor;
  readonly inverse: Tensor;
}

export function columnOrder(tape: Tape, order: readonly number[], cols: number): ColumnOrder {
  const inverse = new Array<number>(order.length).fill(-1);
  order.forEach((c, i) => {
    if (Number.isInteger(c) && c >= 0 && c < order.length && inverse[c] === -1) inverse[c] = i;
  });
  if (order.length !== cols || inverse.includes(-1)) throw new RangeError(`permuteColumns: the order is not a permutation of the ${cols} columns`);
  return { cols, order: tape.constant([cols], order, 'i32'), inverse: tape.constant([cols], inverse, 'i32') };
}

export function permuteColumns(tape: Tape, x: Tensor, order: readonly number[] | ColumnOrder): Tensor {
  const o = 'cols' in order ? order : columnOrder(tape, order, x.cols);
  if (o.cols !== x.cols) throw new RangeError(`permuteColumns: the order is not a permutation of the ${x.cols} columns`);
  const gather = (src: Tensor, by: Tensor, name: string): Tensor => {
    const out = tape.zeros(src.shape, 'f32', name);
    tape.k.dispatch(COLUMNS, 'permute_columns', [src.rows, src.cols], [src.buffer, by.buffer, out.buffer], grid1d(src.size, 64));
    return out;
  };
  const y = gather(x, o.order, 'columns');
  tape.record(() => {
    const dy = tape.gradOf(y);
    if (dy) tape.accumulate(x, gather(dy, o.inverse, 'columns.dx'));
  });
  return y;
}
