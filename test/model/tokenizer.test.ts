import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tiktoken } from 'js-tiktoken/lite';
import r50k from 'js-tiktoken/ranks/r50k_base';
import { Gpt2Tokenizer, TokenizerError } from '../../src/tokenizer/gpt2-bpe.ts';

const gpt2 = new Gpt2Tokenizer();

function roundTrips(tok: Gpt2Tokenizer, s: string): void {
  const back = tok.decode(tok.encode(s));
  if (back !== s) assert.unreachable(`round trip changed ${JSON.stringify(s)} into ${JSON.stringify(back)}`);
}

function throwsTokenizerError(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, TokenizerError);
    const text = (e as Error).message;
    assert.match(text, message);
    assert.not.match(text, /\n/, 'messages are one line');
    return;
  }
  assert.unreachable('expected a TokenizerError');
}

/** mulberry32: a tiny seeded generator so fuzz failures reproduce. */
function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Code point ranges the fuzz draws from; surrogates are left out (see the lone
// surrogate test).
const FUZZ_RANGES: readonly [number, number][] = [
  [0x20, 0x7e], [0x20, 0x7e], [0x30, 0x39], [0x00, 0x1f], [0x7f, 0x9f], [0xa0, 0x24f],
  [0x300, 0x36f], [0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f], [0x2000, 0x206f],
  [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xf8ff], [0xfe00, 0xfe0f],
  [0x1f300, 0x1faff], [0x10000, 0x10ffff],
];
const FUZZ_SNIPPETS = [' ', '\n', '\t', '\r\n', "'s", "'ll", '  ', '\u00a0', '\u200d', '<|endoftext|>', '👨‍👩‍👧‍👦'];

function randomString(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let s = '';
  for (let n = Math.floor(rand() * 40); n > 0; n--) {
    if (rand() < 0.15) { s += pick(FUZZ_SNIPPETS); continue; }
    const [lo, hi] = pick(FUZZ_RANGES);
    s += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
  }
  return s;
}

const fuzzStrings = (seed: number, count: number): string[] => {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => randomString(rand));
};

test('known GPT-2 ids', () => {
  assert.equal(gpt2.encode('Hello world'), [15496, 995]);
  assert.equal(gpt2.encode(' Paris'), [6342]);
  assert.equal(gpt2.encode('The quick brown fox'), [464, 2068, 7586, 21831]);
  assert.equal(gpt2.encode(' the'), [262]);
  assert.equal(gpt2.encode('!'), [0]);
  assert.equal(gpt2.encode('\n'), [198]);
  assert.equal(gpt2.encode('  hello'), [220, 23748]);
  assert.equal(gpt2.encode('é'), [2634]);
  assert.equal(gpt2.encode('😀'), [47249, 222]);
  assert.equal(gpt2.encode('<|endoftext|>'), [50256]);
  assert.equal(gpt2.encode(''), []);
  assert.is(gpt2.vocabSize, 50257);
});

test('token bytes agree with js-tiktoken for every GPT-2 token', () => {
  const reference = new Tiktoken(r50k);
  const lenient = new TextDecoder();
  for (let id = 0; id < gpt2.vocabSize; id++) {
    const mine = lenient.decode(gpt2.tokenBytes(id));
    if (mine !== reference.decode([id])) assert.unreachable(`token ${id} decodes differently`);
  }
  assert.equal([...gpt2.tokenBytes(6342)], [...new TextEncoder().encode(' Paris')]);
  assert.equal([...gpt2.tokenBytes(188)], [0x00]);
  assert.equal([...gpt2.tokenBytes(47249)], [0xf0, 0x9f, 0x98]);
});

