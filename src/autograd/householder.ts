// The Householder update of householderR (src/autograd/linalg.ts) in WebAssembly SIMD
// (householder.wat): most of the gradient ranks' CPU time is this loop, and JavaScript
// runs it one float64 at a time with a bounds check per access. One instance per
// process, its memory grown to the largest matrix seen; the module is a kilobyte, so
// compiling it synchronously is allowed on a browser's main thread too.
import binary from './householder.wat';

interface Exports {
  memory: WebAssembly.Memory;
  reflect(m: number, n: number, j: number, vAt: number, vnorm: number): void;
}

let exports: Exports | undefined;

const PAGE = 65536;

/** Float64 views of the module's memory: A [m * n] column-major at byte 0, then v [m]. */
export function householderMemory(m: number, n: number): { A: Float64Array; v: Float64Array; reflect: (j: number, vnorm: number) => void } {
  exports ??= new WebAssembly.Instance(new WebAssembly.Module(binary)).exports as unknown as Exports;
  const e = exports;
  const bytes = (m * n + m) * 8;
  const have = e.memory.buffer.byteLength;
  if (bytes > have) e.memory.grow(Math.ceil((bytes - have) / PAGE));
  const vAt = m * n * 8;
  return {
    A: new Float64Array(e.memory.buffer, 0, m * n),
    v: new Float64Array(e.memory.buffer, vAt, m),
    reflect: (j, vnorm) => e.reflect(m, n, j, vAt, vnorm),
  };
}
