// Llama 2's tokenizer.json and tokenizer_config.json as Hugging Face ships them
// (Llama-2-7b-hf), built from the vocabulary and merges of llama-tokenizer-js (MIT):
// the tokenizer tests compare ids with that package, and the 7B-shaped bench
// checkpoint (bench/lib/llama-shapes.ts) carries them, without any download.
import llama2 from 'llama-tokenizer-js';

export const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** tokenizer.json's post-processor that puts BOS before each sequence (Llama 2, Mistral, later Llama 3 files). */
export const bosTemplate = (bos: string, id: number) => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
  pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: { [bos]: { id: bos, ids: [id], tokens: [bos] } },
});

/** SentencePiece-style decoder: ▁ is a space, byte tokens fuse, the first space goes. */
export const PIECE_DECODER = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };

/** Llama 2's tokenizer.json. */
export function llama2TokenizerJson(): string {
  const merges = [...llama2.merges].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: bosTemplate('<s>', 1),
    decoder: PIECE_DECODER,
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true,
      vocab: Object.fromEntries(llama2.vocabById.map((token, id) => [token, id])), merges,
    },
  });
}

export const LLAMA2_TOKENIZER_CONFIG = JSON.stringify({
  add_bos_token: true, add_eos_token: false, legacy: false, tokenizer_class: 'LlamaTokenizer',
  bos_token: { __type: 'AddedToken', content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  eos_token: { __type: 'AddedToken', content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  unk_token: { __type: 'AddedToken', content: '<unk>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  pad_token: null, clean_up_tokenization_spaces: false,
});
