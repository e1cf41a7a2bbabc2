// GPT-NeoX's per-head query_key_value rows regrouped to q | k | v: rows 1, 7, 13;
// 1, 3 and 5 heads of 2, 6 and 10 columns, and an arbitrary permutation. The output
// is a copy, so it must match exactly (tolerance 0), forward and backward.
import { headsToParts, permuteColumns } from '../../../src/ops/columns.ts';
import { assertEqual, withTape, gpu, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

/** HF's view(rows, heads, 3·hd).chunk(3): part j of head h starts at column (h·3 + j)·hd. */
function headsToPartsRef(x: Float64Array, rows: number, heads: number, hd: number): Float64Array {
  const width = 3 * heads * hd;
  const y = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < hd; i++) y[r * width + j * heads * hd + h * hd + i] = x[r * width + h * 3 * hd + j * hd + i]!;
      }
    }
  }
  return y;
}

/** The inverse: dy in q | k | v back to each head's [q_h | k_h | v_h]. */
function partsToHeadsRef(dy: Float64Array, rows: number, heads: number, hd: number): Float64Array {
  const width = 3 * heads * hd;
  const dx = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < hd; i++) dx[r * width + h * 3 * hd + j * hd + i] = dy[r * width + j * heads * hd + h * hd + i]!;
      }
    }
  }
  return dx;
}

function headsCase(rows: number, heads: number, hd: number): Case {
  return opCase({
    name: `permuteColumns: per-head q|k|v to q | k | v, rows=${rows} heads=${heads} hd=${hd}`,
    inputs: [{ shape: [rows, 3 * heads * hd] }],
    op: (tape, x) => permuteColumns(tape, x, headsToParts(heads, 3, hd)),
    ref: (x) => headsToPartsRef(x, rows, heads, hd),
    refBackward: (dy) => [partsToHeadsRef(dy, rows, heads, hd)],
    tol: 0,
  });
}

/** An order that is not a per-head one: reversed columns, 7 rows of 5. */
const reversed: Case = opCase({
  name: 'permuteColumns: reversed columns, rows=7 cols=5',
  inputs: [{ shape: [7, 5] }],
  op: (tape, x) => permuteColumns(tape, x, [4, 3, 2, 1, 0]),
  ref: (x) => x.map((_, i) => x[Math.floor(i / 5) * 5 + 4 - (i % 5)]!),
  refBackward: (dy) => [dy.map((_, i) => dy[Math.floor(i / 5) * 5 + 4 - (i % 5)]!)],
  tol: 0,
});

/** A repeated or out-of-range column is refused before any dispatch. */
const refused: Case = {
  name: 'permuteColumns refuses an order that is not a permutation of the columns',
  run: (k) => withTape(k, async (tape) => {
    const x = tape.own(gpu(k, [2, 3], new Float64Array(6)));
    for (const order of [[0, 0, 1], [0, 1, 3], [0, 1]]) {
      let message = '';
      try {
        permuteColumns(tape, x, order);
      } catch (e) {
        message = (e as Error).message;
      }
      assertEqual(message, 'permuteColumns: the order is not a permutation of the 3 columns', `order ${order}`);
    }
  }),
};

export const columnsCases: Case[] = [headsCase(1, 1, 2), headsCase(7, 3, 6), headsCase(13, 5, 10), reversed, refused];
