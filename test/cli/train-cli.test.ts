// `backward-lens train` and `facts` as a user runs them, on a tiny model trained on
// 40 CounterFact records from ../shared/data: a stopped and resumed run ends
// bit-identical to an uninterrupted one, and facts --writes reports every layer.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interrupted } from '../cli-run.ts';
import { readRecords } from '../../src/cli/data.ts';
import { fileSource } from '../../src/model/node-file.ts';
import { openSafetensors } from '../../src/model/safetensors.ts';
import { Gpt2Tokenizer } from '../../src/tokenizer/gpt2-bpe.ts';
import { recordSentences } from '../../src/train/corpus.ts';

const work = mkdtempSync(join(tmpdir(), 'bl-train-'));
const TINY = ['--records', '40', '--layers', '2', '--embd', '16', '--heads', '2', '--epochs', '2', '--batch', '8', '--warmup', '3'];

function cli(args: string[]) {
  return spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('train: stopped after 10 steps and resumed, the weights equal an uninterrupted run bit for bit', () => {
  const whole = join(work, 'whole');
  const r = cli(['train', '--out', whole, ...TINY]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /trained 30 steps/);
  const parts = join(work, 'parts');
  assert.is(cli(['train', '--out', parts, ...TINY, '--max-steps', '10']).status, 0);
  const resumed = cli(['train', '--out', parts, ...TINY, '--resume']);
  assert.is(resumed.status, 0, resumed.stderr);
  assert.ok(readFileSync(join(whole, 'model.safetensors')).equals(readFileSync(join(parts, 'model.safetensors'))));
  const log = readFileSync(join(parts, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log.map((l) => l.step), Array.from({ length: 30 }, (_, i) => i + 1));
});

test('facts --writes --json: recall of each set and, per layer, the target_new write rate over all 40 records', () => {
  const r = cli(['facts', '--model', join(work, 'whole'), '--records', '40', '--writes', '--json']);
  assert.is(r.status, 0, r.stderr);
  const q = JSON.parse(r.stdout);
  for (const set of ['trainedPrompt', 'trainedLocality', 'trainedRephrase', 'heldOutPrompt']) assert.is(q[set].total, 40, set);
  const w = q.targetWrites;
  assert.is(w.k, 5);
  assert.equal(w.seenInTraining.map((x: { layer: number }) => x.layer), [0, 1]);
  for (let l = 0; l < 2; l++) {
    const [seen, never] = [w.seenInTraining[l], w.neverSeen[l]];
    assert.is(seen.total + never.total, 40);
    assert.ok(seen.hits <= seen.total && seen.medianRank >= 1);
  }
});

test('train --resume with no checkpoint is refused and keeps the log; --out that is a file is refused', () => {
  const dir = join(work, 'nothing-to-resume');
  mkdirSync(dir);
  writeFileSync(join(dir, 'train-log.jsonl'), '{"step":1}\n');
  const r = cli(['train', '--out', dir, ...TINY, '--resume']);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--resume: there is no .*checkpoint\.safetensors to continue from; run without --resume/);
  assert.is(readFileSync(join(dir, 'train-log.jsonl'), 'utf8'), '{"step":1}\n');
  const file = join(work, 'a-file');
  writeFileSync(file, 'x');
  const f = cli(['train', '--out', file, ...TINY]);
  assert.is(f.status, 2, f.stderr);
  assert.match(f.stderr, /--out .*a-file is a file, not a directory/);
  assert.not.match(f.stderr, /EEXIST/);
});

test('a damaged data file is named in the error', () => {
  const data = join(work, 'damaged');
  mkdirSync(join(data, 'counterfact'), { recursive: true });
  writeFileSync(join(data, 'counterfact', 'counterfact-train.json'), '[{"prompt": "The capital of');
  const r = cli(['train', '--out', join(work, 'never'), '--data', data, ...TINY]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /counterfact-train\.json is not valid JSON .*restore it/);
});

test('Ctrl-C: a checkpoint and the command to resume; resumed, the run ends as the uninterrupted one, with recall progress', async () => {
  const dir = join(work, 'interrupted');
  const log = join(dir, 'train-log.jsonl');
  const { code, stderr } = await interrupted(['train', '--out', dir, ...TINY], () => existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 3, 'SIGINT');
  assert.is(code, 130, stderr);
  const m = /interrupted after step (\d+) of 30; wrote .*checkpoint\.safetensors\. Continue with:\n {2}(backward-lens train .*--resume)\n/.exec(stderr);
  assert.ok(m, stderr);
  assert.ok(Number(m![1]) < 30, 'the run finished before the interrupt');
  const resumed = cli(m![2]!.split(' ').slice(1));
  assert.is(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /\d+\/\d+ prompts through fact recall/);
  assert.ok(readFileSync(join(work, 'whole', 'model.safetensors')).equals(readFileSync(join(dir, 'model.safetensors'))));
  const steps = readFileSync(log, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
  assert.equal(steps, Array.from({ length: 30 }, (_, i) => i + 1));
});

test('facts --records 10 --writes: targets count as seen by any of the 40 records the model trained on', async () => {
  const model = join(work, 'whole');
  const r = cli(['facts', '--model', model, '--records', '10', '--writes', '--json']);
  assert.is(r.status, 0, r.stderr);
  const w = JSON.parse(r.stdout).targetWrites;
  const src = await fileSource(join(model, 'model.safetensors'));
  const tokenizer = new Gpt2Tokenizer(JSON.parse((await openSafetensors(src)).metadata.vocab!) as number[]);
  await src.close();
  const train = readRecords('../shared/data', 'train');
  const seen = new Set(train.slice(0, 40).flatMap(recordSentences).flatMap((s) => tokenizer.encode(s)));
  const expected = train.slice(0, 10).filter((rec) => seen.has(tokenizer.encode(` ${rec.target_new}`)[0]!)).length;
  assert.is(w.seenInTraining[0].total, expected);
  assert.is(w.seenInTraining[0].total + w.neverSeen[0].total, 10);
});

test('bad options: one line, exit 2, nothing written', () => {
  const r = cli(['train', '--out', join(work, 'bad'), '--embd', '30', '--heads', '4']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--embd 30 must be divisible by --heads 4/);
  assert.not.ok(existsSync(join(work, 'bad')));
  assert.is(cli(['facts', '--records', '0']).status, 2);
  assert.is(cli(['train']).status, 2);
});

test.run();
