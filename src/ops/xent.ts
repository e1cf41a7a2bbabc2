import type { Tape } from '../autograd/tape.ts';
import { grid1d } from '../gpu/kernels.ts';
import { SOFTMAX_XENT } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

export interface XentResult {
  /** NLL per row, 0 for ignored rows (target -1). */
  loss: Tensor;
  /** log-sum-exp per row: probabilities are exp(logit - lse). */
  lse: Tensor;
}

/** Softmax cross-entropy of logits [rows, V] against i32 targets [rows]; split logits go block by block. */
export function softmaxXent(tape: Tape, logits: Tensor, targets: Tensor): XentResult {
  const rows = logits.rows;
  const V = logits.cols;
  if (targets.size !== rows) throw new RangeError(`softmaxXent: ${targets.size} targets for ${rows} rows`);
  const loss = tape.zeros([rows], 'f32', 'loss');
  const lse = tape.zeros([rows], 'f32', 'lse');
  for (const b of logits.blocks) {
    tape.k.dispatch(SOFTMAX_XENT, 'xent_forward', [b.rows, V, b.row0], [b.buffer, targets.buffer, loss.buffer, lse.buffer], grid1d(b.rows, 1));
  }
  tape.record(() => {
    const dloss = tape.gradOf(loss);
    if (!dloss) return;
    const dlogits = tape.zeros(logits.shape, 'f32', 'dlogits');
    dlogits.blocks.forEach((d, i) => {
      const b = logits.blocks[i]!;
      tape.k.dispatch(SOFTMAX_XENT, 'xent_backward', [b.rows, V, b.row0], [b.buffer, targets.buffer, lse.buffer, dloss.buffer, d.buffer], grid1d(b.rows * V, 64));
    });
    tape.accumulate(logits, dlogits);
  });
  return { loss, lse };
}
