// The MLP activations and the residual add: one element per invocation.
//   activate(tape, x, activation) -> y, same shape
//   siluGate(tape, gu [rows, 2f]) -> h [rows, f]: h = silu(gate) * up, with each row of
//     gu = [gate | up] (gate_proj and up_proj fused in one linear); backward reaches gu.
import type { Tape } from '../autograd/tape.ts';
import { grid1d } from '../gpu/kernels.ts';
import { ELEMENTWISE, GELU, SILU_GATE } from '../gpu/sources.ts';
import type { Tensor } from '../tensor.ts';

/** gelu_new: GPT-2's tanh approximation of GELU; gelu: the exact (erf) GELU; relu. */
export type Activation = 'gelu_new' | 'gelu' | 'relu';

/** Entry-point prefix in kernels/gelu.wgsl of each activation. */
const ENTRY: Record<Activation, string> = { gelu_new: 'gelu', gelu: 'gelu_erf', relu: 'relu' };

/** y = activation(x) elementwise. */
export function activate(tape: Tape, x: Tensor, activation: Activation): Tensor {
  const entry = ENTRY[activation];
  const y = tape.zeros(x.shape, 'f32', entry);
  tape.k.dispatch(GELU, `${entry}_forward`, [x.size], [x.buffer, y.buffer], grid1d(x.size, 64));
  tape.record(() => {
    const dy = tape.gradOf(y);
    if (!dy) return;
    const dx = tape.zeros(x.shape, 'f32', `${entry}.dx`);
    tape.k.dispatch(GELU, `${entry}_backward`, [x.size], [x.buffer, dy.buffer, dx.buffer], grid1d(x.size, 64));
    tape.accumulate(x, dx);
  });
  return y;
}

/** The gated MLP of Llama, Mistral and Qwen2 (SwiGLU): silu(gate) * up. */
export function siluGate(tape: Tape, gu: Tensor): Tensor {
  if (gu.cols % 2 !== 0) throw new RangeError(`siluGate: ${gu.cols} columns cannot be split into gate and up halves`);
  const f = gu.cols / 2;
  const params = [gu.rows, f];
  const groups = grid1d(gu.rows * f, 64);
  const h = tape.zeros([...gu.shape.slice(0, -1), f], 'f32', 'silu_gate');
  tape.k.dispatch(SILU_GATE, 'silu_gate_forward', params, [gu.buffer, h.buffer], groups);
  tape.record(() => {
    const dh = tape.gradOf(h);
    if (!dh) return;
    const dgu = tape.zeros(gu.shape, 'f32', 'silu_gate.dgu');
    tape.k.dispatch(SILU_GATE, 'silu_gate_backward', params, [gu.buffer, dh.buffer, dgu.buffer], groups);
    tape.accumulate(gu, dgu);
  });
  return h;
}

/** GPT-2's gelu_new. */
export const gelu = (tape: Tape, x: Tensor): Tensor => activate(tape, x, 'gelu_new');

/** out = a + b: the residual stream. */
export function add(tape: Tape, a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new RangeError(`add: sizes ${a.size} and ${b.size} differ`);
  const out = tape.zeros(a.shape, 'f32', 'add');
  tape.k.dispatch(ELEMENTWISE, 'add', [a.size, 0], [a.buffer, b.buffer, out.buffer], grid1d(a.size, 64));
  tape.record(() => {
    const g = tape.gradOf(out);
    if (!g) return;
    // Each input gets its own buffer: a gradient may later be accumulated into in place.
    tape.accumulate(a, g);
    tape.accumulate(b, clone(tape, g));
  });
  return out;
}

export function clone(tape: Tape, t: Tensor): Tensor {
  const c = tape.zeros(t.shape, t.dtype, t.name);
  tape.k.copy(t.buffer, 0, c.buffer, 0, t.size * 4);
  return c;
}