test('token bytes are the ranks\' base64 entries byte for byte (invalid UTF-8 included), decoded by Node', () => {
  const [, offset, ...entries] = r50k.bpe_ranks.trim().split(' ');
  assert.is(Number(offset) + entries.length, 50256, 'one line of ranks, 0 to 50255');
  entries.forEach((b64, i) => {
    const want = Buffer.from(b64, 'base64');
    const mine = gpt2.tokenBytes(Number(offset) + i);
    if (Buffer.compare(Buffer.from(mine), want) !== 0) assert.unreachable(`token ${Number(offset) + i}: [${[...mine]}], expected [${[...want]}]`);
  });
  assert.equal([...gpt2.tokenBytes(50256)], [...new TextEncoder().encode('<|endoftext|>')]);
});

test('tokenBytes returns a copy', () => {
  gpt2.tokenBytes(0)[0] = 0x41;
  assert.is(gpt2.decode([0]), '!');
});

test('decode joins bytes before UTF-8 decoding', () => {
  assert.is(gpt2.decode([47249, 222]), '😀');
  assert.is(gpt2.decode([47249]), '\ufffd', 'a partial character alone decodes as U+FFFD');
  assert.is(gpt2.decode([]), '');
});

test('round trip: Unicode, emoji, CJK, combining marks, controls', () => {
  const cases = [
    'Hello, world!', '  leading and trailing  ', 'tabs\tand\nnewlines\r\n\n\n',
    '😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🧑🏿‍🚀 in space', '🇫🇷🇯🇵',
    '日本語のテキスト', '中文，标点。', '한국어 문장', 'Привет, мир', 'مرحبا بالعالم', 'नमस्ते',
    'e\u0301', 'a\u0300\u0301\u0302\u0303', 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
    '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f',
    '\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f',
    '\u00a0\u2028\u2029\ufeff\u200b', '\u{10ffff}\u{e0001}', 'it\'s they\'ll we\'ve',
    'x<|endoftext|>y', '<|endoftext', 'a'.repeat(3000), ' '.repeat(100),
  ];
  for (const s of cases) roundTrips(gpt2, s);
});

test('lone surrogates become U+FFFD (UTF-8 cannot carry them)', () => {
  assert.is(gpt2.decode(gpt2.encode('a\ud800b')), 'a\ufffdb');
  assert.is(gpt2.decode(gpt2.encode('\udc00')), '\ufffd');
  assert.is(gpt2.decode(gpt2.encode('😀\ud83d')), '😀\ufffd');
});

test('round trip: 600 seeded random strings', () => {
  for (const s of fuzzStrings(0x5eed, 600)) roundTrips(gpt2, s);
});

// The encoder is this project's own (byte-bpe.ts over gpt2-table.ts): js-tiktoken is the reference.
test('ids are js-tiktoken\'s: 2,000 seeded random strings, the docs, 300,000 characters of WikiText-2, CounterFact prompts', () => {
  const reference = new Tiktoken(r50k);
  const same = (s: string) => {
    const mine = gpt2.encode(s);
    const want = reference.encode(s, 'all');
    if (mine.length !== want.length || mine.some((id, i) => id !== want[i])) assert.unreachable(`ids differ for ${JSON.stringify(s.slice(0, 80))}`);
  };
  for (const s of fuzzStrings(0xb9e, 2000)) same(s);
  for (const f of ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => join('docs', f))]) same(readFileSync(f, 'utf8'));
  same(readFileSync('../shared/data/wikitext-2-raw/wiki.test.raw', 'utf8').slice(0, 300_000));
  const records = JSON.parse(readFileSync('../shared/data/counterfact/counterfact-val.json', 'utf8')) as Record<string, string>[];
  for (const r of records.slice(0, 300)) {
    for (const key of ['prompt', 'rephrase_prompt', 'locality_prompt']) same(r[key]!);
    same(` ${r.target_new}`);
  }
});

