// A small hand-made tokenizer.json in Llama 2's / Mistral's shape (Metaspace ▁, byte
// fallback, BOS by template) and its tokenizer_config.json, for random Llama-family
// checkpoints that the commands load: its vocabulary spells any text, and merges whole
// words of the tests' prompts.

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

const LETTERS = [...'abcdefghijklmnopqrstuvwxyzPTE'];
/** Merges that make ▁The, ▁Eiffel, ▁Tower, ▁is, ▁in, ▁Paris, ▁Rome. */
const MERGES = ['▁ T', 'h e', '▁T he', 'f f', 'e l', 'ff el', '▁ E', 'i ffel', '▁E iffel', 'o w', 'ow e', 'owe r', '▁T ower', 'i s', '▁ is', 'i n', '▁ in', '▁ P', 'a r', '▁P ar', '▁Par is', '▁ R', 'o m', 'om e', '▁R ome'];

/** The 259 fixed tokens (<unk>, <s>, </s>, bytes), ▁ and the letters, then each merge's result. */
function vocabulary(): Record<string, number> {
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const vocab: Record<string, number> = {};
  for (const t of ['<unk>', '<s>', '</s>', ...bytes, '▁', ...LETTERS, ...MERGES.map((m) => m.replace(' ', ''))]) vocab[t] ??= Object.keys(vocab).length;
  return vocab;
}

export const PIECE_VOCAB: Readonly<Record<string, number>> = vocabulary();
/** Tokens in the file: a checkpoint's vocab_size must be at least this. */
export const PIECE_TOKENS = Object.keys(PIECE_VOCAB).length;

export const PIECE_TOKENIZER_JSON = JSON.stringify({
  version: '1.0', truncation: null, padding: null,
  added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
  normalizer: null,
  pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
  },
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab: PIECE_VOCAB, merges: MERGES },
});

export const PIECE_TOKENIZER_CONFIG = JSON.stringify({ add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', tokenizer_class: 'LlamaTokenizer' });
