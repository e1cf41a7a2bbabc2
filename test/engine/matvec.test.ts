// gemm runs a one-row product through matmul.wgsl's `matvec` instead of the 16-row
// tile (kernels/matmul.wgsl). Both sum the same terms in the same order, so the LM
// head and a decoding step give the bytes they gave before: checked here against the
// tile run on the same row (its float64 accuracy is in kernels/matmul.cases.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../../src/gpu/engine.ts';
import { readF32, upload, zeros } from '../../src/gpu/buffers.ts';
import { f32 } from '../../src/gpu/kernels.ts';
import { MATMUL } from '../../src/gpu/sources.ts';

for (const [K, N, transB, bias] of [[768, 2304, false, true], [3072, 769, true, false], [768, 8191, true, false], [8191, 13, false, true]] as const) {
  test(`one row ${K} -> ${N}${transB ? ' (B transposed)' : ''}${bias ? ' + bias' : ''}: matvec gives the tile's bits`, async () => {
    const k = await getEngine();
    const A = upload(k, [1, K], Float32Array.from({ length: K }, (_, i) => Math.sin(i * 1.3) * 0.7));
    const B = upload(k, transB ? [N, K] : [K, N], Float32Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.37) * 0.05));
    const b = upload(k, [N], Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 0.1));
    const out = [];
    for (const entry of ['matvec', 'matmul']) {
      const C = zeros(k, [1, N]);
      k.dispatch(MATMUL.f32, entry, [1, N, K, K, transB ? K : N, N, 0, 0, 0, f32(1), f32(0), bias ? 1 : 0, 64], [A.buffer, B.buffer, C.buffer, b.buffer],
        [Math.ceil(N / 8 / 64), 1], { TRANS_A: 0, TRANS_B: transB ? 1 : 0 });
      out.push(new Uint32Array((await readF32(k, C)).buffer));
      C.dispose();
    }
    assert.equal(Array.from(out[0]!), Array.from(out[1]!));
    [A, B, b].forEach((t) => t.dispose());
  });
}

test.run();
