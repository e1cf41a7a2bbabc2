// Every command on a GPT-NeoX checkpoint, as a user runs them: a tiny random
// Pythia-shaped one written here (parallel blocks, rotary_pct 0.25, vocab_size padded
// beyond its tokenizer.json). analyze and factors name the checkpoint's modules;
// edit --out with each method writes a GPT-NeoX directory that loads back under the
// source's tensor names; stats, eval, study and sweep run on it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli } from '../cli-run.ts';
import { writeNeoxCheckpoint } from '../model/neox-checkpoint.ts';
import { NEOX_TOKENS, NEOX_VOCAB } from '../model/neox-tokenizer.ts';
import type { NeoxConfigRef } from '../reference/neox.ts';
import { storedTensors } from '../stored-tensors.ts';

const CFG: NeoxConfigRef = {
  nLayer: 3, nHead: 4, nEmbd: 32, nInner: 40, vocabSize: 301, eps: 1e-5, rotaryPct: 0.25, rotaryBase: 10000,
  parallel: true, act: 'gelu', attentionBias: true, tied: false,
};
const PROMPT = 'The Eiffel Tower is in';
const TARGET = ' Rome';
const work = mkdtempSync(join(tmpdir(), 'bl-neox-cli-'));
let modelDir: string;

test.before(async () => {
  modelDir = (await writeNeoxCheckpoint(CFG, 7, { maxPositions: 256 })).dir;
});
test.after(() => {
  for (const dir of [work, modelDir]) rmSync(dir, { recursive: true, force: true });
});

const MODULES = ['attention.query_key_value', 'attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h'];

