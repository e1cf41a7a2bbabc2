// GPT-NeoX (Pythia) on the engine against the float64 reference, on random checkpoints
// of odd shapes loaded from disk: parallel and sequential blocks, rotary_pct 0.25, 0.5
// and 1.0, exact gelu and gelu_new, with and without attention biases, tied and untied
// heads, vocab_size padded beyond the tokenizer, F32, F16 and BF16. Tolerances,
// relative to each tensor's largest entry, as GPT-2's and Llama's: logits 1e-4, loss
// 1e-5, factors X and Delta 1e-3 (Delta passes back through every layer in f32). The
// reference's parameters are the stored (rounded) values, so 16-bit checkpoints keep
// the same bounds. query_key_value's Delta is compared in the checkpoint's per-head order.
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tape } from '../../src/autograd/tape.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { decode } from '../../src/model/decode.ts';
import { analyze, edit, hookPoints, loadModel, type Model } from '../../src/index.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { assertClose, read } from '../helpers.ts';
import { NEOX_LINEARS_REF, neoxBackwardRef, type NeoxConfigRef, type NeoxParamsRef } from '../reference/neox.ts';
import { mulberry32Ref } from '../reference/ops.ts';
import type { StorageDtype } from '../checkpoint.ts';
import { writeNeoxCheckpoint } from './neox-checkpoint.ts';
import { NEOX_TOKENS, NEOX_VOCAB } from './neox-tokenizer.ts';

/** d 80, 5 heads of 16 (4 columns rotate at 0.25), ff 76, vocabulary 301 (283 tokens), 3 layers, parallel, Pythia's exact gelu. */
const BASE: NeoxConfigRef = {
  nLayer: 3, nHead: 5, nEmbd: 80, nInner: 76, vocabSize: 301, eps: 1e-5, rotaryPct: 0.25, rotaryBase: 10000,
  parallel: true, act: 'gelu', attentionBias: true, tied: false,
};

function randomIds(n: number, seed: number, V: number): number[] {
  const r = mulberry32Ref(seed);
  return Array.from({ length: n }, () => Math.floor(r() * V));
}

async function checkAgainstReference(model: Model, cfg: NeoxConfigRef, params: NeoxParamsRef, ids: number[], target: number, what: string): Promise<void> {
  const tape = new Tape(model.k, { grad: true });
  try {
    const out = model.forward(tape, [ids], [{ seq: 0, position: ids.length - 1, token: target }]);
    tape.backward(out.loss);
    const ref = neoxBackwardRef(cfg, params, ids, [{ position: ids.length - 1, token: target }]);
    const [logits, loss] = await read(model.k, out.logits, out.loss);
    assertClose(logits!, ref.logits.slice((ids.length - 1) * cfg.vocabSize), 1e-4, `${what} logits`);
    assertClose(loss!, [ref.loss], 1e-5, `${what} loss`);
    for (let l = 0; l < cfg.nLayer; l++) {
      for (const module of NEOX_LINEARS_REF) {
        const name = `layers.${l}.${module}`;
        const r = ref.factors[`gpt_neox.${name}`]!;
        const f = tape.factors.get(name);
        assert.ok(f, `${what}: no factors recorded under ${name}`);
        const [gx, gdelta] = await read(model.k, f.X, f.delta!);
        assertClose(gx!, r.x, 1e-3, `${what} ${name} X`);
        assertClose(gdelta!, r.delta, 1e-3, `${what} ${name} Delta`);
      }
      // Both branches of a parallel block add into the same output, so attention.dense
      // and dense_4h_to_h receive the same delta_i (docs/neox.md).
      if (cfg.parallel) {
        const [attn, ff2] = await read(model.k, tape.factors.get(`layers.${l}.attention.dense`)!.delta!, tape.factors.get(`layers.${l}.mlp.dense_4h_to_h`)!.delta!);
        assertClose(attn!, ff2!, 0, `${what} layer ${l}: attention.dense and dense_4h_to_h Delta`);
      }
    }
  } finally {
    tape.dispose();
  }
}

