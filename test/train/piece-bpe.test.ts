// The tokenizer trainer for the embedded Llama model: its tokenizer.json loads through
// the hf-json loader (@huggingface/tokenizers), round-trips text, makes each required
// word one token, and the SentencePiece target rule (the target's ▁word after the
// prompt's tokens) holds on it. Trained on the first 200 CounterFact records here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readRecords } from '../../src/cli/data.ts';
import { HfJsonTokenizer } from '../../src/tokenizer/hf-json.ts';
import { promptIds } from '../../src/tokenizer/tokenizer.ts';
import { recordSentences } from '../../src/train/corpus.ts';
import { trainPieceTokenizer } from '../../src/train/piece-bpe.ts';

const records = readRecords('../shared/data', 'train').slice(0, 200);
const sentences = records.flatMap(recordSentences);
// Words that never occur in the sentences: their chains start from single characters.
const words = [...records.map((r) => r.target_new.split(' ')[0]!), 'Zyxwvüt', 'Québec'];
const files = trainPieceTokenizer(sentences, { vocabSize: 600, words });
const tokenizer = new HfJsonTokenizer(files);
const json = JSON.parse(files.tokenizer);

test('Llama 2 layout: <unk> <s> </s>, 256 byte tokens, ▁ normalizer, byte fallback, BOS from tokenizer_config.json', () => {
  assert.is(json.model.type, 'BPE');
  assert.is(json.model.byte_fallback, true);
  assert.equal(json.normalizer.normalizers.map((n: { type: string }) => n.type), ['Prepend', 'Replace']);
  assert.is(json.pre_tokenizer, null);
  assert.equal(json.decoder.decoders.map((d: { type: string }) => d.type), ['Replace', 'ByteFallback', 'Fuse', 'Strip']);
  assert.equal([json.model.vocab['<unk>'], json.model.vocab['<s>'], json.model.vocab['</s>'], json.model.vocab['<0x00>'], json.model.vocab['<0xFF>']], [0, 1, 2, 3, 258]);
  assert.is(tokenizer.bos, 1);
  assert.is(tokenizer.eos, 2);
  assert.equal(promptIds(tokenizer, 'The Eiffel Tower').slice(0, 1), [1]);
  // Every merge's result is a token, and the learned part stops at the size asked for.
  for (const m of json.model.merges as string[]) assert.ok(json.model.vocab[m.replace(' ', '')] !== undefined, m);
  assert.ok(Object.keys(json.model.vocab).length >= 600);
});

test('round trip: the training sentences and text outside the alphabet (byte fallback) decode to themselves', () => {
  // The engine's decode keeps the ▁ the normalizer put first (tokenizer.json's decoder strips it).
  for (const s of [...sentences.slice(0, 50), 'naïve 東京 emoji 🙂', '  two  spaces ']) assert.is(tokenizer.decode(tokenizer.encode(s)), ` ${s}`);
  const ids = tokenizer.encode('東');
  // ▁ (the normalizer's), then 東's three UTF-8 bytes as <0xNN> tokens (id 3 + byte).
  assert.equal(ids, [json.model.vocab['▁'], 3 + 0xe6, 3 + 0x9d, 3 + 0xb1]);
});

test('each required word is one token after any prompt, and the target rule puts ▁word after the prompt', () => {
  for (const r of records.slice(0, 100)) {
    const word = r.target_new.split(' ')[0]!;
    const parts = tokenizer.targetParts(r.prompt, ` ${r.target_new}`);
    assert.is(parts.warning, undefined, r.prompt);
    assert.is(tokenizer.decode(parts.parts[0]!.ids), ` ${word}`, r.target_new);
    assert.ok(tokenizer.isReal(parts.parts[0]!.ids[0]!));
  }
  for (const w of ['Zyxwvüt', 'Québec']) assert.is(tokenizer.answerIds('He lives in', w).length, 1, w);
});

test('deterministic: the same sentences train the same file', () => {
  assert.is(trainPieceTokenizer(sentences, { vocabSize: 600, words }).tokenizer, files.tokenizer);
});

test.run();
