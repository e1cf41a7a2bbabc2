// z = x W + b. Forward keeps x as the factor X; backward keeps dz as the factor
// Delta and computes dx = Delta W^T. Weight and bias gradients are formed only for
// training (tape.paramGrads).
//
// linear(tape, name, x [n, in], W, b [out] | null, layout = 'in_out') -> z [n, out]
//   layout 'in_out': W is [in, out] (GPT-2's Conv1D);
//   layout 'out_in': W is [out, in] (nn.Linear), read transposed by the matmul, so
//   z = x W^T and dx = Delta W; a 16-bit W stays packed either way. The factors
//   carry the layout so the dense gradient and applyUpdate come out in W's shape.
// A W over one storage binding (Llama2-7B's gate|up, 180 MB in BF16) comes in row
// blocks (src/gpu/buffers.ts): one product per block, each a slice of W's rows, so a
// slice of z's columns ('out_in') or a partial sum over a slice of x's ('in_out').
import { LinearFactors } from '../autograd/factors.ts';
import type { Tape } from '../autograd/tape.ts';
import { SplitTensorError, weightType, type Tensor, type WeightLayout } from '../tensor.ts';
import { gemm } from '../gpu/gemm.ts';

export type { WeightLayout };

export function linear(tape: Tape, name: string, x: Tensor, W: Tensor, b: Tensor | null, layout: WeightLayout = 'in_out'): Tensor {
  const outIn = layout === 'out_in';
  const [inDim, outDim] = (outIn ? [...W.shape].reverse() : W.shape) as [number, number];
  if (x.cols !== inDim) throw new RangeError(`${name}: input has ${x.cols} columns, weight expects ${inDim}`);
  // A bias slice per block of output columns would need a bias offset the matmul lacks.
  if (outIn && W.split && b) throw new SplitTensorError(`${name}: its weight [${W.shape.join(', ')}] is split over ${W.blocks.length} storage bindings, which this engine supports only without a bias`);
  const n = x.rows;
  const k = tape.k;
  const typeB = weightType(W);
  const z = tape.zeros([...x.shape.slice(0, -1), outDim], 'f32', `${name}.z`);
  W.blocks.forEach((w, i) => {
    if (outIn) gemm(k, { A: x.buffer, B: w.buffer, typeB, C: z.buffer, offC: w.row0, ldc: outDim, M: n, N: w.rows, K: inDim, transB: true, ...(b ? { bias: b.buffer } : {}) });
    else gemm(k, { A: x.buffer, offA: w.row0, lda: inDim, B: w.buffer, typeB, C: z.buffer, M: n, N: outDim, K: w.rows, beta: i > 0 ? 1 : 0, ...(b && i === 0 ? { bias: b.buffer } : {}) });
  });
  if (!tape.grad) return z;
  const factors = new LinearFactors(k, name, x, null, layout);
  tape.factors.set(name, factors);
  tape.record(() => {
    const delta = tape.gradOf(z);
    if (!delta) return;
    factors.delta = delta;
    const dx = tape.zeros(x.shape, 'f32', `${name}.dx`);
    W.blocks.forEach((w, i) => {
      if (outIn) gemm(k, { A: delta.buffer, offA: w.row0, lda: outDim, B: w.buffer, typeB, C: dx.buffer, M: n, N: inDim, K: w.rows, beta: i > 0 ? 1 : 0 });
      else gemm(k, { A: delta.buffer, B: w.buffer, typeB, C: dx.buffer, offC: w.row0, ldc: inDim, M: n, N: w.rows, K: outDim, transB: true });
    });
    tape.accumulate(x, dx);
    if (tape.paramGrads) {
      tape.accumulate(W, tape.own(factors.materialize()));
      if (b) tape.accumulate(b, tape.own(factors.biasGradient()));
    }
  });
  return z;
}
