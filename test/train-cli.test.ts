// `backward-lens train` and `facts` as a user runs them, on a tiny model trained on
// 40 CounterFact records from ../shared/data: a stopped and resumed run ends
// bit-identical to an uninterrupted one, and facts --writes reports every layer.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

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

test('bad options: one line, exit 2, nothing written', () => {
  const r = cli(['train', '--out', join(work, 'bad'), '--embd', '30', '--heads', '4']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--embd 30 must be divisible by --heads 4/);
  assert.not.ok(existsSync(join(work, 'bad')));
  assert.is(cli(['facts', '--records', '0']).status, 2);
  assert.is(cli(['train']).status, 2);
});

test.run();
