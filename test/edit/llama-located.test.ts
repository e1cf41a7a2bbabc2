// ROME's, MEMIT's and Adam's inputs on a Llama checkpoint: the second moment of
// down_proj's input (SiLU(gate)·up) against float64 (1e-5, as GPT-2's); a prompt's
// segments count from its end, so BOS and SentencePiece's ▁ before the first word
// stay out of the subject; the value search reads the prompt as the model does (BOS first) and the
// target as it follows the prompt (Llama 2's file cuts " Rome" alone into ▁ ▁Rome);
// the statistics' windows and MEMIT's seeds start with BOS as every text the model reads;
// Adam's first step on the bias-free down_proj equals the float64 reference (1e-3 of
// the largest entry, as GPT-2's Adam check: the step is lr·g/(|g| + eps) of an f32 gradient).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { edit } from '../../src/edit/edit.ts';
import { ROME_VALUE } from '../../src/edit/located/rome-hparams.ts';
import { memitPrefixes } from '../../src/edit/located/context-templates.ts';
import { secondMoments, textWindows } from '../../src/edit/located/second-moment.ts';
import { valueObjective } from '../../src/edit/located/value-vector.ts';
import { getEngine } from '../../src/gpu/engine.ts';
import { readAll } from '../../src/gpu/buffers.ts';
import { analyze } from '../../src/lens/analyze.ts';
import { loadModelPath } from '../../src/model/load-node.ts';
import { fileSource } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';
import { saveModelDir } from '../../src/model/save-node.ts';
import { segmentPrompt } from '../../src/pass/segments.ts';
import { preparePair } from '../../src/pass/prepare.ts';
import { Gpt2Tokenizer } from '../../src/tokenizer/gpt2-bpe.ts';
import { HfJsonTokenizer } from '../../src/tokenizer/hf-json.ts';
import { promptIds } from '../../src/tokenizer/tokenizer.ts';
import { assertClose } from '../helpers.ts';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import { PIECE_TOKENIZER_CONFIG, PIECE_TOKENIZER_JSON, PIECE_VOCAB } from '../model/piece-tokenizer.ts';
import { llamaAdamStepRef, llamaSgdStepRef } from '../reference/llama-edit.ts';
import { llamaBackwardRef, type LlamaConfigRef } from '../reference/llama.ts';
import { mulberry32Ref } from '../reference/ops.ts';
import { secondMomentRef } from '../reference/rome.ts';

