// The Llama-family kernels against their float64 references (test/reference/llama-ops.ts),
// forward and backward (the references' gradients checked by finite differences in
// opCase), on odd shapes. Tolerances, relative to the largest expected entry:
//   1e-5 pointwise (one f32 exp/sigmoid, or one rotation with f32 cos/sin);
//   1e-4 row reductions (RMSNorm's mean square, attention's dot products, matmuls)
//   accumulated in f32 over at most a few hundred terms.
import { test } from 'uvu';
import { getEngine } from '../../src/gpu/engine.ts';
import { llamaKernelCases } from './kernels/llama.cases.ts';

for (const c of llamaKernelCases) test(c.name, async () => c.run(await getEngine()));
test.run();
