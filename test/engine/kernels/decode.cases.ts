// attention_decode against the float64 reference: a cache of B sequences of up to T
// rows, each sequence's new token at its own position last[b]; the result must be the
// reference attention's output row at that position. Tolerance 1e-4 relative to the
// largest entry, as for attention_forward (dot products of length hd in f32).
import { attentionDecode } from '../../../src/ops/attention.ts';
import { attentionRef } from '../../reference/ops.ts';
import { rand, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

function decodeCase(lasts: number[], T: number, nHead: number, hd: number): Case {
  const [d, B] = [nHead * hd, lasts.length];
  return opCase({
    name: `attention_decode B=${B} last=[${lasts}] T=${T} heads=${nHead} hd=${hd}`,
    inputs: [{ shape: [B * T, 3 * d], data: rand(B * T * 3 * d, 17 + T * 31 + hd, 1.5) }, { shape: [B], data: lasts, dtype: 'i32' }],
    op: (tape, cache, last) => attentionDecode(tape, cache, last, B, T, nHead),
    ref: (qkv) => {
      const expected = new Float64Array(B * d);
      lasts.forEach((n, b) => {
        // The reference over the sequence's first n + 1 rows; its last row is the new token's output.
        const rows = qkv.subarray(b * T * 3 * d, (b * T + n + 1) * 3 * d);
        expected.set(attentionRef(rows, n + 1, nHead, hd).subarray(n * d, (n + 1) * d), b * d);
      });
      return expected;
    },
    tol: 1e-4,
  });
}

export const decodeCases: Case[] = [
  decodeCase([0], 1, 1, 1),
  decodeCase([6], 7, 3, 5),
  decodeCase([12, 0, 5], 13, 2, 7),
  decodeCase([49, 13], 50, 4, 64),
  decodeCase([3], 9, 1, 128),
];
