// A small hand-made tokenizer.json in Pythia's shape (byte-level BPE: NFC, ByteLevel
// pre-tokenizer without a prefix space, <|endoftext|> and <|padding|> at ids 0 and 1,
// no BOS added to a prompt) and its tokenizer_config.json, for random GPT-NeoX
// checkpoints: the 256 byte tokens spell any text, and merges make whole words of the
// tests' prompts. No package ships Pythia's own.
import { BYTE_OF_CHAR } from '../../src/tokenizer/bytes.ts';

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** Merges that make The, ĠEiffel, ĠTower, Ġis, Ġin, ĠParis, ĠRome (Ġ is the space byte). */
const MERGES = [
  'h e', 'T he', 'Ġ E', 'f f', 'i ff', 'e l', 'iff el', 'ĠE iffel', 'Ġ T', 'o w', 'ow e', 'owe r', 'ĠT ower', 'Ġ i', 'Ġi s', 'Ġi n',
  'Ġ P', 'a r', 'ĠP ar', 'i s', 'ĠPar is', 'Ġ R', 'o m', 'om e', 'ĠR ome',
];

/** The byte alphabet in byte order, as byte-level vocabularies list it. */
const BYTE_CHARS = [...BYTE_OF_CHAR].sort((a, b) => a[1] - b[1]).map(([c]) => c);

function vocabulary(): Record<string, number> {
  const vocab: Record<string, number> = {};
  for (const t of ['<|endoftext|>', '<|padding|>', ...BYTE_CHARS, ...MERGES.map((m) => m.replace(' ', ''))]) vocab[t] ??= Object.keys(vocab).length;
  return vocab;
}

export const NEOX_VOCAB: Readonly<Record<string, number>> = vocabulary();
/** Tokens in the file: rows of a checkpoint's vocab_size above this stand for no token. */
export const NEOX_TOKENS = Object.keys(NEOX_VOCAB).length;

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

export const NEOX_TOKENIZER_JSON = JSON.stringify({
  version: '1.0', truncation: null, padding: null,
  added_tokens: [special(0, '<|endoftext|>'), special(1, '<|padding|>')],
  normalizer: { type: 'NFC' },
  pre_tokenizer: BYTE_LEVEL,
  post_processor: BYTE_LEVEL,
  decoder: BYTE_LEVEL,
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, vocab: NEOX_VOCAB, merges: MERGES },
});

export const NEOX_TOKENIZER_CONFIG = JSON.stringify({ add_prefix_space: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', tokenizer_class: 'GPTNeoXTokenizer' });
