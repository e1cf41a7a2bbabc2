// Row gathers: token + position embedding, and picking the rows that feed the LM head.
// A table split in row blocks (the embedding of a large vocabulary at small binding
// limits) takes one dispatch per block; each row of idx is served by its block.
import type { Tape } from '../autograd/tape.ts';
import { upload, zeros } from '../gpu/buffers.ts';
import type { Kernels } from '../gpu/kernels.ts';
import { grid1d } from '../gpu/kernels.ts';
import { EMBEDDING } from '../gpu/sources.ts';
import { weightType, type Tensor } from '../tensor.ts';

/** Rows of idx outside the table (-1) are left as they are. */
function gatherInto(k: Kernels, table: Tensor, idx: Tensor, out: GPUBuffer, accumulate: boolean): void {
  const rows = idx.size;
  const cols = table.cols;
  for (const b of table.blocks) {
    k.dispatch(EMBEDDING[weightType(table)], 'gather', [rows, cols, accumulate ? 1 : 0, b.row0, b.row0 + b.rows], [b.buffer, idx.buffer, out], grid1d(rows * cols, 64));
  }
}

/** out[r] = table[ids[r]] as f32, a zero row where ids[r] is -1; not differentiated. */
export function gatherRows(k: Kernels, table: Tensor, ids: readonly number[], name = 'rows'): Tensor {
  const out = zeros(k, [ids.length, table.cols], 'f32', name);
  const idx = upload(k, [ids.length], ids, 'i32', `${name}.ids`);
  gatherInto(k, table, idx, out.buffer, false);
  idx.dispose();
  return out;
}

/** An f32 copy of a (packed) weight, block by block: the working copy an edit changes. */
export function widen(k: Kernels, table: Tensor): Tensor {
  const out = zeros(k, table.shape, 'f32', table.name);
  for (const b of out.blocks) {
    const idx = upload(k, [b.rows], Array.from({ length: b.rows }, (_, i) => b.row0 + i), 'i32', `${table.name}.rows`);
    gatherInto(k, table, idx, b.buffer, false);
    idx.dispose();
  }
  return out;
}

/** Backward of a gather: table[idx[r]] += src[r], deterministic for repeated ids. */
function scatterAdd(tape: Tape, src: Tensor, idx: Tensor, dtable: Tensor): void {
  for (const b of dtable.blocks) {
    tape.k.dispatch(EMBEDDING.f32, 'scatter_add', [idx.size, dtable.cols, 0, b.row0, b.row0 + b.rows], [src.buffer, idx.buffer, b.buffer], [Math.ceil(dtable.cols / 64)]);
  }
}

/** Gradient of a table, formed only for training; tables get no input gradient. */
function tableGrad(tape: Tape, table: Tensor, src: Tensor, idx: Tensor): void {
  const d = tape.zeros(table.shape, 'f32', `${table.name}.grad`);
  scatterAdd(tape, src, idx, d);
  tape.accumulate(table, d);
}

/**
 * out[r] = tokens[ids[r]] + positions[at[r]] (a learned position table; null for
 * models whose positions are rotary). ids and at are i32 tensors.
 */
export function embed(tape: Tape, tokens: Tensor, positions: Tensor | null, ids: Tensor, at: Tensor | null): Tensor {
  const out = tape.zeros([ids.size, tokens.cols], 'f32', 'embed');
  gatherInto(tape.k, tokens, ids, out.buffer, false);
  if (positions && at) gatherInto(tape.k, positions, at, out.buffer, true);
  tape.record(() => {
    const g = tape.gradOf(out);
    if (!g || !tape.paramGrads) return;
    tableGrad(tape, tokens, g, ids);
    if (positions && at) tableGrad(tape, positions, g, at);
  });
  return out;
}

/** out[r] = x[idx[r]]: the hidden states at the positions that carry a loss. */
export function selectRows(tape: Tape, x: Tensor, idx: Tensor): Tensor {
  const out = tape.zeros([idx.size, x.cols], 'f32', 'rows');
  gatherInto(tape.k, x, idx, out.buffer, false);
  tape.record(() => {
    const g = tape.gradOf(out);
    if (!g) return;
    const dx = tape.zeros(x.shape, 'f32', 'rows.dx');
    scatterAdd(tape, g, idx, dx);
    tape.accumulate(x, dx);
  });
  return out;
}
