// The in-page half of test/browser.test.ts: runs the matmul, attention, Llama-family and WebAssembly-lens cases on
// the browser's own WebGPU (navigator.gpu, not Dawn-in-Node) and leaves the outcome
// on window, where the driver polls it.
import { getEngine } from '../../src/gpu/engine.ts';
import { llamaKernelCases } from '../engine/kernels/llama.cases.ts';
import { attentionCases } from '../engine/kernels/layers.cases.ts';
import { matmulCases } from '../engine/kernels/matmul.cases.ts';
import { lensWasmCases } from '../lens/lens-wasm.cases.ts';

export interface KernelRun {
  adapter?: string;
  /** Why no case could run at all (no adapter, a kernel that does not compile). */
  fatal?: string;
  results: { name: string; error?: string }[];
  /** Set last, so the driver knows `results` is complete. */
  done: boolean;
}

declare global {
  interface Window { kernelRun: KernelRun }
}

const message = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

const run: KernelRun = { results: [], done: false };
window.kernelRun = run;
try {
  const k = await getEngine();
  run.adapter = k.gpu.adapterName;
  for (const c of [...matmulCases, ...attentionCases, ...llamaKernelCases, ...lensWasmCases]) {
    try {
      await c.run(k);
      run.results.push({ name: c.name });
    } catch (e) {
      run.results.push({ name: c.name, error: message(e) });
    }
  }
} catch (e) {
  run.fatal = message(e);
} finally {
  run.done = true;
}
