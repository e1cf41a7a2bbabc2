// Hook points: every TransformerLens-named activation is seen in order, and a hook
// that returns a tensor replaces the activation, forward and backward, checked
// against the float64 reference on equivalently changed weights. Tolerances as in
// test/gpt2: logits 1e-4, factors 1e-3 (relative to the largest entry).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tape } from '../../src/autograd/tape.ts';
import { type Gpt2Sizes } from '../../src/model/families/gpt2.ts';
import { hookPoints, type Hook } from '../../src/model/model.ts';
import type { Tensor } from '../../src/tensor.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { add } from '../../src/ops/pointwise.ts';
import { openRandomModel } from '../checkpoint.ts';
import { assertClose, read } from '../helpers.ts';
import { gpt2BackwardRef, gpt2ForwardRef, type Gpt2ParamsRef } from '../reference/gpt2.ts';

const CFG: Gpt2Sizes = { nLayer: 2, nHead: 3, nEmbd: 21, nPositions: 16, vocabSize: 301, nInner: 37, eps: 1e-5 };
const IDS = [5, 77, 300, 12, 9, 150, 42];
let loaded: LoadedModel;
let params: Gpt2ParamsRef;
let close: () => void;

test.before(async () => {
  ({ loaded, params, close } = await openRandomModel(CFG, 8));
});
test.after(() => close());

const last = { seq: 0, position: IDS.length - 1, token: 3 };

test('every hook point is seen once, in order, with its activation shape', async () => {
  const { model } = loaded;
  const seen: [string, number][] = [];
  const tape = new Tape(model.k);
  try {
    model.forward(tape, [IDS, IDS.slice(0, 4)], [last], (name, act) => void seen.push([name, act.cols]));
  } finally {
    tape.dispose();
  }
  assert.equal(seen.map(([n]) => n), hookPoints(CFG.nLayer));
  const width = (n: string) => (n.endsWith('mlp.hook_pre') || n.endsWith('mlp.hook_post') ? CFG.nInner : CFG.nEmbd);
  for (const [name, cols] of seen) assert.is(cols, width(name), name);
});

test('runBlocks stops after the asked layer and hooks see the same activations as the full forward', async () => {
  const { model } = loaded;
  // Activations are read after the run: the tape keeps them alive until disposed.
  const capture = async (run: (tape: Tape, hook: Hook) => void) => {
    const seen = new Map<string, ArrayLike<number>>();
    const tape = new Tape(model.k);
    try {
      const acts: [string, Tensor][] = [];
      run(tape, (name, act) => void acts.push([name, act]));
      for (const [name, act] of acts) seen.set(name, (await read(model.k, act))[0]!);
    } finally {
      tape.dispose();
    }
    return seen;
  };
  const full = await capture((tape, hook) => model.forward(tape, [IDS, IDS.slice(0, 4)], [last], hook));
  const part = await capture((tape, hook) => void model.runBlocks(tape, [IDS, IDS.slice(0, 4)], 0, hook));
  assert.equal([...part.keys()], hookPoints(CFG.nLayer).filter((n) => n.startsWith('blocks.0.')));
  for (const [name, data] of part) assertClose(data, full.get(name)!, 0, name);
  const tape = new Tape(model.k);
  try {
    assert.throws(() => model.runBlocks(tape, [IDS], 2, () => undefined), /layer 2 does not exist; the model has layers 0-1/);
  } finally {
    tape.dispose();
  }
});

test('replacing each block\'s MLP output with zeros equals a model whose FF2 is zero', async () => {
  const { model } = loaded;
  const tape = new Tape(model.k);
  try {
    const out = model.forward(tape, [IDS], [last], (name, act, t) => (name.endsWith('hook_mlp_out') ? t.zeros(act.shape) : undefined));
    const zeroed = { ...params };
    for (let l = 0; l < CFG.nLayer; l++) for (const p of ['weight', 'bias']) zeroed[`h.${l}.mlp.c_proj.${p}`] = new Float64Array(params[`h.${l}.mlp.c_proj.${p}`]!.length);
    const ref = gpt2ForwardRef(CFG, zeroed, IDS);
    const [logits] = await read(model.k, out.logits);
    assertClose(logits!, ref.logits.slice((IDS.length - 1) * CFG.vocabSize), 1e-4, 'logits');
  } finally {
    tape.dispose();
  }
});

test('a replacement made by ops on the tape carries the gradient: doubling the embedding', async () => {
  const { model } = loaded;
  const tape = new Tape(model.k, { grad: true });
  try {
    const out = model.forward(tape, [IDS], [last], (name, act, t) => (name === 'blocks.0.hook_resid_pre' ? add(t, act, act) : undefined));
    tape.backward(out.loss);
    const doubled = { ...params, 'wte.weight': params['wte.weight']!.map((v) => 2 * v), 'wpe.weight': params['wpe.weight']!.map((v) => 2 * v) };
    const ref = gpt2BackwardRef(CFG, doubled, IDS, [{ position: IDS.length - 1, token: 3 }]);
    const [logits] = await read(model.k, out.logits);
    // The tied head is not doubled: compare with the reference's hidden state projected on the original wte.
    const V = CFG.vocabSize;
    const hidden = gpt2ForwardRef(CFG, doubled, IDS).hidden.subarray((IDS.length - 1) * CFG.nEmbd);
    const expected = Float64Array.from({ length: V }, (_, v) => hidden.reduce((s, h, c) => s + h * params['wte.weight']![v * CFG.nEmbd + c]!, 0));
    assertClose(logits!, expected, 1e-4, 'logits');
    const f = tape.factors.get('h.0.mlp.c_fc')!;
    const [x] = await read(model.k, f.X);
    assertClose(x!, ref.factors['h.0.mlp.c_fc']!.x, 1e-3, 'h.0.mlp.c_fc X after the replacement');
    const [delta] = await read(model.k, tape.factors.get('h.1.mlp.c_proj')!.delta!);
    assert.ok(delta!.some((v) => v !== 0), 'gradient reaches the layers after the hook');
  } finally {
    tape.dispose();
  }
});

test('a replacement of the wrong shape is refused', () => {
  const { model } = loaded;
  const tape = new Tape(model.k);
  try {
    assert.throws(() => model.forward(tape, [IDS], [last], (name, act, t) => (name === 'blocks.1.mlp.hook_post' ? t.zeros([act.rows, 3]) : undefined)), /hook blocks\.1\.mlp\.hook_post returned shape \[7,3\] for an activation of shape \[7,37\]/);
  } finally {
    tape.dispose();
  }
});

test.run();
