// The evaluation's pure parts on hand-made cases: n-gram entropy worked out by hand,
// the population standard deviation, method specs, record selection and shards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadDataError, selectRecords, type CounterFactRecord } from '../../src/data/counterfact.ts';
import { wikitextRows } from '../../src/data/wikitext.ts';
import { recordSeed } from '../../src/eval/counterfact.ts';
import { fluency, ngramEntropy, words } from '../../src/eval/fluency.ts';
import { BadMethodError, checkLayers, parseMethod } from '../../src/eval/methods.ts';
import { BadShardError, parseShard } from '../../src/cli/shard.ts';
import { shardItems } from '../../src/eval/shards.ts';
import { meanStd } from '../../src/eval/summary.ts';

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test('words: letter/digit runs, punctuation on its own', () => {
  assert.equal(words('Paris, France. It\'s 2024!'), ['Paris', ',', 'France', '.', 'It', "'", 's', '2024', '!']);
  assert.equal(words('  '), []);
});

test('n-gram entropy by hand', () => {
  // "a b a b": bigrams ab, ba, ab -> f = 2/3, 1/3: H2 = -(2/3 log2 2/3 + 1/3 log2 1/3) = log2 3 - 2/3
  near(ngramEntropy(['a', 'b', 'a', 'b'], 2), Math.log2(3) - 2 / 3, 'H2 abab');
  // trigrams aba, bab: two equally likely -> 1 bit
  near(ngramEntropy(['a', 'b', 'a', 'b'], 3), 1, 'H3 abab');
  // all n-grams distinct: log2(count)
  near(ngramEntropy(['a', 'b', 'c', 'd', 'e'], 2), 2, 'H2 abcde');
  near(ngramEntropy(['a', 'b', 'c', 'd', 'e'], 3), Math.log2(3), 'H3 abcde');
  // one repeated word: one n-gram, 0 bits; too short: none, 0
  near(ngramEntropy(['x', 'x', 'x', 'x'], 2), 0, 'xxxx');
  near(ngramEntropy(['x'], 2), 0, 'x');
  // score = (2/3 H2 + 4/3 H3) / 2
  near(fluency('a b c d e'), ((2 / 3) * 2 + (4 / 3) * Math.log2(3)) / 2, 'fluency abcde');
  near(fluency('a b a b'), ((2 / 3) * (Math.log2(3) - 2 / 3) + (4 / 3) * 1) / 2, 'fluency abab');
  // "the cat . the cat .": bigrams 2x(the cat), 2x(cat .), 1x(. the) of 5; trigrams 2x(the cat .), 1x, 1x of 4
  const h2 = -(2 * 0.4 * Math.log2(0.4) + 0.2 * Math.log2(0.2));
  const h3 = -(0.5 * Math.log2(0.5) + 2 * 0.25 * Math.log2(0.25));
  near(h3, 1.5, 'H3 by hand');
  near(fluency('the cat. the cat.'), ((2 / 3) * h2 + (4 / 3) * h3) / 2, 'punctuation counts as a word');
});

test('std is the population std (divides by n)', () => {
  const s = meanStd([0, 0, 1, 1]);
  near(s.mean, 0.5, 'mean');
  near(s.std, 0.5, 'std');
  near(meanStd([3, 3, 3]).std, 0, 'constant');
  near(meanStd([1, 2, 3, 4]).std, Math.sqrt(1.25), '1..4');
});

test('method specs: canonical labels, defaults and bad input', () => {
  assert.equal(parseMethod('original'), { kind: 'original', label: 'original' });
  assert.equal(parseMethod('shift:layers=3,lr=0.50'), { kind: 'shift', label: 'shift:layers=3,lr=0.5', layers: [3], lr: 0.5 });
  assert.equal(parseMethod('sgd:lr=1e-2,layers=0+2-3,steps=2').label, 'sgd:layers=0+2-3,lr=0.01,steps=2');
  assert.equal(parseMethod('adam:layers=1').label, 'adam:layers=1');
  const bad = ['rome', 'shift', 'shift:layers=1', 'shift:layers=1,lr=0', 'shift:layers=1,lr=x', 'sgd:layers=1,lr=1,momentum=0.9', 'adam:layers=1,steps=1.5', 'adam:layers=3-1', 'adam:layers=a', 'adam:layers=1,layers=2', 'toString:layers=1'];
  for (const spec of bad) assert.throws(() => parseMethod(spec), (e: Error) => e instanceof BadMethodError && !e.message.includes('\n'), spec);
  assert.throws(() => checkLayers(parseMethod('sgd:layers=4,lr=1'), 4), /layer 4 does not exist; the model has layers 0-3/);
});

const rec = (case_id: number): CounterFactRecord => ({ case_id, prompt: 'p', subject: 's', target_new: 't', ground_truth: 'g', rephrase_prompt: 'r', locality_prompt: 'l', locality_ground_truth: 'lg' });
const file = [2, 3, 8, 9, 11].map(rec);

test('record selection by index ranges and by case_id', () => {
  assert.equal(selectRecords(file, '0-1,4').map((s) => s.index), [0, 1, 4]);
  assert.equal(selectRecords(file, 'case:3,8-9').map((s) => s.record.case_id), [3, 8, 9]);
  for (const spec of ['5', '2-1', 'a', 'case:4', '', 'case:']) assert.throws(() => selectRecords(file, spec), (e: Error) => e instanceof BadDataError, spec);
});

test('shards: i/N, auto from Slurm or a Kubernetes indexed Job, and bad specs', () => {
  assert.equal(parseShard('1/3', {}), { index: 1, count: 3 });
  assert.equal(parseShard('auto', { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '3' }), { index: 1, count: 3 });
  assert.equal(parseShard('auto', { JOB_COMPLETION_INDEX: '2' }, '4'), { index: 2, count: 4 });
  for (const [spec, env, n] of [['3/3', {}], ['1', {}], ['a/b', {}], ['0/0', {}], ['auto', {}], ['auto', { JOB_COMPLETION_INDEX: '1' }], ['auto', { SLURM_ARRAY_TASK_ID: '1' }]] as [string, Record<string, string>, string?][]) {
    assert.throws(() => parseShard(spec, env, n), (e: Error) => e instanceof BadShardError, spec);
  }
  const items = Array.from({ length: 10 }, (_, i) => i);
  const parts = [0, 1, 2].map((index) => shardItems(items, { index, count: 3 }));
  assert.equal(parts, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
});

test('record seeds depend on the seed and the case_id only', () => {
  assert.is(recordSeed(0, 2), recordSeed(0, 2));
  assert.is.not(recordSeed(0, 2), recordSeed(0, 3));
  assert.is.not(recordSeed(0, 2), recordSeed(1, 2));
});

test('WikiText rows: lines of at least 30 characters with their newline, the first N', () => {
  const raw = ' \n = Short = \n This line is long enough to count as one row .\n\n Another line that is long enough , yes .\n';
  assert.equal(wikitextRows(raw, 100), [' This line is long enough to count as one row .\n', ' Another line that is long enough , yes .\n']);
  assert.equal(wikitextRows(raw, 1).length, 1);
});

test.run();