test('tokenText display', () => {
  assert.is(gpt2.tokenText(6342), ' Paris');
  assert.is(gpt2.tokenText(220), ' ');
  assert.is(gpt2.tokenText(198), '\\n');
  assert.is(gpt2.tokenText(197), '\\t');
  assert.is(gpt2.tokenText(201), '\\r');
  assert.is(gpt2.tokenText(59), '\\\\', 'a backslash is escaped so it cannot pass for \\n');
  assert.is(gpt2.tokenText(188), '\\x00');
  assert.is(gpt2.tokenText(215), '\\x1B');
  assert.is(gpt2.tokenText(221), '\\x7F');
  assert.is(gpt2.tokenText(9525), '\\xE2\\x80\\x8B', 'zero-width space is a format character');
  assert.is(gpt2.tokenText(2634), 'é');
  assert.is(gpt2.tokenText(47249), '\\xF0\\x9F\\x98', 'partial character');
  assert.is(gpt2.tokenText(222), '\\x80', 'continuation byte');
  assert.is(gpt2.tokenText(564), ' \\xE2\\x80', 'valid prefix, partial tail');
  assert.is(gpt2.tokenText(50256), '<|endoftext|>');
  for (let id = 0; id < gpt2.vocabSize; id++) {
    const text = gpt2.tokenText(id);
    if (/[\n\r\t\x00-\x1f\x7f]/.test(text)) assert.unreachable(`token ${id} displays a raw control character`);
    if (gpt2.tokenBytes(id)[0] === 0x20 && !text.startsWith(' ')) assert.unreachable(`token ${id} lost its leading space`);
  }
});

test('id range checks', () => {
  throwsTokenizerError(() => gpt2.decode([50257]), /model token id 50257 is out of range/);
  throwsTokenizerError(() => gpt2.tokenText(-1), /out of range/);
  throwsTokenizerError(() => gpt2.tokenBytes(1.5), /out of range/);
  throwsTokenizerError(() => gpt2.gpt2Id(50257), /out of range/);
  throwsTokenizerError(() => gpt2.modelId(50257), /GPT-2 token id 50257 is out of range/);
  assert.is(gpt2.gpt2Id(6342), 6342);
  assert.is(gpt2.modelId(6342), 6342);
});

// GPT-2's first 256 ids are its single-byte tokens, in its own byte order.
const BYTE_TOKEN = new Map(Array.from({ length: 256 }, (_, id) => [gpt2.tokenBytes(id)[0]!, id] as const));

test('GPT-2 ids 0-255 are one token per byte', () => {
  assert.is(BYTE_TOKEN.size, 256);
  for (let id = 0; id < 256; id++) assert.is(gpt2.tokenBytes(id).length, 1);
});

// GPT-2 ids of the single-byte tokens for the UTF-8 bytes of `s`.
const byteTokens = (s: string): number[] => Array.from(new TextEncoder().encode(s), (b) => BYTE_TOKEN.get(b)!);

test('reduced vocabulary maps ids both ways', () => {
  const tok = new Gpt2Tokenizer([15496, 995, 6342, 50256]);
  assert.is(tok.vocabSize, 4);
  assert.equal(tok.encode('Hello world Paris'), [0, 1, 2]);
  assert.equal(tok.encode('Hello<|endoftext|>'), [0, 3]);
  assert.is(tok.decode([2, 0, 1]), ' ParisHello world');
  assert.is(tok.gpt2Id(2), 6342);
  assert.is(tok.modelId(6342), 2);
  assert.is(tok.modelId(464), undefined);
  assert.is(tok.tokenText(2), ' Paris');
  assert.equal([...tok.tokenBytes(1)], [...new TextEncoder().encode(' world')]);
  throwsTokenizerError(() => tok.decode([4]), /model token id 4 is out of range: expected an integer in \[0, 4\)/);
  throwsTokenizerError(() => tok.gpt2Id(4), /out of range/);
});

