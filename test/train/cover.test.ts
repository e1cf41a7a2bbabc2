// The cover sentences of `train --family llama`: every trained target word that the
// trained sentences never use gets up to N sentences that use it, picked
// deterministically from records outside the trained ones (facts in file order, then
// rephrased facts), and never a sentence longer than the context.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { readRecords } from '../../src/cli/data.ts';
import { trainingText } from '../../src/cli/training-text.ts';
import type { CounterFactRecord } from '../../src/data/counterfact.ts';
import { HfJsonTokenizer } from '../../src/tokenizer/hf-json.ts';
import { promptIds } from '../../src/tokenizer/tokenizer.ts';
import { coverSentences, recordSentences } from '../../src/train/corpus.ts';
import { trainPieceTokenizer } from '../../src/train/piece-bpe.ts';

const rec = (case_id: number, prompt: string, ground_truth: string, target_new: string, rephrase_prompt: string, locality: [string, string]): CounterFactRecord => ({
  case_id, prompt, subject: prompt.split(' ')[0]!, ground_truth, target_new, rephrase_prompt, locality_prompt: locality[0], locality_ground_truth: locality[1],
});

const trained = [
  rec(0, 'Anna speaks', 'French', 'Welsh', 'They say Anna speaks', ['Bruno speaks', 'French']),
  rec(1, 'Carl lives in', 'Paris', 'Oslo', 'People know Carl lives in', ['Dora lives in', 'Paris']),
  rec(2, 'Emil works in', 'Paris', 'French', 'In short Emil works in', ['Fay works in', 'Paris']),
];
const sources = [
  rec(10, 'Gus speaks', 'Welsh', 'Paris', 'Gus Welsh Oslo', ['Hal lives in', 'Oslo']),
  rec(11, 'Ida speaks', 'Welsh', 'Paris', 'Ida speaks', ['Jon lives in Oslo or maybe in a much farther town', 'Oslo']),
  rec(12, 'Kim speaks', 'Welsh', 'Paris', 'Lately Oslo people say Kim speaks', ['Lea speaks', 'Welsh']),
];
const sentences = trained.flatMap(recordSentences);
const tokenizer = new HfJsonTokenizer(trainPieceTokenizer([...sentences, ...sources.flatMap(recordSentences)], { vocabSize: 320, words: ['Welsh', 'Oslo', 'French', 'Paris'] }));
const token = (word: string) => tokenizer.encode(` ${word}`).at(-1)!;

test('never-seen targets (Welsh, Oslo) get up to N sentences each: facts of the sources in file order, then rephrased facts; seen ones (French) none', () => {
  const { sentences: picked, short } = coverSentences(tokenizer, sentences, trained, sources, 3, 64);
  // Oslo has 2 after the facts (Jon's sentence holds it twice and counts once): Gus's rephrase gives the third.
  assert.equal(picked, [
    'Gus speaks Welsh', 'Hal lives in Oslo', 'Ida speaks Welsh',
    'Jon lives in Oslo or maybe in a much farther town Oslo', 'Kim speaks Welsh', 'Gus Welsh Oslo Welsh',
  ]);
  assert.equal([...short], []);
  assert.equal(coverSentences(tokenizer, sentences, trained, sources, 1, 64).sentences, ['Gus speaks Welsh', 'Hal lives in Oslo']);
  assert.equal(coverSentences(tokenizer, sentences, trained, sources, 0, 64).sentences, []);
});

test('a sentence holding two short tokens counts for both; tokens the sources cannot fill are reported short; the context limit', () => {
  const four = coverSentences(tokenizer, sentences, trained, sources, 4, 64);
  assert.equal(four.sentences.slice(5), ['Lea speaks Welsh', 'Gus Welsh Oslo Welsh', 'Lately Oslo people say Kim speaks Welsh']);
  assert.equal([...four.short], []);
  // Welsh: 4 facts, then Gus's rephrase (with Oslo's 3rd) is its 5th; Oslo ends with 4.
  const five = coverSentences(tokenizer, sentences, trained, sources, 5, 64);
  assert.is(five.sentences.length, 8);
  assert.equal([...five.short], [[token('Oslo'), 4]]);
  // Jon's long sentence is passed over under a limit one token short of it; Gus's rephrase gives Oslo's 2nd.
  const jon = promptIds(tokenizer, 'Jon lives in Oslo or maybe in a much farther town Oslo').length;
  assert.equal(coverSentences(tokenizer, sentences, trained, sources, 2, jon - 1).sentences, ['Gus speaks Welsh', 'Hal lives in Oslo', 'Ida speaks Welsh', 'Gus Welsh Oslo Welsh']);
});

test('llama-default: each of the 79 target words the first 1,000 records never use gets at least 3 sentences from train 1000+ and edit, but " statistics" 2', () => {
  const dir = 'weights/llama-default';
  const shipped = new HfJsonTokenizer({ tokenizer: readFileSync(`${dir}/tokenizer.json`, 'utf8'), config: readFileSync(`${dir}/tokenizer_config.json`, 'utf8') });
  const first = readRecords('../shared/data', 'train').slice(0, 1000);
  const text = trainingText('../shared/data', shipped, first, 3, 64);
  assert.equal(text.slice(0, 3000), first.flatMap(recordSentences));
  assert.is(text.length, 3235);
  const seen = new Set(text.slice(0, 3000).flatMap((s) => shipped.encode(s)));
  const never = [...new Set(first.map((r) => shipped.answerIds(r.prompt, r.target_new)[0]!).filter((id) => !seen.has(id)))];
  assert.is(never.length, 79);
  const uses = (id: number) => text.slice(3000).filter((s) => shipped.encode(s).includes(id)).length;
  // A sentence picked for one word may hold another already covered (" NATO" ends in 6).
  assert.equal(never.filter((id) => uses(id) < 3).map((id) => [shipped.decode([id]), uses(id)]), [[' statistics', 2]]);
});

test.run();
