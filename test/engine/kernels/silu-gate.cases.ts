// The SiLU-gated MLP activation on fused [gate | up] rows: rows 1, 7, 13, widths f = 6,
// 10, 18, one wide row, and large |gate| where sigmoid saturates.
import { siluGate } from '../../../src/ops/pointwise.ts';
import { siluGateBackwardRef, siluGateRef } from '../../reference/llama-ops.ts';
import { rand, type Case } from '../../helpers.ts';
import { opCase } from '../../op-check.ts';

const siluGateCase = (rows: number, f: number, halfWidth = 4): Case => opCase({
  name: `silu gate forward+backward ${rows}x${f} (|gate| ≤ ${halfWidth})`,
  inputs: [{ shape: [rows, 2 * f], data: rand(rows * 2 * f, rows * 11 + f, halfWidth) }],
  dy: rand(rows * f, rows + f),
  op: (tape, gu) => siluGate(tape, gu),
  ref: (gu) => siluGateRef(gu, rows, f),
  refBackward: (dh, gu) => [siluGateBackwardRef(gu, dh, rows, f)],
  tol: 1e-5,
});

export const siluGateCases: Case[] = [siluGateCase(1, 6), siluGateCase(7, 10), siluGateCase(13, 18), siluGateCase(3, 2000), siluGateCase(7, 10, 40)];