test('reduced vocabulary falls back to single-byte tokens', () => {
  const vocab = [15496, ...byteTokens(' wor'), ...byteTokens('ld'), ...byteTokens('é')];
  const tok = new Gpt2Tokenizer(vocab);
  const ids = tok.encode('Hello world');
  assert.equal(ids.map((id) => tok.gpt2Id(id)), [15496, ...byteTokens(' world')]);
  assert.is(tok.decode(ids), 'Hello world');
  assert.equal(tok.encode('é').map((id) => tok.gpt2Id(id)), byteTokens('é'));
});

test('reduced vocabulary: every string round-trips when all 256 byte tokens are present', () => {
  const rand = seededRandom(7);
  const others = Array.from({ length: 3000 }, () => Math.floor(rand() * 50257));
  const vocab = [...new Set([...BYTE_TOKEN.values(), ...others])];
  const tok = new Gpt2Tokenizer(vocab);
  for (const s of fuzzStrings(0xb17e, 200)) {
    for (const id of tok.encode(s)) if (id >= tok.vocabSize) assert.unreachable(`id ${id} exceeds the vocabulary`);
    roundTrips(tok, s);
  }
});

test('reduced vocabulary: text it cannot spell is rejected, naming the text', () => {
  const tok = new Gpt2Tokenizer([15496, 995]);
  throwsTokenizerError(() => tok.encode('Hello Paris'), /cannot encode " Paris": GPT-2 token 6342 is not in this model's 2-token vocabulary/);
  throwsTokenizerError(() => tok.encode('Hello\n'), /cannot encode "\\n"/);
  // Only the emoji's second token is missing; the message names the whole character.
  const partial = new Gpt2Tokenizer([47249]);
  throwsTokenizerError(() => partial.encode('😀'), /cannot encode "😀": GPT-2 token 222 /);
});

test('reduced vocabulary declarations are validated', () => {
  throwsTokenizerError(() => new Gpt2Tokenizer([1, 2, 1]), /lists GPT-2 token 1 twice \(entries 0 and 2\)/);
  throwsTokenizerError(() => new Gpt2Tokenizer([0, 50257]), /entry 1 is 50257, not a GPT-2 token id/);
  throwsTokenizerError(() => new Gpt2Tokenizer([-1]), /entry 0 is -1/);
  throwsTokenizerError(() => new Gpt2Tokenizer([2.5]), /entry 0 is 2.5/);
  throwsTokenizerError(() => new Gpt2Tokenizer([]), /reduced vocabulary is empty/);
});

test('the interface: special ids, the answer rule, parts that name the token a reduced vocabulary lacks', () => {
  assert.is(gpt2.bos, 50256);
  assert.is(gpt2.eos, 50256);
  const reduced = new Gpt2Tokenizer([15496, ...byteTokens(' world'), 50256]);
  assert.is(reduced.bos, 7);
  assert.is(new Gpt2Tokenizer([15496]).bos, undefined);
  // <|endoftext|> is special, yet the lens keeps it: GPT-2's lists stay as they were.
  assert.not.ok(gpt2.isReal(50256));
  assert.equal(gpt2.lensExcluded, { ids: [], padded: 0, special: 0 });
  assert.equal(gpt2.answerIds('The capital of France is', 'Paris'), gpt2.encode(' Paris'));
  assert.equal(reduced.encodeParts('Hello world'), [
    { text: 'Hello', ids: [0], spelled: false },
    { text: ' world', ids: [1, 2, 3, 4, 5, 6], spelled: true },
  ]);
});

test('callers use the Tokenizer interface: the loader goes through tokenizerFor, only the train setup builds the GPT-2 class', () => {
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
  const users = [...walk('src'), ...walk('web')].filter((f) => !f.startsWith(join('src', 'tokenizer')) && /tokenizer\/gpt2-bpe\.ts'/.test(readFileSync(f, 'utf8')));
  assert.equal(users.sort(), [join('src', 'browser.ts'), join('src', 'cli', 'train-setup.ts')]);
});

test.run();
