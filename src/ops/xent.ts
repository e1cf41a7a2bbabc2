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

/** Softmax cross-entropy of logits [rows, V] against i32 targets [rows]. */
export function softmaxXent(tape: Tape, logits: Tensor, targets: Tensor): XentResult {
  const rows = logits.rows;
  const V = logits.cols;
  if (targets.size !== rows) throw new RangeError(`softmaxXent: ${targets.size} targets for ${rows} rows`);
  const loss = tape.zeros([rows], 'f32', 'loss');
  const lse = tape.zeros([rows], 'f32', 'lse');
  tape.k.dispatch(SOFTMAX_XENT, 'xent_forward', [rows, V], [logits.buffer, targets.buffer, loss.buffer, lse.buffer], grid1d(rows, 1));
  tape.record(() => {
    const dloss = tape.gradOf(loss);
    if (!dloss) return;
    const dlogits = tape.zeros(logits.shape, 'f32', 'dlogits');
    tape.k.dispatch(SOFTMAX_XENT, 'xent_backward', [rows, V], [logits.buffer, targets.buffer, lse.buffer, dloss.buffer, dlogits.buffer], grid1d(rows * V, 64));
    tape.accumulate(logits, dlogits);
  });
  return { loss, lse };
}
