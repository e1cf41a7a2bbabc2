// Shared by the Node tests and the in-browser kernel tests: no uvu, no Node imports.
import { Tape } from '../src/autograd/tape.ts';
import { readAll, upload } from '../src/gpu/buffers.ts';
import type { Kernels } from '../src/gpu/kernels.ts';
import type { Tensor } from '../src/tensor.ts';
import { randomArrayRef } from './reference/ops.ts';

/** A named check that throws on failure; run by uvu in Node and by the browser harness. */
export interface Case {
  name: string;
  run(k: Kernels): Promise<void>;
}

/** max |actual - expected| / max |expected| (absolute when expected is all zero). */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    if (!Number.isFinite(a)) return Infinity;
    err = Math.max(err, Math.abs(a - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale > 0 ? err / scale : err;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const e = relErr(actual, expected);
  if (!(e <= tol)) throw new Error(`${what}: error ${e.toExponential(2)} relative to max exceeds ${tol.toExponential(0)}`);
}

export function assertEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${what}: got ${a.slice(0, 200)}, expected ${b.slice(0, 200)}`);
}

export const rand = (n: number, seed: number, halfWidth = 1): Float64Array => randomArrayRef(n, seed, halfWidth);

export const gpu = (k: Kernels, shape: number[], data: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32'): Tensor => upload(k, shape, data, dtype);

export async function read(k: Kernels, ...ts: Tensor[]): Promise<(Float32Array | Int32Array)[]> {
  return readAll(k, ts);
}

/** Runs fn on a fresh training tape and frees everything after. */
export async function withTape<T>(k: Kernels, fn: (tape: Tape) => Promise<T>): Promise<T> {
  const tape = new Tape(k, { grad: true, paramGrads: true });
  try {
    return await fn(tape);
  } finally {
    tape.dispose();
  }
}
