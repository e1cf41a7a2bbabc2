// RMSNorm: rows 1, 7, 13 and widths 6, 10, 18 (and one of Llama's 4096-wide rows'
// shape class, 200), non-zero means so that subtracting one would show.
import { rmsnorm } from '../../../src/ops/norm.ts';
import { rmsnormBackwardRef, rmsnormRef } from '../../reference/llama-ops.ts';
import { rand, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

const EPS = 1e-6; // Llama 2's rms_norm_eps

const rmsnormCase = (rows: number, cols: number): Case => opCase({
  name: `rmsnorm forward+backward ${rows}x${cols}`,
  inputs: [
    { shape: [rows, cols], data: rand(rows * cols, rows * 7 + cols, 2).map((v, i) => v + (i % 3) - 0.5) },
    { shape: [cols], data: rand(cols, cols).map((v) => 1 + 0.5 * v) },
  ],
  dy: rand(rows * cols, rows + cols + 3),
  op: (tape, x, w) => rmsnorm(tape, x, w, EPS),
  ref: (x, w) => rmsnormRef(x, rows, cols, w, EPS),
  refBackward: (dy, x, w) => {
    const r = rmsnormBackwardRef(x, w, dy, rows, cols, EPS);
    return [r.dx, r.dw];
  },
  tol: 1e-4,
});

/** eps matters where the mean square is small: a row of zeros gives y = 0, dx = dy·w/√eps. */
const rmsnormTinyCase: Case = opCase({
  name: 'rmsnorm: eps inside the square root (tiny rows) 7x10',
  inputs: [{ shape: [7, 10], data: rand(70, 5, 1e-3) }, { shape: [10], data: rand(10, 6) }],
  dy: rand(70, 7),
  op: (tape, x, w) => rmsnorm(tape, x, w, 1e-5),
  ref: (x, w) => rmsnormRef(x, 7, 10, w, 1e-5),
  refBackward: (dy, x, w) => {
    const r = rmsnormBackwardRef(x, w, dy, 7, 10, 1e-5);
    return [r.dx, r.dw];
  },
  tol: 1e-4,
});

export const rmsnormCases: Case[] = [rmsnormCase(1, 6), rmsnormCase(7, 10), rmsnormCase(13, 18), rmsnormCase(5, 200), rmsnormTinyCase];
