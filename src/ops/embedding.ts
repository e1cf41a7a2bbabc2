// Row gathers: token + position embedding, and picking the rows that feed the LM head.
// A table split in row blocks (the embedding of a large vocabulary at small binding
// limits) takes one dispatch per block; each row of idx is served by its block.
import type { Tape } from '../autograd/tape.ts';
import { grid1d } from '../gpu/kernels.ts';
import { EMBEDDING } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

function gatherInto(tape: Tape, table: Tensor, idx: Tensor, out: Tensor, accumulate: boolean): void {
  const rows = idx.size;
  const cols = table.cols;
  for (const b of table.blocks) {
    tape.k.dispatch(EMBEDDING, 'gather', [rows, cols, accumulate ? 1 : 0, b.row0, b.row0 + b.rows], [b.buffer, idx.buffer, out.buffer], grid1d(rows * cols, 64));
  }
}

/** Backward of a gather: table[idx[r]] += src[r], deterministic for repeated ids. */
function scatterAdd(tape: Tape, src: Tensor, idx: Tensor, dtable: Tensor): void {
  for (const b of dtable.blocks) {
    tape.k.dispatch(EMBEDDING, 'scatter_add', [idx.size, dtable.cols, 0, b.row0, b.row0 + b.rows], [src.buffer, idx.buffer, b.buffer], [Math.ceil(dtable.cols / 64)]);
  }
}

/** Gradient of a table, formed only for training; tables get no input gradient. */
function tableGrad(tape: Tape, table: Tensor, src: Tensor, idx: Tensor): void {
  const d = tape.zeros(table.shape, 'f32', `${table.name}.grad`);
  scatterAdd(tape, src, idx, d);
  tape.accumulate(table, d);
}

/** out[r] = tokens[ids[r]] + positions[at[r]] (learned position table). ids and at are i32 tensors. */
export function embed(tape: Tape, tokens: Tensor, positions: Tensor, ids: Tensor, at: Tensor): Tensor {
  const out = tape.zeros([ids.size, tokens.cols], 'f32', 'embed');
  gatherInto(tape, tokens, ids, out, false);
  gatherInto(tape, positions, at, out, true);
  tape.record(() => {
    const g = tape.gradOf(out);
    if (!g || !tape.paramGrads) return;
    tableGrad(tape, tokens, g, ids);
    tableGrad(tape, positions, g, at);
  });
  return out;
}

/** out[r] = x[idx[r]]: the hidden states at the positions that carry a loss. */
export function selectRows(tape: Tape, x: Tensor, idx: Tensor): Tensor {
  const out = tape.zeros([idx.size, x.cols], 'f32', 'rows');
  gatherInto(tape, x, idx, out, false);
  tape.record(() => {
    const g = tape.gradOf(out);
    if (!g) return;
    const dx = tape.zeros(x.shape, 'f32', 'rows.dx');
    scatterAdd(tape, g, idx, dx);
    tape.accumulate(x, dx);
  });
  return out;
}
