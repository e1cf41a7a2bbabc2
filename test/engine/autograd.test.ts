// The tape on a random two-layer transformer stack (a tiny GPT-2): factors against
// the float64 reference's dense gradients, exact ranks, the low-rank update, and
// training-mode dense gradients of every parameter. Tolerance 1e-3 relative to
// each gradient's largest entry (gradients pass back through two blocks in f32).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tape } from '../../src/autograd/tape.ts';
import { readF32 } from '../../src/gpu/buffers.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { gpt2 as gpt2Family, gpt2Config, type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { Model } from '../../src/model/model.ts';
import { add } from '../../src/ops/pointwise.ts';
import type { Tensor } from '../../src/tensor.ts';
import { gpt2BackwardRef, randomGpt2ParamsRef } from '../reference/gpt2.ts';
import { assertClose, read } from '../helpers.ts';

/** GPT-2's module names, in role order (attn_in, attn_out, ff_in, ff_out). */
const LINEAR_MODULES = Object.values(gpt2Family.modules);

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 2, nEmbd: 16, nPositions: 16, vocabSize: 97, nInner: 64, eps: 1e-5 };
const IDS = [5, 17, 3, 96, 0, 42, 17];
const params = randomGpt2ParamsRef(CFG, 3, 0.3);

async function model(): Promise<Model> {
  return Model.fromArrays(await getEngine(), gpt2Config(CFG), params);
}

test('materialize() of every linear layer equals the float64 dense gradient (losses at several positions)', async () => {
  const m = await model();
  const targets = [{ position: 2, token: 7 }, { position: 6, token: 50 }];
  const tape = new Tape(m.k, { grad: true });
  try {
    const out = m.forward(tape, [IDS], targets.map((t) => ({ seq: 0, ...t })));
    tape.backward(out.loss);
    const ref = gpt2BackwardRef(CFG, params, IDS, targets);
    for (let l = 0; l < CFG.nLayer; l++) {
      for (const mod of LINEAR_MODULES) {
        const name = `h.${l}.${mod}`;
        const dense = tape.own(tape.factors.get(name)!.materialize());
        assertClose(await readF32(m.k, dense), ref.grads[`${name}.weight`]!, 1e-3, `${name} X^T Delta`);
      }
    }
  } finally {
    tape.dispose();
    m.dispose();
  }
});

test('backward down to a mark: gradients above it equal the full backward, the ops below it do not run', async () => {
  const m = await model();
  const targets = [{ seq: 0, position: 6, token: 50 }];
  const gradsAt = async (stop: boolean) => {
    const tape = new Tape(m.k, { grad: true });
    try {
      // As ROME's value search does: a zero vector added mid-model, its gradient read.
      let mark = 0;
      let shift: Tensor | undefined;
      const out = m.forward(tape, [IDS], targets, (name, act, t) => {
        if (name !== 'blocks.1.hook_resid_pre') return undefined;
        mark = t.mark();
        shift = t.zeros(act.shape);
        return add(t, act, shift);
      });
      tape.backward(out.loss, undefined, stop ? mark : 0);
      const [g] = await read(m.k, tape.gradOf(shift!)!);
      return { g: g!, ranBelow: tape.factors.get('h.0.mlp.c_fc')!.delta !== null };
    } finally {
      tape.dispose();
    }
  };
  try {
    const full = await gradsAt(false);
    const part = await gradsAt(true);
    assertClose(part.g, full.g, 0, 'gradient of the vector added at the mark');
    assert.ok(full.ranBelow, 'the full backward reaches layer 0');
    assert.not.ok(part.ranBelow, 'the stopped backward does not');
  } finally {
    m.dispose();
  }
});

test('rank() is n for generic layers, 1 where only the last position receives gradient, min(n, 2H+1) for the last c_attn', async () => {
  const m = await model();
  const tape = new Tape(m.k, { grad: true });
  try {
    const out = m.forward(tape, [IDS], [{ seq: 0, position: IDS.length - 1, token: 9 }]);
    tape.backward(out.loss);
    const n = IDS.length;
    const last = CFG.nLayer - 1;
    for (let l = 0; l < CFG.nLayer; l++) {
      for (const mod of LINEAR_MODULES) {
        // In the last layer only position n's output matters: delta_i (i < n) of c_attn is
        // [0, a_i^h q_n^h, b_i^h do_n^h] per head h, so its rank is min(n, 2 heads + 1):
        // n for GPT-2's 12+ heads, 5 for this 2-head stack.
        const expected = l !== last ? n : mod === 'attn.c_attn' ? Math.min(n, 2 * CFG.nHead + 1) : 1;
        const { rank } = await tape.factors.get(`h.${l}.${mod}`)!.rank();
        assert.is(rank, expected, `h.${l}.${mod}`);
      }
    }
  } finally {
    tape.dispose();
    m.dispose();
  }
});

test('applyUpdate(W, eta) equals W - eta dW for every linear layer', async () => {
  const m = await model();
  const targets = [{ position: IDS.length - 1, token: 11 }];
  const tape = new Tape(m.k, { grad: true });
  try {
    const out = m.forward(tape, [IDS], targets.map((t) => ({ seq: 0, ...t })));
    tape.backward(out.loss);
    const ref = gpt2BackwardRef(CFG, params, IDS, targets);
    const eta = 0.7;
    for (const [name, f] of tape.factors) {
      const W = m.param(`${name}.weight`);
      f.applyUpdate(W, eta);
      const w = params[`${name}.weight`]!;
      const dW = ref.grads[`${name}.weight`]!;
      // Compare the change, not W itself: W is much larger than eta dW.
      const got = await readF32(m.k, W);
      assertClose(got.map((v, i) => v - w[i]!), dW.map((g) => -eta * g), 1e-3, `${name} update`);
    }
  } finally {
    tape.dispose();
    m.dispose();
  }
});

test('training mode: dense gradients of every parameter equal the float64 reference', async () => {
  const m = await model();
  const targets = [{ position: 3, token: 1 }, { position: 6, token: 2 }];
  const tape = new Tape(m.k, { grad: true, paramGrads: true });
  try {
    const out = m.forward(tape, [IDS], targets.map((t) => ({ seq: 0, ...t })));
    tape.backward(out.loss);
    const ref = gpt2BackwardRef(CFG, params, IDS, targets);
    const names = [...m.params.keys()];
    const grads = await read(m.k, ...names.map((n) => {
      const g = tape.gradOf(m.param(n));
      if (!g) throw new Error(`no gradient for ${n}`);
      return g;
    }));
    names.forEach((n, i) => assertClose(grads[i]!, ref.grads[m.checkpointName(n)]!, 1e-3, `d ${n}`));
  } finally {
    tape.dispose();
    m.dispose();
  }
});

test.run();
