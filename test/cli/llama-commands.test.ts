// The commands beyond analyze/factors/shift/sgd on a Llama checkpoint, as a user runs
// them (llama-cli.test.ts has those): stats, edit with Adam (a bias-free down_proj),
// ROME and MEMIT with --out, eval on three CounterFact records, sweep, study, facts,
// study --combine (Fig. 18 across models), and the library's loadModel(dir). A tiny
// random checkpoint with an untied head and the hand-made tokenizer.json; a context
// of 256 so that ROME's prefixes fit before prompts the small vocabulary spells letter
// by letter; three layers, since a value written at the last layer's subject token
// cannot reach the last prompt token (no attention above it), so ROME and MEMIT edit
// below it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyze, loadModel } from '../../src/index.ts';
import { predictNext } from '../../src/eval/facts.ts';
import { fileSource } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';
import { cli, said } from '../cli-run.ts';
import { writeLlamaCheckpoint } from '../model/llama-checkpoint.ts';
import { PIECE_VOCAB } from '../model/piece-tokenizer.ts';
import type { LlamaConfigRef } from '../reference/llama.ts';

const CFG: LlamaConfigRef = {
  nLayer: 3, nHead: 4, nKvHead: 2, headDim: 8, nEmbd: 32, nInner: 40, vocabSize: 320, eps: 1e-5,
  ropeTheta: 10000, ropeScaling: { type: 'default' }, tied: false, bias: { qkv: false, o: false, mlp: false },
};
const PROMPT = 'The Eiffel Tower is in';
const SUBJECT = 'The Eiffel Tower';
const TARGET = ' Rome';
const work = mkdtempSync(join(tmpdir(), 'bl-llama-commands-'));
const stats = join(work, 'stats');
let modelDir: string;

test.before(async () => {
  modelDir = (await writeLlamaCheckpoint(CFG, 7, { maxPositions: 256 })).dir;
});
test.after(() => {
  for (const dir of [work, modelDir]) rmSync(dir, { recursive: true, force: true });
});

function ok(args: string[]): string {
  const r = cli(args);
  assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function stored(path: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const src = await fileSource(path);
  try {
    const file = await openSafetensors(src);
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, info] of file.tensors) if (info.dtype === 'F32') out.set(name, { shape: info.shape, data: await file.readF32(name) });
    return out;
  } finally {
    await src.close();
  }
}

/** The stored tensors whose values differ between two checkpoints. */
async function changed(a: string, b: string): Promise<string[]> {
  const [x, y] = [await stored(join(a, 'model.safetensors')), await stored(join(b, 'model.safetensors'))];
  assert.equal([...y.keys()].sort(), [...x.keys()].sort(), "the source's tensor names");
  return [...y].filter(([k, v]) => x.get(k)!.data.some((w, i) => w !== v.data[i])).map(([k]) => k).sort();
}

const downProj = (l: number) => `model.layers.${l}.mlp.down_proj.weight`;

test('stats: E[k kᵀ] of down_proj\'s input (f x f) per layer, cached where --cache says', async () => {
  ok(['stats', '--model', modelDir, '--layers', '0-2', '--tokens', '1024', '--cache', stats]);
  for (const l of [0, 1, 2]) {
    const c = (await stored(join(stats, `mom2-layer${l}.safetensors`))).values().next().value!;
    assert.equal(c.shape, [CFG.nInner, CFG.nInner]);
    const f = CFG.nInner;
    for (let i = 0; i < f; i++) {
      assert.ok(c.data[i * f + i]! >= 0, 'a second moment has a non-negative diagonal');
      for (let j = 0; j < i; j++) assert.ok(Math.abs(c.data[i * f + j]! - c.data[j * f + i]!) <= 1e-6 * Math.abs(c.data[i * f + i]! + c.data[j * f + j]!), 'symmetric');
    }
  }
});

test('edit --out with adam, rome and memit: only down_proj of the edited layers changes; tokenizer files copied; the directory loads back', async () => {
  const cases: [string, string[], number[]][] = [
    ['adam', ['--method', 'adam', '--layers', '0,1', '--lr', '0.01'], [0, 1]],
    ['rome', ['--method', 'rome:layer=1', '--subject', SUBJECT, '--cache', stats], [1]],
    ['memit', ['--method', 'memit:layers=0-1,lambda=1', '--subject', SUBJECT, '--cache', stats], [0, 1]],
  ];
  for (const [method, args, layers] of cases) {
    const dir = join(work, `edited-${method}`);
    const json = join(work, `edit-${method}.json`);
    ok(['edit', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, ...args, '--out', dir, '--json', json]);
    assert.equal(await changed(modelDir, dir), layers.map(downProj), `${method}: down_proj of layers ${layers}`);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) assert.is(readFileSync(join(dir, f), 'utf8'), readFileSync(join(modelDir, f), 'utf8'), `${method}: ${f} copied`);
    assert.is(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model_type, 'llama');
    const report = JSON.parse(readFileSync(json, 'utf8'));
    const pair = report.pairs[0];
    assert.is(pair.before.target.id, PIECE_VOCAB['▁Rome'], `${method}: the target is ▁Rome`);
    // Adam descends the target's NLL; ROME and MEMIT write the value their search found, whose loss fell.
    if (method === 'adam') assert.ok(pair.after.target.prob > pair.before.target.prob, `adam: p(target) ${pair.before.target.prob} -> ${pair.after.target.prob}`);
    else assert.ok(report.losses[0].at(-1) < report.losses[0][0], `${method}: value search loss ${report.losses[0]}`);
    const analysis = join(work, `analyze-${method}.json`);
    ok(['analyze', '--model', dir, '--prompt', PROMPT, '--target', TARGET, '--layers', '0', '--json', analysis]);
    const p = JSON.parse(readFileSync(analysis, 'utf8')).results[0].targetProb;
    assert.ok(Math.abs(p - pair.after.target.prob) <= 1e-4 * pair.after.target.prob, `${method}: the written model predicts as the edited one: ${p} vs ${pair.after.target.prob}`);
  }
});

