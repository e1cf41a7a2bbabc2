// Column blocks of [rows, cols] activations as tape ops, so that hooks can see and
// replace the parts of a joined product (a gated MLP's gate and up halves) with the
// gradient flowing: plain copies forward, the same copies back.
import type { Tape } from '../autograd/tape.ts';
import { copyColumns } from '../gpu/rows.ts';
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
