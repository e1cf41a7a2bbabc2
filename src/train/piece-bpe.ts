// Trains a small byte-fallback BPE tokenizer in Llama 2's tokenizer.json shape on the
// training sentences, so a model trained here has a SentencePiece-style vocabulary of
// its own: ▁ marks a word's start (Prepend ▁, then every space becomes ▁), a character
// outside the alphabet falls back to its <0xNN> byte tokens, and BOS starts a prompt.
// Pure functions over strings: the CLI reads the records and writes the files.

const UNK = '<unk>';
const BOS = '<s>';
const EOS = '</s>';
const SPACE = '▁';

export interface PieceTokenizerFiles {
  /** tokenizer.json's text. */
  readonly tokenizer: string;
  /** tokenizer_config.json's text. */
  readonly config: string;
}

export interface PieceTraining {
  /** Tokens learned from the sentences' words (specials and byte tokens included), before `words` are added. */
  readonly vocabSize: number;
  /**
   * Words that must each be one token (each with its leading ▁): the first words of
   * the targets edits may aim at, so the target is one row of the head, as GPT-2's
   * whole-word targets are.
   */
  readonly words: readonly string[];
}

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const byteToken = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** Each sentence's words as the normalizer leaves them (▁ before each), counted. */
function wordCounts(sentences: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sentences) for (const w of s.split(' ')) counts.set(SPACE + w, (counts.get(SPACE + w) ?? 0) + 1);
  return counts;
}

/**
 * Pair counts kept up to date as merges rewrite words: each merge touches only the
 * words holding its pair, so training is fast on a few thousand distinct words.
 */
class PairCounts {
  readonly counts = new Map<string, number>();
  readonly where = new Map<string, Set<number>>();

  add(symbols: readonly string[], word: number, weight: number): void {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = `${symbols[i]} ${symbols[i + 1]}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + weight);
      if (weight > 0) {
        const set = this.where.get(key) ?? new Set<number>();
        set.add(word);
        this.where.set(key, set);
      }
    }
  }

  /** The most frequent pair; ties go to the smallest key, so training is deterministic. */
  best(): string | undefined {
    let best: string | undefined;
    let count = 0;
    for (const [key, c] of this.counts) if (c > count || (c === count && c > 0 && key < best!)) [best, count] = [key, c];
    return best;
  }
}

function mergeSymbols(symbols: readonly string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
      out.push(a + b);
      i++;
    } else out.push(symbols[i]!);
  }
  return out;
}

/** A word's symbols under the merges so far (lowest rank first, leftmost first), as Hugging Face's BPE applies them. */
function applyMerges(word: string, ranks: ReadonlyMap<string, number>): string[] {
  let symbols = Array.from(word);
  for (;;) {
    let best: string | undefined;
    let rank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (r !== undefined && r < rank) [best, rank] = [`${symbols[i]} ${symbols[i + 1]}`, r];
    }
    if (best === undefined) return symbols;
    const [a, b] = best.split(' ') as [string, string];
    symbols = mergeSymbols(symbols, a, b);
  }
}

/**
 * The tokenizer files: <unk>, <s>, </s> (ids 0-2), the 256 byte tokens (3-258), the
 * alphabet (every character of the sentences and the words), then one token per merge,
 * learned by frequency over the sentences' words until `vocabSize`, then the merges
 * that make each of `words` one token.
 */
export function trainPieceTokenizer(sentences: readonly string[], t: PieceTraining): PieceTokenizerFiles {
  const counts = wordCounts(sentences);
  const targets = [...new Set(t.words.map((w) => SPACE + w))];
  const alphabet = [...new Set([SPACE, ...[...counts.keys(), ...targets].flatMap((w) => Array.from(w))])].sort();
  const vocab: Record<string, number> = {};
  // Its size, kept as tokens are added: counting the keys at every merge was quadratic.
  let size = 0;
  const addToken = (token: string) => {
    vocab[token] ??= size++;
  };
  for (const token of [UNK, BOS, EOS, ...Array.from({ length: 256 }, (_, b) => byteToken(b)), ...alphabet]) addToken(token);
  const merges: string[] = [];
  const ranks = new Map<string, number>();
  const addMerge = (a: string, b: string) => {
    if (ranks.has(`${a} ${b}`)) return;
    ranks.set(`${a} ${b}`, merges.length);
    merges.push(`${a} ${b}`);
    addToken(a + b);
  };

  const words = [...counts.keys()];
  const weights = words.map((w) => counts.get(w)!);
  const symbols = words.map((w) => Array.from(w));
  const pairs = new PairCounts();
  symbols.forEach((s, i) => pairs.add(s, i, weights[i]!));
  while (size < t.vocabSize) {
    const best = pairs.best();
    if (best === undefined) break;
    const [a, b] = best.split(' ') as [string, string];
    addMerge(a, b);
    for (const i of pairs.where.get(best)!) {
      pairs.add(symbols[i]!, i, -weights[i]!);
      symbols[i] = mergeSymbols(symbols[i]!, a, b);
      pairs.add(symbols[i]!, i, weights[i]!);
    }
    pairs.counts.delete(best);
    pairs.where.delete(best);
  }
  // Each word's chain appends merges of its current pieces left to right; later merges
  // rank after it, so they cannot cut into a word whose chain came first.
  for (const w of targets) {
    const pieces = applyMerges(w, ranks);
    for (let i = 1; i < pieces.length; i++) addMerge(pieces.slice(0, i).join(''), pieces[i]!);
  }

  const tokenizer = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, UNK), special(1, BOS), special(2, EOS)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, { type: 'Replace', pattern: { String: ' ' }, content: SPACE }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: BOS, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [BOS]: { id: BOS, ids: [1], tokens: [BOS] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: SPACE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: UNK, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
  };
  // PreTrainedTokenizerFast runs tokenizer.json as written; transformers' Llama classes may rebuild its normalizer.
  const config = { add_bos_token: true, add_eos_token: false, bos_token: BOS, eos_token: EOS, unk_token: UNK, clean_up_tokenization_spaces: false, tokenizer_class: 'PreTrainedTokenizerFast' };
  return { tokenizer: `${JSON.stringify(tokenizer, null, 1)}\n`, config: `${JSON.stringify(config, null, 2)}\n` };
}