test('eval: original, adam and rome on three CounterFact records', () => {
  const out = join(work, 'eval');
  ok(['eval', '--model', modelDir, '--method', 'original', '--method', 'adam:layers=1', '--method', 'rome:layer=1', '--records', '0-2', '--cache', stats, '--no-generation', '--out', out]);
  const lines = readFileSync(join(out, 'records.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 9);
  for (const l of lines) assert.ok(Number.isFinite(l.efficacy) && Number.isFinite(l.perplexity), JSON.stringify(l).slice(0, 300));
  assert.match(readFileSync(join(out, 'table.md'), 'utf8'), /\| rome:layer=1 \|/);
});

test('sweep: the smallest shift and Adam rates on one record at layer 1', () => {
  const out = join(work, 'sweep');
  ok(['sweep', '--model', modelDir, '--records', '0', '--methods', 'shift,adam', '--layers', '1', '--no-perplexity', '--out', out]);
  const cells = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')).cells;
  assert.equal(cells.map((c: { method: string; layer: number }) => `${c.method}@${c.layer}`).sort(), ['adam@1', 'shift@1']);
  assert.ok(existsSync(join(out, 'sweep.svg')));
});

test("study on three records: the checkpoint's module names, Figs. 18-21 present; facts --writes", () => {
  const out = join(work, 'study');
  ok(['study', '--model', modelDir, '--records', '0-2', '--out', out]);
  const doc = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8'));
  assert.equal(doc.settings.modules, ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']);
  assert.is(doc.data.studied, 3);
  assert.is(doc.aggregates.lastToken.length, CFG.nLayer);
  assert.ok(existsSync(join(out, 'fig18-target-rank-ff2-last.svg')));
  const facts = JSON.parse(ok(['facts', '--model', modelDir, '--records', '3', '--writes', '--json']));
  assert.is(facts.trainedPrompt.total, 3);
  assert.is(facts.targetWrites.seenInTraining.length + facts.targetWrites.neverSeen.length > 0, true);
});

test("study --combine: Fig. 18 across the embedded GPT-2's committed study and the Llama's, over layer / L and rank / V; a study without FF2's ranks is refused", () => {
  const out = join(work, 'fig18');
  const gpt2 = 'docs/study/study.json';
  const r = cli(['study', '--combine', gpt2, '--combine', join(work, 'study'), '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const { models } = JSON.parse(readFileSync(join(out, 'combined.json'), 'utf8'));
  assert.equal(models.map((m: { label: string; nLayer: number }) => [m.label, m.nLayer]), [['default model', 4], [basename(modelDir), CFG.nLayer]]);
  const doc = JSON.parse(readFileSync(gpt2, 'utf8'));
  for (const [i, row] of doc.aggregates.lastToken.entries()) {
    assert.equal(models[0].points[i], { layer: row.layer, x: row.layer / 4, medianRank: row.ff2DeltaTarget.all.median, y: row.ff2DeltaTarget.all.median / doc.model.vocabSize });
  }
  // The Llama's ranks count among the ids its lens keeps: the vocabulary less <unk>, <s>, </s> and the rows above the tokenizer's.
  const llama = JSON.parse(readFileSync(join(work, 'study', 'study.json'), 'utf8'));
  assert.ok(llama.settings.excluded.count > 0);
  assert.is(models[1].ranked, CFG.vocabSize - llama.settings.excluded.count);
  assert.is(models[1].points[0].y, models[1].points[0].medianRank / models[1].ranked);
  const svg = readFileSync(join(out, 'fig18-models.svg'), 'utf8');
  assert.is(svg.match(/<polyline/g)?.length, 2);
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /fig18-models\.svg/);

  delete doc.aggregates.lastToken;
  const partial = join(work, 'no-mlp-study.json');
  writeFileSync(partial, JSON.stringify(doc));
  const refused = cli(['study', '--combine', gpt2, '--combine', partial, '--out', join(work, 'fig18-refused')]);
  assert.is(refused.status, 2);
  assert.equal(said(refused.stderr), [`backward-lens: --combine ${partial}: the study has no FF2 δ_n ranks (Figs. 18-21); run study again with both MLP modules (no --modules, or one that lists ff_in and ff_out)`]);
  assert.not.ok(existsSync(join(work, 'fig18-refused')));
});

test('the library: loadModel(dir) reads a Llama directory with its tokenizer, and analyze runs on it; fact recall reads the prompt with BOS', async () => {
  const { model, tokenizer } = await loadModel(modelDir);
  assert.is(model.config.nLayer, CFG.nLayer);
  const [a] = await analyze(model, tokenizer, [{ prompt: PROMPT, target: TARGET }]);
  assert.equal(a!.tokens.map((t) => t.text), ['<s>', ' The', ' Eiffel', ' Tower', ' is', ' in']);
  assert.is(a!.targetTokens[0]!.id, PIECE_VOCAB['▁Rome']);
  assert.ok(a!.layers.some((l) => l.modules.some((m) => m.module === 'mlp.down_proj')));
  // facts and eval score prompts as analyze reads them, BOS first.
  assert.equal(await predictNext(model, tokenizer, [PROMPT]), [a!.original.id]);
});

test.run();
