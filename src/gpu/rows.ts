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

/** Copies columns [from, from + width) of each row of `src` into columns [to, to + width) of `dst`: one copy per row, split tensors too. */
export function copyColumns(k: Kernels, src: Tensor, from: number, dst: Tensor, to: number, width: number): void {
  if (src.rows !== dst.rows || from < 0 || to < 0 || width < 1 || from + width > src.cols || to + width > dst.cols) {
    throw new RangeError(`copyColumns: columns ${from}..${from + width} of [${src.shape}] into ${to}..${to + width} of [${dst.shape}]`);
  }
  for (let r = 0; r < src.rows; r++) {
    const s = src.rowAt(r);
    const d = dst.rowAt(r);
    k.copy(s.buffer, s.byteOffset + from * 4, d.buffer, d.byteOffset + to * 4, width * 4);
  }
}

/** Columns [from, from + width) of every row, as a new [rows, width] tensor. */
export function columns(k: Kernels, x: Tensor, from: number, width: number, name = 'columns'): Tensor {
  const out = zeros(k, [x.rows, width], 'f32', name);
  copyColumns(k, x, from, out, 0, width);
  return out;
}