test("analyze --json: the checkpoint's module names, no BOS, the last layer's ranks (query_key_value n, the others 1), no padded or special id listed", () => {
  const json = join(work, 'analyze.json');
  const r = cli(['analyze', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--json', json]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /FF2 \(mlp\.dense_4h_to_h\)/);
  const result = JSON.parse(readFileSync(json, 'utf8')).results[0];
  assert.equal(result.tokens.map((t: { text: string }) => t.text), ['The', ' Eiffel', ' Tower', ' is', ' in']);
  assert.equal(result.targetTokens.map((t: { id: number }) => t.id), [NEOX_VOCAB['ĠRome']]);
  assert.equal(result.settings.modules, MODULES);
  const last = result.layers.find((l: { layer: number }) => l.layer === CFG.nLayer - 1);
  const ranks = Object.fromEntries(last.modules.map((m: { module: string; rank: number }) => [m.module, m.rank]));
  assert.equal(ranks, { 'attention.query_key_value': 5, 'attention.dense': 1, 'mlp.dense_h_to_4h': 1, 'mlp.dense_4h_to_h': 1 });
  // vocab_size 301 over a tokenizer of 283 tokens, two of them special: the lens lists none of those 20 ids.
  assert.equal(result.settings.excluded, { count: 20, padded: CFG.vocabSize - NEOX_TOKENS, special: 2 });
  const listed = new Set<number>();
  JSON.stringify(result, (key, value) => (key === 'id' && typeof value === 'number' && listed.add(value), value));
  assert.ok([...listed].every((id) => id > 1 && id < NEOX_TOKENS), 'no padded or special id listed');
});

test("factors: layers.{l}.<module>.x / .delta under the checkpoint's module names; query_key_value's delta is [n, 3d]", async () => {
  const out = join(work, 'factors.safetensors');
  const r = cli(['factors', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const t = await storedTensors(out);
  const want = ['input_ids', 'logits', ...Array.from({ length: CFG.nLayer }, (_, l) => MODULES.flatMap((m) => [`layers.${l}.${m}.x`, `layers.${l}.${m}.delta`])).flat()];
  assert.equal([...t.keys()].sort(), want.sort());
  const { nEmbd: d, nInner: f } = CFG;
  assert.equal(t.get('layers.1.attention.query_key_value.x')!.shape, [5, d]);
  assert.equal(t.get('layers.1.attention.query_key_value.delta')!.shape, [5, 3 * d]);
  assert.equal(t.get('layers.1.mlp.dense_h_to_4h.delta')!.shape, [5, f]);
  assert.equal(t.get('logits')!.shape.at(-1), CFG.vocabSize);
});

test("edit --out with shift, sgd, adam, rome and memit: a GPT-NeoX directory under the source's tensor names, only the edited matrices changed, that loads back", async () => {
  const source = await storedTensors(join(modelDir, 'model.safetensors'));
  // ROME's and MEMIT's statistics from a few windows, collected once; eval reuses them.
  const cache = join(work, 'stats');
  const stats = cli(['stats', '--model', modelDir, '--layers', '0-1', '--tokens', '256', '--cache', cache]);
  assert.is(stats.status, 0, stats.stderr);
  const ff2 = (l: number) => `gpt_neox.layers.${l}.mlp.dense_4h_to_h.weight`;
  const runs: [string, string[], string[]][] = [
    ['shift', ['--method', 'shift', '--layers', '1', '--lr', '0.5'], [ff2(1)]],
    ['sgd', ['--method', 'sgd', '--layers', '1', '--lr', '0.5', '--modules', 'ff1,attn_in'], ['gpt_neox.layers.1.attention.query_key_value.weight', 'gpt_neox.layers.1.mlp.dense_h_to_4h.weight']],
    // Adam tunes FF2's bias with its weight, as MEMIT's fine-tuning baseline does.
    ['adam', ['--method', 'adam', '--layers', '0', '--steps', '2'], [ff2(0), 'gpt_neox.layers.0.mlp.dense_4h_to_h.bias']],
    ['rome', ['--method', 'rome:layer=1', '--subject', 'The Eiffel Tower', '--cache', cache], [ff2(1)]],
    ['memit', ['--method', 'memit:layers=0-1', '--subject', 'The Eiffel Tower', '--cache', cache], [ff2(0), ff2(1)]],
  ];
  for (const [method, args, edited] of runs) {
    const dir = join(work, `edited-${method}`);
    const r = cli(['edit', '--model', modelDir, '--prompt', PROMPT, '--target', TARGET, ...args, '--tokens', '0', '--out', dir]);
    assert.is(r.status, 0, `${method}: ${r.stderr}`);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal([config.model_type, config.architectures, config.use_parallel_residual, config.rotary_pct], ['gpt_neox', ['GPTNeoXForCausalLM'], true, 0.25], method);
    assert.ok(existsSync(join(dir, 'tokenizer.json')), `${method}: the tokenizer comes along`);
    const out = await storedTensors(join(dir, 'model.safetensors'));
    assert.equal([...out.keys()].sort(), [...source.keys()].sort(), `${method}: the source's tensor names`);
    const changed = [...out].filter(([k, v]) => v.data && source.get(k)!.data!.some((x, i) => x !== v.data![i])).map(([k]) => k);
    assert.equal(changed.sort(), edited.sort(), `${method}: the edited matrices`);
    const loaded = cli(['analyze', '--model', dir, '--prompt', PROMPT, '--target', TARGET, '--layers', '1']);
    assert.is(loaded.status, 0, `${method}: the written directory loads: ${loaded.stderr}`);
  }
});

test('eval (with rome), study and sweep run on the checkpoint', () => {
  const cache = join(work, 'stats');
  const evalDir = join(work, 'eval');
  const ev = cli(['eval', '--model', modelDir, '--records', '0-1', '--method', 'original', '--method', 'shift:layers=1,lr=1', '--method', 'rome:layer=1', '--cache', cache, '--no-perplexity', '--out', evalDir]);
  assert.is(ev.status, 0, ev.stderr);
  assert.is(readFileSync(join(evalDir, 'records.jsonl'), 'utf8').trim().split('\n').length, 6);
  const study = cli(['study', '--model', modelDir, '--records', '0-1', '--out', join(work, 'study')]);
  assert.is(study.status, 0, study.stderr);
  assert.ok(existsSync(join(work, 'study', 'study.json')));
  const sweep = cli(['sweep', '--model', modelDir, '--records', '0', '--methods', 'shift', '--layers', '1', '--no-perplexity', '--out', join(work, 'sweep')]);
  assert.is(sweep.status, 0, sweep.stderr);
  assert.ok(existsSync(join(work, 'sweep', 'sweep.json')));
});

test.run();
