// rmsnorm(tape, x [rows, d], w [d], eps) -> y [rows, d]
//   y = x / sqrt(mean(x^2) + eps) * w, per row, in f32 (HF's LlamaRMSNorm upcasts to
//   float32 too). Backward reaches x, and w on a training tape (tape.paramGrads).
import type { Tape } from '../autograd/tape.ts';
import { f32 } from '../gpu/kernels.ts';
import { RMSNORM } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

export function rmsnorm(tape: Tape, x: Tensor, w: Tensor, eps: number): Tensor {
  const { rows, cols } = x;
  if (w.size !== cols) throw new RangeError(`rmsnorm: ${cols} columns but the weight has ${w.size}`);
  const params = [rows, cols, f32(eps)];
  const y = tape.zeros(x.shape, 'f32', 'rms');
  const rstd = tape.zeros([rows], 'f32', 'rms.rstd');
  const groups: [number] = [Math.ceil(rows / 64)];
  tape.k.dispatch(RMSNORM, 'rmsnorm_forward', params, [x.buffer, w.buffer, y.buffer, rstd.buffer], groups);
  tape.record(() => {
    const dy = tape.gradOf(y);
    if (!dy) return;
    const dx = tape.zeros(x.shape, 'f32', 'rms.dx');
    tape.k.dispatch(RMSNORM, 'rmsnorm_backward_input', params, [x.buffer, w.buffer, rstd.buffer, dy.buffer, dx.buffer], groups);
    tape.accumulate(x, dx);
    if (tape.paramGrads) {
      const dw = tape.zeros([cols], 'f32', 'rms.dw');
      tape.k.dispatch(RMSNORM, 'rmsnorm_backward_weight', params, [x.buffer, null, rstd.buffer, dy.buffer, dw.buffer], [Math.ceil(cols / 64)]);
      tape.accumulate(w, dw);
    }
  });
  return y;
}
