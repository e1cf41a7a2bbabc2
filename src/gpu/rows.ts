// Per-row norms and unit-norm rows (not differentiated: analysis only).
import { zeros } from './buffers.ts';
import type { Kernels } from './kernels.ts';
import { grid1d } from './kernels.ts';
import { ELEMENTWISE } from './sources.ts';
import type { Tensor } from '../tensor.ts';

/** ||row||_2 for each row: [rows]. */
export function rowNorms(k: Kernels, x: Tensor): Tensor {
  const out = zeros(k, [x.rows], 'f32', 'norms');
  if (!x.split) {
    k.dispatch(ELEMENTWISE, 'row_norms', [x.rows, x.cols], [x.buffer, out.buffer], grid1d(x.rows, 64));
    return out;
  }
  // A split tensor (the embedding's gradient in training): each block's norms, copied into place.
  for (const b of x.blocks) {
    const part = zeros(k, [b.rows], 'f32', 'norms.block');
    k.dispatch(ELEMENTWISE, 'row_norms', [b.rows, x.cols], [b.buffer, part.buffer], grid1d(b.rows, 64));
    k.copy(part.buffer, 0, out.buffer, b.row0 * 4, b.rows * 4);
    part.dispose();
  }
  return out;
}

/** Each row divided by its norm; a zero row stays zero. */
export function normalizeRows(k: Kernels, x: Tensor): Tensor {
  const out = zeros(k, x.shape, 'f32', 'unit');
  k.dispatch(ELEMENTWISE, 'normalize_rows', [x.rows, x.cols], [x.buffer, out.buffer], grid1d(x.rows, 64));
  return out;
}

/** Columns [from, from + width) of every row, as a new [rows, width] tensor: one copy per row. */
export function columns(k: Kernels, x: Tensor, from: number, width: number, name = 'columns'): Tensor {
  if (x.split || from < 0 || width < 1 || from + width > x.cols) throw new RangeError(`columns ${from}..${from + width} of a [${x.shape}] tensor${x.split ? ' split in blocks' : ''}`);
  const out = zeros(k, [x.rows, width], 'f32', name);
  for (let r = 0; r < x.rows; r++) k.copy(x.buffer, (r * x.cols + from) * 4, out.buffer, r * width * 4, width * 4);
  return out;
}
