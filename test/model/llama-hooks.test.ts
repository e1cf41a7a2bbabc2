// Hook points of a gated MLP, named as TransformerLens names them: mlp.hook_pre is
// gate_proj's output, mlp.hook_pre_linear up_proj's, mlp.hook_post down_proj's input.
// The engine computes gate | up as one product and cuts the halves out for hooks; a
// hook that replaces one is checked forward and backward against the float64
// reference on equivalently changed weights. Tolerances as llama.test.ts: logits 1e-4,
// factors 1e-3 (relative to the largest entry).
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tape } from '../../src/autograd/tape.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import type { LoadedModel } from '../../src/model/load.ts';
import { hookPoints, type Hook } from '../../src/model/model.ts';
import { add } from '../../src/ops/pointwise.ts';
import type { Tensor } from '../../src/tensor.ts';
import { assertClose, read } from '../helpers.ts';
import { llamaBackwardRef, type LlamaConfigRef, type LlamaParamsRef } from '../reference/llama.ts';
import { ODD_LLAMA, writeLlamaCheckpoint } from './llama-checkpoint.ts';

/** d 72, 6 heads of 16 (96 ≠ 72) over 3 key/value heads, ff 200, vocabulary 503, 2 layers. */
const CFG: LlamaConfigRef = { ...ODD_LLAMA, nLayer: 2, nKvHead: 3, headDim: 16 };
const IDS = [1, 77, 300, 12, 9, 150, 42];
const last = { seq: 0, position: IDS.length - 1, token: 3 };
let loaded: LoadedModel;
let params: LlamaParamsRef;
let dir: string;

test.before(async () => {
  ({ dir, params } = await writeLlamaCheckpoint(CFG, 5));
  loaded = await loadModelPath(await getEngine(), dir);
});
test.after(() => {
  loaded.model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Logits and the joined roles' factors (X, [δ_a | δ_b]) of one pass with `hook`. */
async function run(hook?: Hook): Promise<{ logits: ArrayLike<number>; factors: Map<string, ArrayLike<number>[]> }> {
  const { model } = loaded;
  const tape = new Tape(model.k, { grad: true });
  try {
    const out = model.forward(tape, [IDS], [last], hook);
    tape.backward(out.loss);
    const [logits] = await read(model.k, out.logits);
    const factors = new Map<string, ArrayLike<number>[]>();
    for (const [name, f] of tape.factors) factors.set(name, await read(model.k, f.X, f.delta!));
    return { logits: logits!, factors };
  } finally {
    tape.dispose();
  }
}

test('a gated MLP has hook_pre (gate) and hook_pre_linear (up), f wide each, in order; reading them changes nothing', async () => {
  const seen: [string, number][] = [];
  const acts = new Map<string, Tensor>();
  const { model } = loaded;
  const tape = new Tape(model.k);
  let hooked: { gate: ArrayLike<number>; up: ArrayLike<number> };
  try {
    model.forward(tape, [IDS], [last], (name, act) => {
      seen.push([name, act.cols]);
      acts.set(name, act);
    });
    const [gate, up] = await read(model.k, acts.get('blocks.1.mlp.hook_pre')!, acts.get('blocks.1.mlp.hook_pre_linear')!);
    hooked = { gate: gate!, up: up! };
  } finally {
    tape.dispose();
  }
  assert.equal(seen.map(([n]) => n), hookPoints(CFG.nLayer, { gated: true }));
  const width = (n: string) => (/mlp\.hook_(pre|pre_linear|post)$/.test(n) ? CFG.nInner : n.endsWith('attn.hook_z') ? CFG.nHead * CFG.headDim : CFG.nEmbd);
  for (const [name, cols] of seen) assert.is(cols, width(name), name);
  // The halves are gate_proj's and up_proj's outputs on the reference's input to them.
  const ref = llamaBackwardRef(CFG, params, IDS, [{ position: last.position, token: last.token }]);
  const n2 = ref.factors['model.layers.1.mlp.gate_proj']!.x;
  const linear = (w: Float64Array) => Array.from({ length: IDS.length * CFG.nInner }, (_, i) => {
    const [t, o] = [Math.floor(i / CFG.nInner), i % CFG.nInner];
    let s = 0;
    for (let j = 0; j < CFG.nEmbd; j++) s += n2[t * CFG.nEmbd + j]! * w[o * CFG.nEmbd + j]!;
    return s;
  });
  assertClose(hooked.gate, linear(params['model.layers.1.mlp.gate_proj.weight']!), 1e-4, 'hook_pre = gate_proj(x)');
  assertClose(hooked.up, linear(params['model.layers.1.mlp.up_proj.weight']!), 1e-4, 'hook_pre_linear = up_proj(x)');
  const plain = await run();
  const reading = await run(() => undefined);
  assertClose(reading.logits, plain.logits, 0, 'logits with a hook that only reads');
  for (const [name, [x, delta]] of plain.factors) {
    assertClose(reading.factors.get(name)![0]!, x!, 0, `${name} X`);
    assertClose(reading.factors.get(name)![1]!, delta!, 0, `${name} Delta`);
  }
});

test('replacing hook_pre_linear (layer 0) and hook_pre (layer 1) by twice themselves is doubling up_proj and gate_proj: logits and factors against float64', async () => {
  const { logits, factors } = await run((name, act, tape) => (name === 'blocks.0.mlp.hook_pre_linear' || name === 'blocks.1.mlp.hook_pre' ? add(tape, act, act) : undefined));
  const doubled = { ...params };
  for (const w of ['model.layers.0.mlp.up_proj.weight', 'model.layers.1.mlp.gate_proj.weight']) doubled[w] = params[w]!.map((v) => 2 * v);
  const ref = llamaBackwardRef(CFG, doubled, IDS, [{ position: last.position, token: last.token }]);
  assertClose(logits, ref.logits.slice(last.position * CFG.vocabSize), 1e-4, 'logits');
  const f = CFG.nInner;
  for (let l = 0; l < CFG.nLayer; l++) {
    const [x, delta] = factors.get(`layers.${l}.mlp.{gate,up}_proj`)!;
    const r = (m: string) => ref.factors[`model.layers.${l}.mlp.${m}`]!;
    // The engine's δ is taken before the hook: the doubled half's is twice the reference's (whose weight is doubled).
    const scale = (m: string) => ((l === 0 && m === 'up_proj') || (l === 1 && m === 'gate_proj') ? 2 : 1);
    const halves = ['gate_proj', 'up_proj'].map((m) => Array.from({ length: IDS.length * f }, (_, i) => delta![Math.floor(i / f) * 2 * f + (m === 'up_proj' ? f : 0) + (i % f)]!));
    assertClose(x!, r('gate_proj').x, 1e-3, `layer ${l} X`);
    halves.forEach((h, i) => {
      const m = i === 0 ? 'gate_proj' : 'up_proj';
      assertClose(h, r(m).delta.map((v) => v * scale(m)), 1e-3, `layer ${l} ${m} Delta`);
    });
    const [dx, dd] = factors.get(`layers.${l}.mlp.down_proj`)!;
    assertClose(dx!, r('down_proj').x, 1e-3, `layer ${l} down_proj X`);
    assertClose(dd!, r('down_proj').delta, 1e-3, `layer ${l} down_proj Delta`);
  }
  const [qx] = factors.get('layers.0.self_attn.{q,k,v}_proj')!;
  assertClose(qx!, ref.factors['model.layers.0.self_attn.q_proj']!.x, 1e-3, 'layer 0 q/k/v X');
});

test.run();
