// The LM head: logits = h . E^T, with the unembedding E stored [V, d] (the token
// embedding when the head is tied). E (gpt2-small's is 154 MB) and the logits of a long batch may each be split in
// row blocks (src/gpu/buffers.ts); every product then runs once per pair of blocks,
// a vocabulary slice against a slice of rows, addressed by offsets and strides.
import type { Tape } from '../autograd/tape.ts';
import { weightType, type Tensor } from '../tensor.ts';
import { gemm } from '../gpu/gemm.ts';

export function unembed(tape: Tape, h: Tensor, E: Tensor): Tensor {
  const [V, d] = E.shape as [number, number];
  if (h.cols !== d) throw new RangeError(`unembed: hidden size ${h.cols}, the unembedding has ${d}`);
  const n = h.rows;
  const k = tape.k;
  const logits = tape.zeros([n, V], 'f32', 'logits');
  for (const r of logits.blocks) {
    for (const v of E.blocks) {
      gemm(k, { A: h.buffer, offA: r.row0 * d, B: v.buffer, typeB: weightType(E), C: r.buffer, offC: v.row0, ldc: V, M: r.rows, N: v.rows, K: d, transB: true });
    }
  }
  tape.record(() => {
    const g = tape.gradOf(logits);
    if (!g) return;
    // dh = g . E, summed over the vocabulary blocks.
    const dh = tape.zeros(h.shape, 'f32', 'unembed.dh');
    for (const r of g.blocks) {
      E.blocks.forEach((v, i) => {
        gemm(k, { A: r.buffer, offA: v.row0, lda: V, B: v.buffer, typeB: weightType(E), C: dh.buffer, offC: r.row0 * d, M: r.rows, N: d, K: v.rows, beta: i > 0 ? 1 : 0 });
      });
    }
    tape.accumulate(h, dh);
    if (tape.paramGrads) {
      // dE = g^T . h, summed over the row blocks of g.
      const dE = tape.zeros(E.shape, 'f32', 'unembedding.grad');
      for (const v of dE.blocks) {
        g.blocks.forEach((r, i) => {
          gemm(k, { A: r.buffer, offA: v.row0, lda: V, B: h.buffer, offB: r.row0 * d, C: v.buffer, M: v.rows, N: d, K: r.rows, transA: true, beta: i > 0 ? 1 : 0 });
        });
      }
      tape.accumulate(E, dE);
    }
  });
  return logits;
}
