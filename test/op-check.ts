// One call checks a kernel's op, in the spirit of tinygrad's helper_test_op: the
// inputs, the engine op (run on a tape, forward and, with a reference backward,
// backward), the float64 reference, and the tolerances. The reference backward is
// itself checked against central finite differences of the reference forward, at a
// few coordinates of each input, so a new kernel's test is one opCase(...) line.
// Shared by the Node tests and the in-browser kernel tests: no uvu, no Node imports.
import type { Tape } from '../src/autograd/tape.ts';
import type { Tensor } from '../src/tensor.ts';
import { assertClose, gpu, rand, read, withTape, type Case } from './helpers.ts';

export interface OpInput {
  shape: readonly number[];
  /** The values; default uniform in ±halfWidth (default 1), seeded by position. */
  data?: ArrayLike<number>;
  halfWidth?: number;
  dtype?: 'f32' | 'i32';
  /** Backpropagate to this input (default: every f32 input). */
  grad?: boolean;
}

export interface OpCheck {
  name: string;
  inputs: readonly OpInput[];
  /** The engine op under test; a forward-only op may ignore the tape's recording. */
  op: (tape: Tape, ...xs: Tensor[]) => Tensor;
  /** Float64 reference of the output, from the inputs' values. */
  ref: (...xs: Float64Array[]) => ArrayLike<number>;
  /** Float64 reference of each graded input's gradient given the output's (omitted: forward only). */
  refBackward?: (dy: Float64Array, ...xs: Float64Array[]) => readonly ArrayLike<number>[];
  /** The output's gradient; default uniform in ±1. */
  dy?: ArrayLike<number>;
  /** Largest error relative to the largest expected entry, of the output and (by default) of every gradient. */
  tol: number;
  /** Per graded input, where its gradient's tolerance differs from `tol`. */
  gradTol?: readonly number[];
}

// Central differences in float64, as test/reference.test.ts: step 1e-5 leaves
// truncation and rounding errors near 1e-10 for O(1) values, so the reference
// gradient must agree to 1e-6 of its largest entry.
const FD_STEP = 1e-5;
const FD_TOL = 1e-6;
/** Coordinates per input: enough to catch a wrong formula, cheap at 50,257 entries. */
const FD_POINTS = 8;

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function opCase(c: OpCheck): Case {
  return {
    name: c.name,
    run: (k) => withTape(k, async (tape) => {
      const values = c.inputs.map((x, i) => Float64Array.from(x.data ?? rand(size(x.shape), i + 1, x.halfWidth)));
      const tensors = c.inputs.map((x, i) => tape.own(gpu(k, [...x.shape], values[i]!, x.dtype ?? 'f32')));
      const y = c.op(tape, ...tensors);
      const want = c.ref(...values);
      const graded = c.refBackward ? c.inputs.flatMap((x, i) => ((x.grad ?? (x.dtype ?? 'f32') === 'f32') ? [i] : [])) : [];
      const dy = Float64Array.from(c.dy ?? rand(want.length, 1000));
      if (c.refBackward) tape.backward(y, tape.own(gpu(k, [...y.shape], dy)));
      const grads = graded.map((i) => {
        const g = tape.gradOf(tensors[i]!);
        if (!g) throw new Error(`${c.name}: no gradient reached input ${i}`);
        return g;
      });
      const [got, ...gotGrads] = await read(k, y, ...grads);
      assertClose(got!, want, c.tol, `${c.name}: output`);
      if (!c.refBackward) return;
      const wantGrads = c.refBackward(dy, ...values);
      graded.forEach((input, j) => {
        assertClose(gotGrads[j]!, wantGrads[j]!, c.gradTol?.[j] ?? c.tol, `${c.name}: gradient of input ${input}`);
        checkFiniteDifferences(c, values, dy, input, wantGrads[j]!);
      });
    }),
  };
}

/** The reference gradient of input `input` against central differences of Σ ref(x) ⊙ dy. */
function checkFiniteDifferences(c: OpCheck, values: Float64Array[], dy: Float64Array, input: number, grad: ArrayLike<number>): void {
  const x = values[input]!;
  const loss = () => {
    const y = c.ref(...values);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * dy[i]!;
    return s;
  };
  let scale = 0;
  for (let i = 0; i < grad.length; i++) scale = Math.max(scale, Math.abs(grad[i]!));
  const points = Math.min(FD_POINTS, x.length);
  for (let p = 0; p < points; p++) {
    const i = points === 1 ? 0 : Math.round((p * (x.length - 1)) / (points - 1));
    const saved = x[i]!;
    x[i] = saved + FD_STEP;
    const up = loss();
    x[i] = saved - FD_STEP;
    const down = loss();
    x[i] = saved;
    const err = Math.abs((up - down) / (2 * FD_STEP) - grad[i]!);
    if (!(err <= FD_TOL * scale + 1e-12)) throw new Error(`${c.name}: the reference gradient of input ${input} at ${i} is off its finite difference by ${err.toExponential(2)} (largest entry ${scale.toExponential(2)})`);
  }
}
