// z = x W + b with W in Conv1D layout [in, out]. Forward keeps x as the factor X;
// backward keeps dz as the factor Delta and computes dx = Delta W^T. Weight and
// bias gradients are formed only for training (tape.paramGrads).
import { LinearFactors } from '../autograd/factors.ts';
import type { Tape } from '../autograd/tape.ts';
import { weightType, type Tensor } from '../tensor.ts';
import { gemm } from '../gpu/gemm.ts';

export function linear(tape: Tape, name: string, x: Tensor, W: Tensor, b: Tensor | null): Tensor {
  const [inDim, outDim] = W.shape as [number, number];
  if (x.cols !== inDim) throw new RangeError(`${name}: input has ${x.cols} columns, weight expects ${inDim}`);
  const n = x.rows;
  const z = tape.zeros([...x.shape.slice(0, -1), outDim], 'f32', `${name}.z`);
  gemm(tape.k, { A: x.buffer, B: W.buffer, typeB: weightType(W), C: z.buffer, M: n, N: outDim, K: inDim, ...(b ? { bias: b.buffer } : {}) });
  if (!tape.grad) return z;
  const factors = new LinearFactors(tape.k, name, x);
  tape.factors.set(name, factors);
  tape.record(() => {
    const delta = tape.gradOf(z);
    if (!delta) return;
    factors.delta = delta;
    const dx = tape.zeros(x.shape, 'f32', `${name}.dx`);
    gemm(tape.k, { A: delta.buffer, B: W.buffer, typeB: weightType(W), C: dx.buffer, M: n, N: inDim, K: outDim, transB: true });
    tape.accumulate(x, dx);
    if (tape.paramGrads) {
      tape.accumulate(W, tape.own(factors.materialize()));
      if (b) tape.accumulate(b, tape.own(factors.biasGradient()));
    }
  });
  return z;
}
