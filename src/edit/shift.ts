// Forward pass shift (paper §7; SPEC §4): one forward pass, no backward. With x_n the
// input of FF2 (the GELU output, width 4d) at layer L at the last prompt token and
// e = D[:, t] the target's first token's row of the unembedding (the raw embedding
// row when the head is tied, as in GPT-2), FF2's weight gets W += eta * x_n ⊗ e
// (in GPT-2's [4d, d] layout; Llama's down_proj, [d, 4d], gets the transpose); the bias is left alone. Several
// pairs are one batched pass and one sum of rank-1 updates (a single [4d, d] matmul
// over the pairs); a pair whose target already is the top-1 next token adds nothing.
import { Tape } from '../autograd/tape.ts';
import { readI32 } from '../gpu/buffers.ts';
import type { PreparedPair } from '../pass/prepare.ts';
import type { Model, Hook } from '../model/model.ts';
import { gatherRows } from '../ops/embedding.ts';
import { addOuterProducts } from '../gpu/gemm.ts';
import { topk } from '../gpu/vocab.ts';
import type { Tensor } from '../tensor.ts';

export interface ShiftOutcome {
  /** Forward passes run. */
  passes: number;
  /** Per pair, how many shifts it received. */
  shifts: number[];
}

/**
 * Up to `steps` rounds of: forward pass, then shift every layer in `layers` (each by
 * its own x_n from that pass) for the pairs whose target is not yet top-1.
 */
export async function forwardPassShift(model: Model, pairs: readonly PreparedPair[], layers: readonly number[], lr: number, steps: number): Promise<ShiftOutcome> {
  const k = model.k;
  const { nEmbd: d, nInner: f } = model.config;
  const B = pairs.length;
  const T = Math.max(...pairs.map((p) => p.ids.length));
  const shifts = pairs.map(() => 0);
  let passes = 0;
  for (let step = 0; step < steps; step++) {
    const tape = new Tape(k);
    try {
      const xs = new Map<string, Tensor>(layers.map((l) => [`blocks.${l}.mlp.hook_post`, tape.zeros([B, f], 'f32', `shift.x.${l}`)]));
      // Keep only row (seq, n-1) of FF2's input: the last prompt token of each pair.
      const hook: Hook = (name, act) => {
        const x = xs.get(name);
        pairs.forEach((p, seq) => x && k.copy(act.buffer, (seq * T + p.promptLength - 1) * f * 4, x.buffer, seq * f * 4, f * 4));
      };
      const out = model.forward(tape, pairs.map((p) => p.ids), pairs.map((p, seq) => ({ seq, position: p.promptLength - 1 })), hook);
      passes++;
      const best = topk(k, out.logits, 1, 'top');
      tape.own(best.scores);
      const top1 = await readI32(k, tape.own(best.ids));
      const active = pairs.map((p, seq) => top1[seq] !== p.targetIds[0]);
      if (!active.some(Boolean)) break;
      // e rows of pairs already at top-1 stay zero (id -1), so they add nothing to the sum.
      const E = tape.own(gatherRows(k, model.unembedding(), pairs.map((p, seq) => (active[seq] ? p.targetIds[0]! : -1)), 'shift.e'));
      for (const l of layers) {
        const W = model.editable(model.linear(l, 'ff_out').weightName);
        addOuterProducts(k, W.buffer, model.config.weightLayout, xs.get(`blocks.${l}.mlp.hook_post`)!.buffer, E.buffer, B, f, d, lr, 1);
      }
      active.forEach((a, seq) => a && shifts[seq]!++);
    } finally {
      tape.dispose();
    }
  }
  return { passes, shifts };
}
