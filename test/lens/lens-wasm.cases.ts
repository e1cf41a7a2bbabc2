// The WebAssembly lens with its worker (src/lens/lens-wasm.ts, lens-thread.ts) against
// the lens kernel, as one case that runs in Node (test/lens/lens.test.ts) and in
// Chromium (test/browser/entry.ts), where the worker is a Blob Worker made from
// lens-core.ts's function text. Enough work (64 x 768 x 20,480 multiply-adds) for the
// worker to take half the rows; ids, scores and ranks must be the kernel's bits.
import { readF32, upload } from '../../src/gpu/buffers.ts';
import { decodeLens, lens } from '../../src/gpu/lens.ts';
import { lensWasm } from '../../src/lens/lens-wasm.ts';
import { LensThread } from '../../src/lens/lens-thread.ts';
import { assertEqual, type Case } from '../helpers.ts';
import { randomArrayRef } from '../reference/ops.ts';

export const lensWasmCases: Case[] = [
  {
    name: 'lens in WebAssembly, rows shared with a worker: the kernel\'s ids, scores and ranks (64 rows x 20,480 ids, d 768)',
    async run(k) {
      const worker = LensThread.start();
      if (!worker) throw new Error('no worker could be made here: the lens would run on one thread');
      worker.end();
      const [R, d, V, count] = [64, 768, 20_480, 10];
      const watched = [0, 777, V - 1];
      const skip = [1, 5_000];
      const h = upload(k, [R, d], randomArrayRef(R * d, 31));
      const E = upload(k, [V, d], randomArrayRef(V * d, 32));
      try {
        const cpu = decodeLens(await lensWasm(k, h, E, count, watched, skip), R, count, watched.length);
        const out = lens(k, h, E, count, watched, skip, 'buffer');
        const gpu = decodeLens(await readF32(k, out), R, count, watched.length);
        out.dispose();
        assertEqual(cpu.map(({ lse: _, ...rest }) => rest), gpu.map(({ lse: _, ...rest }) => rest), 'ids, scores and ranks');
        // The log-sum-exp is summed in another order with another exp (lens-wasm.ts).
        cpu.forEach((row, r) => {
          if (!(Math.abs(row.lse - gpu[r]!.lse) <= 1e-5 * Math.abs(gpu[r]!.lse))) throw new Error(`row ${r}: lse ${row.lse} against the kernel's ${gpu[r]!.lse}`);
        });
      } finally {
        h.dispose();
        E.dispose();
      }
    },
  },
];
