// z = x W + b. Forward keeps x as the factor X; backward keeps dz as the factor
// Delta and computes dx = Delta W^T. Weight and bias gradients are formed only for
// training (tape.paramGrads).
//
// linear(tape, name, x [n, in], W, b [out] | null, layout = 'in_out') -> z [n, out]
//   layout 'in_out': W is [in, out] (GPT-2's Conv1D);
//   layout 'out_in': W is [out, in] (nn.Linear), read transposed by the matmul, so
//   z = x W^T and dx = Delta W; a 16-bit W stays packed either way. The factors
//   carry the layout so the dense gradient and applyUpdate come out in W's shape.
import { LinearFactors } from '../autograd/factors.ts';
import type { Tape } from '../autograd/tape.ts';
import { weightType, type Tensor, type WeightLayout } from '../tensor.ts';
import { gemm } from '../gpu/gemm.ts';

export type { WeightLayout };

export function linear(tape: Tape, name: string, x: Tensor, W: Tensor, b: Tensor | null, layout: WeightLayout = 'in_out'): Tensor {
  const outIn = layout === 'out_in';
  const [inDim, outDim] = (outIn ? [...W.shape].reverse() : W.shape) as [number, number];
  if (x.cols !== inDim) throw new RangeError(`${name}: input has ${x.cols} columns, weight expects ${inDim}`);
  const n = x.rows;
  const z = tape.zeros([...x.shape.slice(0, -1), outDim], 'f32', `${name}.z`);
  gemm(tape.k, { A: x.buffer, B: W.buffer, typeB: weightType(W), C: z.buffer, M: n, N: outDim, K: inDim, transB: outIn, ...(b ? { bias: b.buffer } : {}) });
  if (!tape.grad) return z;
  const factors = new LinearFactors(tape.k, name, x, null, layout);
  tape.factors.set(name, factors);
  tape.record(() => {
    const delta = tape.gradOf(z);
    if (!delta) return;
    factors.delta = delta;
    const dx = tape.zeros(x.shape, 'f32', `${name}.dx`);
    gemm(tape.k, { A: delta.buffer, B: W.buffer, typeB: weightType(W), C: dx.buffer, M: n, N: inDim, K: outDim, transB: !outIn });
    tape.accumulate(x, dx);
    if (tape.paramGrads) {
      tape.accumulate(W, tape.own(factors.materialize()));
      if (b) tape.accumulate(b, tape.own(factors.biasGradient()));
    }
  });
  return z;
}
