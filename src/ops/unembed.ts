// The tied LM head: logits = h . wte^T, with wte stored [V, d] as in the checkpoint.
import type { Tape } from '../autograd/tape.ts';
import type { Tensor } from '../tensor.ts';
import { gemm } from './gemm.ts';

export function unembed(tape: Tape, h: Tensor, wte: Tensor): Tensor {
  const [V, d] = wte.shape as [number, number];
  if (h.cols !== d) throw new RangeError(`unembed: hidden size ${h.cols}, wte has ${d}`);
  const n = h.rows;
  const logits = tape.zeros([n, V], 'f32', 'logits');
  gemm(tape.k, { A: h.buffer, B: wte.buffer, C: logits.buffer, M: n, N: V, K: d, transB: true });
  tape.record(() => {
    const g = tape.gradOf(logits);
    if (!g) return;
    const dh = tape.zeros(h.shape, 'f32', 'unembed.dh');
    gemm(tape.k, { A: g.buffer, B: wte.buffer, C: dh.buffer, M: n, N: d, K: V });
    tape.accumulate(h, dh);
    if (tape.paramGrads) {
      const dwte = tape.zeros(wte.shape, 'f32', 'wte.grad');
      gemm(tape.k, { A: g.buffer, B: h.buffer, C: dwte.buffer, M: V, N: d, K: n, transA: true });
      tape.accumulate(wte, dwte);
    }
  });
  return logits;
}