const CFG: LlamaConfigRef = {
  nLayer: 2, nHead: 4, nKvHead: 2, headDim: 6, nEmbd: 24, nInner: 37, vocabSize: 331, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const PROMPT = 'The Eiffel Tower is in';

/** The piece vocabulary in Llama 2's file layout: a Prepend ▁ normalizer, no pre-tokenizer, so a text starting with a space gets ▁▁. */
function legacyJson(): string {
  const json = JSON.parse(PIECE_TOKENIZER_JSON);
  json.normalizer = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
  json.pre_tokenizer = null;
  return JSON.stringify(json);
}

test("stats: E[k kᵀ] of down_proj's input equals the float64 reference (2 layers, f 37, 5 windows of 7 in batches of 2)", async () => {
  const { dir, params } = await writeLlamaCheckpoint(CFG, 9);
  const { model } = await loadModelPath(await getEngine(), dir);
  try {
    const r = mulberry32Ref(3);
    const T = 7;
    const windows = Array.from({ length: 5 }, () => Array.from({ length: T }, () => Math.floor(r() * CFG.vocabSize)));
    const { moments, tokens } = await secondMoments(model, windows, [0, 1], { batch: 2, flushTokens: 10 });
    assert.is(tokens, 35);
    const f = CFG.nInner;
    for (const layer of [0, 1]) {
      const want = secondMomentRef(windows, f, (ids) => llamaBackwardRef(CFG, params, ids, [{ position: 0, token: 0 }]).factors[`model.layers.${layer}.mlp.down_proj`]!.x);
      assertClose(moments.get(layer)!, want, 1e-5, `layer ${layer}`);
    }
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('statistics windows start as the model reads any text, BOS first, and keep their length and token cap; GPT-2 windows have none', () => {
  const tokenizer = new HfJsonTokenizer({ tokenizer: PIECE_TOKENIZER_JSON, config: PIECE_TOKENIZER_CONFIG });
  const text = 'The Eiffel Tower is in Paris\n\nThe Eiffel Tower is in Paris\nThe Eiffel Tower is in Paris\n';
  const line = tokenizer.encode('The Eiffel Tower is in Paris\n');
  const windows = textWindows(tokenizer, text, 5);
  assert.ok(windows.length >= 2);
  assert.ok(windows.every((w) => w.length === 5 && w[0] === 1));
  assert.equal(windows[0]!.slice(1), line.slice(0, 4));
  assert.is(textWindows(tokenizer, text, 5, 12).length, 2);
  const gpt2 = new Gpt2Tokenizer();
  assert.equal(textWindows(gpt2, 'a b c d e f g\n', 3), [gpt2.encode('a b c d e f g\n').slice(0, 3), gpt2.encode('a b c d e f g\n').slice(3, 6)]);
});

test("MEMIT's context prefixes on a BOS tokenizer: sampled after BOS and the seed word, shown without BOS", async () => {
  const { dir } = await writeLlamaCheckpoint(CFG, 5);
  const { model, tokenizer } = await loadModelPath(await getEngine(), dir);
  try {
    const prefixes = await memitPrefixes(model, tokenizer);
    assert.is(prefixes.length, 6);
    // The test vocabulary spells some seed words in other pieces: compare with its own round trip.
    ['The', 'Therefore', 'Because', 'I', 'You'].forEach((w, i) => assert.ok(prefixes[i + 1]!.startsWith(tokenizer.decode(tokenizer.encode(w))) && !prefixes[i + 1]!.includes('<s>'), `${w}: ${prefixes[i + 1]}`));
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("segments: BOS is 'before subject' and the subject is its own tokens, not the ▁ before it", () => {
  const tokenizer = new HfJsonTokenizer({ tokenizer: PIECE_TOKENIZER_JSON, config: PIECE_TOKENIZER_CONFIG });
  const ids = promptIds(tokenizer, PROMPT);
  assert.equal(ids.slice(0, 3), [1, PIECE_VOCAB['▁The'], PIECE_VOCAB['▁Eiffel']]);
  const seg = segmentPrompt(tokenizer, PROMPT, ids, 'Eiffel Tower')!;
  assert.equal(seg.subject, [2, 3]);
  assert.equal(seg.labels[0], ['before subject']);
  assert.equal(segmentPrompt(tokenizer, PROMPT, ids, 'The Eiffel')!.subject, [1, 2]);
});

test("value search on Llama 2's tokenizer layout: its loss at δ = 0 is the analysis's NLL of ▁Rome after the prompt with BOS", async () => {
  const { dir } = await writeLlamaCheckpoint(CFG, 3);
  writeFileSync(join(dir, 'tokenizer.json'), legacyJson());
  const { model, tokenizer } = await loadModelPath(await getEngine(), dir);
  try {
    assert.equal(tokenizer.encode(' Rome'), [PIECE_VOCAB['▁'], PIECE_VOCAB['▁Rome']], 'the target alone starts with a lone ▁');
    const request = { prompt: PROMPT, subject: 'The Eiffel Tower', target: ' Rome' };
    const objective = valueObjective(model, tokenizer, [request], [''], 'blocks.0.hook_mlp_out', ROME_VALUE);
    const [start] = await objective.evaluate([new Float64Array(CFG.nEmbd)], false);
    const [a] = await analyze(model, tokenizer, [{ prompt: PROMPT, target: ' Rome' }], { layers: [0] });
    assert.equal(a!.targetTokens.map((t) => t.id), [PIECE_VOCAB['▁Rome']]);
    assert.ok(Math.abs(start!.loss - a!.loss) <= 1e-5 * a!.loss, `value search ${start!.loss} vs analysis ${a!.loss}`);
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sgd on stored modules alone (up_proj without gate_proj, k_proj without q and v): their own rows of the joined weights, as the float64 reference', async () => {
  const { dir, params } = await writeLlamaCheckpoint(CFG, 6);
  const { model, tokenizer } = await loadModelPath(await getEngine(), dir);
  try {
    const pairs = [{ prompt: PROMPT, target: ' Rome' }, { prompt: 'Paris is', target: ' Tower' }];
    const refPairs = pairs.map((p) => preparePair(model, tokenizer, p.prompt, p.target)).map((p) => ({ ids: p.ids, target: p.targetIds[0]! }));
    const stored = [0, 1].flatMap((l) => [`model.layers.${l}.mlp.up_proj`, `model.layers.${l}.self_attn.k_proj`]);
    const want = llamaSgdStepRef(CFG, params, refPairs, stored, 0.05);
    const result = await edit(model, tokenizer, pairs, { method: 'sgd', layers: [0, 1], modules: ['mlp.up_proj', 'self_attn.k_proj'], lr: 0.05 });
    assert.equal(result.spec.modules, ['mlp.up_proj', 'self_attn.k_proj']);
    assert.equal(result.changes.map((c) => c.name).sort(), Object.keys(want).sort(), 'gate_proj, q_proj and v_proj unchanged');
    const writtenDir = join(dir, 'edited');
    await saveModelDir(model, dir, writtenDir);
    const written = await openSafetensors(await fileSource(join(writtenDir, 'model.safetensors')));
    for (const [name, w] of Object.entries(want)) {
      const now = await written.readF32(name);
      const original = params[name]!;
      assertClose(Float64Array.from(now, (x, i) => x - original[i]!), w.map((x, i) => x - original[i]!), 1e-3, `${name} update`);
    }
    for (const l of [0, 1]) for (const m of ['mlp.gate_proj', 'self_attn.q_proj', 'self_attn.v_proj']) {
      const name = `model.layers.${l}.${m}.weight`;
      assert.equal(Array.from(await written.readF32(name)), Array.from(params[name]!, Math.fround), name);
    }
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('adam: the first step on the bias-free down_proj of layers 0 and 1, two pairs, as the float64 reference', async () => {
  const { dir, params } = await writeLlamaCheckpoint(CFG, 5);
  const { model, tokenizer } = await loadModelPath(await getEngine(), dir);
  try {
    const pairs = [{ prompt: PROMPT, target: ' Rome' }, { prompt: 'Paris is', target: ' Tower' }];
    const refPairs = pairs.map((p) => preparePair(model, tokenizer, p.prompt, p.target)).map((p) => ({ ids: p.ids, target: p.targetIds[0]! }));
    const want = llamaAdamStepRef(CFG, params, refPairs, [0, 1], 1e-3);
    const result = await edit(model, tokenizer, pairs, { method: 'adam', layers: [0, 1], lr: 1e-3, steps: 1 });
    assert.equal(result.changes.map((c) => c.name).sort(), Object.keys(want).sort(), 'only the two weights: there is no bias');
    for (const l of [0, 1]) {
      const name = `model.layers.${l}.mlp.down_proj.weight`;
      const [now] = (await readAll(model.k, [model.param(model.linear(l, 'ff_out').weightName)])) as Float32Array[];
      const original = params[name]!;
      assertClose(now!.map((w, i) => w - original[i]!), want[name]!.map((w, i) => w - original[i]!), 1e-3, `${name} update`);
    }
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
