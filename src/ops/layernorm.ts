import type { Tape } from '../autograd/tape.ts';
import { f32 } from '../gpu/kernels.ts';
import { LAYERNORM } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

/** LayerNorm over the last dimension; saves mean and rstd per row for backward. */
export function layernorm(tape: Tape, x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const rows = x.rows;
  const cols = x.cols;
  if (gamma.size !== cols || beta.size !== cols) throw new RangeError(`layernorm: ${cols} columns but gamma/beta have ${gamma.size}/${beta.size}`);
  const params = [rows, cols, f32(eps)];
  const y = tape.zeros(x.shape, 'f32', 'ln');
  const stats = tape.zeros([rows, 2], 'f32', 'ln.stats');
  const groups: [number] = [Math.ceil(rows / 64)];
  tape.k.dispatch(LAYERNORM, 'layernorm_forward', params, [x.buffer, gamma.buffer, beta.buffer, y.buffer, stats.buffer], groups);
  tape.record(() => {
    const dy = tape.gradOf(y);
    if (!dy) return;
    const dx = tape.zeros(x.shape, 'f32', 'ln.dx');
    tape.k.dispatch(LAYERNORM, 'layernorm_backward_input', params, [x.buffer, gamma.buffer, stats.buffer, dy.buffer, dx.buffer], groups);
    tape.accumulate(x, dx);
    if (tape.paramGrads) {
      const dgamma = tape.zeros([cols], 'f32', 'ln.dgamma');
      const dbeta = tape.zeros([cols], 'f32', 'ln.dbeta');
      tape.k.dispatch(LAYERNORM, 'layernorm_backward_params', params, [x.buffer, stats.buffer, dy.buffer, dgamma.buffer, dbeta.buffer], [Math.ceil(cols / 64)]);
      tape.accumulate(gamma, dgamma);
      tape.accumulate(beta, dbeta);
    }
  });
  return y;
}
