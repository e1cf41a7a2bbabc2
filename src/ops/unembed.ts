// The tied LM head: logits = h . wte^T, with wte stored [V, d] as in the checkpoint.
// wte (gpt2-small's is 154 MB) and the logits of a long batch may each be split in
// row blocks (src/gpu/buffers.ts); every product then runs once per pair of blocks,
// a vocabulary slice against a slice of rows, addressed by offsets and strides.
import type { Tape } from '../autograd/tape.ts';
import { weightType, type Tensor } from '../tensor.ts';
import { gemm } from './gemm.ts';

export function unembed(tape: Tape, h: Tensor, wte: Tensor): Tensor {
  const [V, d] = wte.shape as [number, number];
  if (h.cols !== d) throw new RangeError(`unembed: hidden size ${h.cols}, wte has ${d}`);
  const n = h.rows;
  const k = tape.k;
  const logits = tape.zeros([n, V], 'f32', 'logits');
  for (const r of logits.blocks) {
    for (const v of wte.blocks) {
      gemm(k, { A: h.buffer, offA: r.row0 * d, B: v.buffer, typeB: weightType(wte), C: r.buffer, offC: v.row0, ldc: V, M: r.rows, N: v.rows, K: d, transB: true });
    }
  }
  tape.record(() => {
    const g = tape.gradOf(logits);
    if (!g) return;
    // dh = g . wte, summed over the vocabulary blocks.
    const dh = tape.zeros(h.shape, 'f32', 'unembed.dh');
    for (const r of g.blocks) {
      wte.blocks.forEach((v, i) => {
        gemm(k, { A: r.buffer, offA: v.row0, lda: V, B: v.buffer, typeB: weightType(wte), C: dh.buffer, offC: r.row0 * d, M: r.rows, N: d, K: v.rows, beta: i > 0 ? 1 : 0 });
      });
    }
    tape.accumulate(h, dh);
    if (tape.paramGrads) {
      // dwte = g^T . h, summed over the row blocks of g.
      const dwte = tape.zeros(wte.shape, 'f32', 'wte.grad');
      for (const v of dwte.blocks) {
        g.blocks.forEach((r, i) => {
          gemm(k, { A: r.buffer, offA: v.row0, lda: V, B: h.buffer, offB: r.row0 * d, C: v.buffer, M: v.rows, N: d, K: r.rows, transA: true, beta: i > 0 ? 1 : 0 });
        });
      }
      tape.accumulate(wte, dwte);
    }
  });
  return logits;
}