async function checkCheckpoint(cfg: NeoxConfigRef, dtype: StorageDtype, what: string, lengths = [1, 6, 13]): Promise<void> {
  const { dir, params } = await writeNeoxCheckpoint(cfg, 7, { dtype });
  try {
    const { model } = await loadModelPath(await getEngine(), dir);
    try {
      assert.is(model.config.family, 'gpt_neox');
      for (const n of lengths) await checkAgainstReference(model, cfg, params, randomIds(n, n, cfg.vocabSize), 17, `${what} n=${n}`);
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const dtype of ['F32', 'F16', 'BF16'] as const) {
  test(`Pythia-shaped ${dtype}: parallel residual, rotary_pct 0.25, exact gelu, padded vocabulary: logits, loss and every factor match float64 for 1, 6 and 13 tokens`, () =>
    checkCheckpoint(BASE, dtype, `neox ${dtype}`));
}

test('sequential blocks (use_parallel_residual false), rotary_pct 1.0, gelu_new, F32', () =>
  checkCheckpoint({ ...BASE, parallel: false, rotaryPct: 1, act: 'gelu_new' }, 'F32', 'neox sequential'));

test('parallel, rotary_pct 0.5 of heads of 20 (10 columns, an odd half), no attention biases, tied head, 2 layers, BF16', () =>
  checkCheckpoint({ ...BASE, nLayer: 2, nHead: 4, rotaryPct: 0.5, attentionBias: false, tied: true }, 'BF16', 'neox tied'));

test('the loaded tokenizer: byte-level words, no BOS, padded rows and special tokens are not real', async () => {
  const { dir } = await writeNeoxCheckpoint({ ...BASE, nLayer: 1 }, 1);
  try {
    const { model, tokenizer } = await loadModelPath(await getEngine(), dir);
    model.dispose();
    assert.equal(tokenizer.promptParts('The Eiffel Tower is in').map((p) => p.ids).flat(), ['The', 'ĠEiffel', 'ĠTower', 'Ġis', 'Ġin'].map((t) => NEOX_VOCAB[t]));
    assert.equal(tokenizer.answerIds('The Eiffel Tower is in', 'Paris'), [NEOX_VOCAB['ĠParis']]);
    assert.is(tokenizer.tokenText(NEOX_VOCAB['ĠRome']!), ' Rome');
    assert.is(tokenizer.vocabSize, BASE.vocabSize);
    assert.ok(tokenizer.isReal(NEOX_VOCAB['ĠRome']!));
    assert.not.ok(tokenizer.isReal(0), '<|endoftext|> is special');
    for (const id of [NEOX_TOKENS, BASE.vocabSize - 1]) assert.not.ok(tokenizer.isReal(id), `row ${id} is padding beyond the tokenizer's ${NEOX_TOKENS} tokens`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cached decoding: per-head q/k/v regrouped and partially rotated at each new position gives the same tokens as full passes', async () => {
  const { dir } = await writeNeoxCheckpoint({ ...BASE, nLayer: 2 }, 5);
  try {
    const { model } = await loadModelPath(await getEngine(), dir);
    try {
      const prompts = [[4, 8, 15, 16, 23, 42], [100], [7, 7, 7]];
      const newTokens = [9, 12, 5];
      assert.equal(await decode(model, prompts, { newTokens }), await decode(model, prompts, { newTokens, cache: false }));
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the library: loadModel, analyze under the checkpoint\'s module names, edit and restore; parallel blocks have no hook_resid_mid', async () => {
  const cfg = { ...BASE, nLayer: 2 };
  const { dir } = await writeNeoxCheckpoint(cfg, 3);
  const { model, tokenizer } = await loadModel(dir);
  try {
    const [a] = await analyze(model, tokenizer, [{ prompt: 'The Eiffel Tower is in', target: ' Rome' }]);
    assert.equal(a!.settings.modules, ['attention.query_key_value', 'attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h']);
    const result = await edit(model, tokenizer, [{ prompt: 'The Eiffel Tower is in', target: ' Rome' }], { method: 'shift', layers: [1], lr: 1 });
    assert.equal(result.changes.map((c) => c.name), ['gpt_neox.layers.1.mlp.dense_4h_to_h.weight']);
    assert.equal(model.restore(), ['gpt_neox.layers.1.mlp.dense_4h_to_h.weight']);
    const seen: string[] = [];
    const tape = new Tape(model.k);
    try {
      model.forward(tape, [[5, 6, 7]], [{ seq: 0, position: 2 }], (name) => void seen.push(name));
    } finally {
      tape.dispose();
    }
    assert.equal(seen, hookPoints(cfg.nLayer, { parallelResidual: true }));
    assert.ok(!seen.includes('blocks.0.hook_resid_mid'));
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
