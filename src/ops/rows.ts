// Per-row norms and unit-norm rows (not differentiated: analysis only).
import { zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { grid1d } from '../gpu/kernels.ts';
import { ELEMENTWISE } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

/** ||row||_2 for each row: [rows]. */
export function rowNorms(k: Kernels, x: Tensor): Tensor {
  const out = zeros(k, [x.rows], 'f32', 'norms');
  k.dispatch(ELEMENTWISE, 'row_norms', [x.rows, x.cols], [x.buffer, out.buffer], grid1d(x.rows, 64));
  return out;
}

/** Each row divided by its norm; a zero row stays zero. */
export function normalizeRows(k: Kernels, x: Tensor): Tensor {
  const out = zeros(k, x.shape, 'f32', 'unit');
  k.dispatch(ELEMENTWISE, 'normalize_rows', [x.rows, x.cols], [x.buffer, out.buffer], grid1d(x.rows, 64));
  return out;
}
