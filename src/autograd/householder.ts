// The Householder update of householderR (src/autograd/linalg.ts) in WebAssembly SIMD
// (householder.wat): most of the gradient ranks' CPU time is this loop, and JavaScript
// runs it one float64 at a time with a bounds check per access. One instance per
// process, its memory grown to the largest matrix seen; the module is a kilobyte, so
// compiling it synchronously is allowed on a browser's main thread too.
import binary from './householder.wat';

interface Exports {
  memory: WebAssembly.Memory;
  reflect(m: number, n: number, j: number, vAt: number, vnorm: number): void;
  left(bAt: number, rows: number, cols: number, k: number, vAt: number, wAt: number, vnorm: number): void;
  right(bAt: number, rows: number, cols: number, k: number, wAt: number, unorm: number): void;
  rows(aAt: number, m: number, dim: number, scaleAt: number, colMaxAt: number): void;
  cols(aAt: number, m: number, dim: number, colMaxAt: number, scaleAt: number, track: number): void;
}

let exports: Exports | undefined;

const PAGE = 65536;

/** The instance, its memory at least `bytes` long (views made before a growth are detached). */
function instance(bytes: number): Exports {
  exports ??= new WebAssembly.Instance(new WebAssembly.Module(binary)).exports as unknown as Exports;
  const have = exports.memory.buffer.byteLength;
  if (bytes > have) exports.memory.grow(Math.ceil((bytes - have) / PAGE));
  return exports;
}

/** Float64 views of the module's memory: A [m * n] column-major at byte 0, then v [m]. */
export function householderMemory(m: number, n: number): { A: Float64Array; v: Float64Array; reflect: (j: number, vnorm: number) => void } {
  const e = instance((m * n + m) * 8);
  const vAt = m * n * 8;
  return {
    A: new Float64Array(e.memory.buffer, 0, m * n),
    v: new Float64Array(e.memory.buffer, vAt, m),
    reflect: (j, vnorm) => e.reflect(m, n, j, vAt, vnorm),
  };
}

/** Float64 views of the memory as a row-major [rows, cols] matrix at byte 0, then a vector by row, then one by column. */
function matrixMemory(rows: number, cols: number) {
  const e = instance((rows * cols + rows + cols) * 8);
  const rowAt = rows * cols * 8;
  const colAt = rowAt + rows * 8;
  return { e, rowAt, colAt, matrix: new Float64Array(e.memory.buffer, 0, rows * cols), byRow: new Float64Array(e.memory.buffer, rowAt, rows), byCol: new Float64Array(e.memory.buffer, colAt, cols) };
}

/**
 * Float64 views for bidiagonal (src/autograd/linalg.ts): B [rows * cols] row-major at
 * byte 0, then v [rows] and w [cols]; left(k, vnorm) applies the reflection from the
 * left on columns k + 1 .., right(k, unorm) the one from the right on rows k + 1 .. (householder.wat).
 */
export function bidiagonalMemory(rows: number, cols: number): { b: Float64Array; v: Float64Array; w: Float64Array; left: (k: number, vnorm: number) => void; right: (k: number, unorm: number) => void } {
  const { e, rowAt, colAt, matrix, byRow, byCol } = matrixMemory(rows, cols);
  return {
    b: matrix,
    v: byRow,
    w: byCol,
    left: (k, vnorm) => e.left(0, rows, cols, k, rowAt, colAt, vnorm),
    right: (k, unorm) => e.right(0, rows, cols, k, colAt, unorm),
  };
}

/**
 * Float64 views for balancedRows (src/autograd/linalg.ts): a [m * dim] row-major at
 * byte 0, then scale [m] and colMax [dim]; rows() and cols(track) are householder.wat's
 * passes over them.
 */
export function balanceMemory(m: number, dim: number): { a: Float64Array; scale: Float64Array; colMax: Float64Array; rows: () => void; cols: (track: boolean) => void } {
  const { e, rowAt, colAt, matrix, byRow, byCol } = matrixMemory(m, dim);
  return {
    a: matrix,
    scale: byRow,
    colMax: byCol,
    rows: () => e.rows(0, m, dim, rowAt, colAt),
    cols: (track) => e.cols(0, m, dim, colAt, rowAt, track ? 1 : 0),
  };
}
