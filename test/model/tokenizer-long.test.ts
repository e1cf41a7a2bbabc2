// Text holding very long words: tokenised as js-tiktoken does (the same merges), in
// time that grows about linearly with the word instead of quadratically.
import { Tiktoken } from 'js-tiktoken/lite';
import r50k from 'js-tiktoken/ranks/r50k_base';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Gpt2Tokenizer } from '../../src/tokenizer/gpt2-bpe.ts';

const reference = new Tiktoken(r50k);
const tokenizer = new Gpt2Tokenizer();

/** Deterministic text of `n` characters drawn from `alphabet`. */
function text(n: number, alphabet: string, seed: number): string {
  const chars = [...alphabet];
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return chars[s % chars.length]!;
  }).join('');
}

test('words of 300-1,500 characters (letters, digits, symbols, accents, whitespace runs, <|endoftext|>): the ids js-tiktoken gives', () => {
  const cases = [
    text(1500, 'abcdefghijklmnopqrstuvwxyz', 1),
    text(700, 'eeeeetaoinshrdlu', 2),
    ` ${text(400, '0123456789', 3)}`,
    text(600, '!?-=*#.,;', 4),
    `Paris ${text(500, 'éàüßøçñ', 5)} and${' '.repeat(300)}then<|endoftext|>${'\n'.repeat(280)}x`,
    'a'.repeat(999),
    `${text(300, 'ab', 6)}'s ${text(300, 'xyz', 7)}`,
  ];
  for (const t of cases) assert.equal(tokenizer.encode(t), reference.encode(t, 'all'), t.slice(0, 40));
});

test('a 100,000-character word is tokenised in well under a second per 10,000 characters', () => {
  const word = text(100_000, 'abcdefghijklmnopqrstuvwxyz', 8);
  const started = performance.now();
  const ids = tokenizer.encode(word);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 5, `${seconds.toFixed(1)} s`);
  assert.is(tokenizer.decode(ids), word);
  assert.ok(ids.length > 10_000 && ids.length < 100_000);
});

test.run();
