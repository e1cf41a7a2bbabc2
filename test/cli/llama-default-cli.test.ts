// The embedded Llama model picked by name (--model llama-default) in the commands a
// user runs on it: analyze (BOS first, the target at the bottom of the last FF2's
// LL(δ_n)), edit (the shift makes the target the answer; --out writes a loadable
// Llama directory), eval on 3 records and study on 5.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const work = mkdtempSync(join(tmpdir(), 'bl-llama-default-'));
const MODEL = ['--model', 'llama-default'];
// Trained record case 6: ground truth " French", target_new " Russian".
const PAIR = ['--prompt', 'Michel Denisot spoke the language', '--target', ' Russian'];

function cli(args: string[]) {
  return spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('analyze --model llama-default: BOS first, the answer French, the target bottom-1 of the last FF2 LL(δ_n)', () => {
  const json = join(work, 'analyze.json');
  const r = cli(['analyze', ...MODEL, ...PAIR, '--json', json]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /FF2 \(mlp\.down_proj\)/);
  const a = JSON.parse(readFileSync(json, 'utf8')).results[0];
  assert.is(a.tokens[0].text, '<s>');
  assert.is(a.original.text, ' French');
  assert.equal(a.targetTokens.map((t: { text: string }) => t.text), [' Russian']);
  const last = a.layers.at(-1);
  assert.is(last.modules.find((m: { module: string }) => m.module === 'mlp.down_proj').delta.at(-1).targetRank, 1);
});

test('edit --model llama-default: the shift makes Russian the answer; --out writes a Llama directory that loads', () => {
  const out = join(work, 'edited');
  const json = join(work, 'edit.json');
  const r = cli(['edit', ...MODEL, ...PAIR, '--method', 'shift', '--tokens', '0', '--out', out, '--json', json]);
  assert.is(r.status, 0, r.stderr);
  const e = JSON.parse(readFileSync(json, 'utf8'));
  assert.is(e.pairs[0].after.target.rank, 1);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(existsSync(join(out, f)), f);
  const again = cli(['analyze', '--model', out, ...PAIR, '--json', join(work, 'again.json')]);
  assert.is(again.status, 0, again.stderr);
  assert.is(JSON.parse(readFileSync(join(work, 'again.json'), 'utf8')).results[0].original.text, ' Russian');
});

test('eval --model llama-default on 3 records: original and the shift, every line measured', () => {
  const out = join(work, 'eval');
  const r = cli(['eval', ...MODEL, '--records', '0-2', '--method', 'original', '--method', 'shift', '--no-perplexity', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const lines = readFileSync(join(out, 'records.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 6);
  for (const l of lines) assert.type(l.efficacy, 'number');
  const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.is(s.methods.length, 2);
});

test('study --model llama-default on 5 records: Fig. 4 ranks n before the last layer, 1 for its down_proj', () => {
  const out = join(work, 'study');
  const r = cli(['study', ...MODEL, '--records', '0-4', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const s = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8'));
  assert.is(s.data.studied, 5);
  assert.is(s.aggregates.correct, 5, 'the model answers each true answer, its ▁word read after the prompt');
  const down = s.aggregates.rank['mlp.down_proj'];
  assert.equal(down.slice(0, -1).map((row: { equalN: number }) => row.equalN), [5, 5, 5]);
  assert.is(down.at(-1).equalN, 0);
  assert.ok(existsSync(join(out, 'fig4-rank-equals-n.svg')));
});

test.run();
