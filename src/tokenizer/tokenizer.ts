// What the engine needs of a tokenizer, whatever the model family: text to model ids
// and back, each id's bytes and one-line display text, the special ids, and how an
// answer's tokens follow a prompt (GPT-2's BPE puts the space before a word into the
// word's token; a SentencePiece model marks it differently). gpt2-bpe.ts implements
// it for GPT-2's r50k vocabulary and reduced vocabularies of it; hf-json.ts for a
// checkpoint's tokenizer.json (Llama, Mistral, Qwen2).

/** How a family's checkpoints carry their tokenizer: GPT-2's r50k, or a tokenizer.json beside the weights. */
export type TokenizerKind = 'gpt2-bpe' | 'hf-json';

/** One token of a text as the tokenizer cut it, and the model ids that stand for it. */
export interface EncodedPart {
  /** The token's display text (as tokenText shows it). */
  readonly text: string;
  /** [its model id], or single-byte tokens that spell it when `spelled`. */
  readonly ids: readonly number[];
  /** The model's vocabulary lacks the token, so the text does not run as written. */
  readonly spelled: boolean;
}

export interface Tokenizer {
  /** Model ids are 0 … vocabSize-1. */
  readonly vocabSize: number;
  /** Beginning- and end-of-text ids; undefined where the vocabulary has none. */
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  encode(text: string): number[];
  /** encode(), one part per token of the tokenizer's own cut. */
  encodeParts(text: string): EncodedPart[];
  /** encodeParts() of a prompt as the model reads it: BOS first where the tokenizer's config adds one. */
  promptParts(prompt: string): EncodedPart[];
  /**
   * The parts of `target` as the model would read them after `prompt`, and a one-line
   * warning where that is not the tokenizer's own cut of the whole text.
   */
  targetParts(prompt: string, target: string): TargetParts;
  /**
   * False for ids that stand for no text: vocabulary rows the tokenizer has no token
   * for (a model's vocab_size above the tokenizer's) and special tokens (BOS, EOS,
   * padding, chat markers), which the lens can leave out of its lists and ranks.
   */
  isReal(id: number): boolean;
  /** The ids the logit lens leaves out of its lists and ranks. */
  readonly lensExcluded: LensExclusion;
  /** Text of model ids (invalid UTF-8 becomes U+FFFD). */
  decode(ids: readonly number[]): string;
  /** The bytes a model id stands for (a copy). */
  tokenBytes(id: number): Uint8Array;
  /** A one-line display form of a token. */
  tokenText(id: number): string;
  /** The ids of `answer` as the model would continue `prompt` with it (answers are stored without a leading space). */
  answerIds(prompt: string, answer: string): number[];
}

/** Vocabulary rows the logit lens leaves out of its top/bottom lists and ranks. */
export interface LensExclusion {
  /** Ascending. */
  readonly ids: readonly number[];
  /** How many of them are rows the tokenizer has no token for (a vocab_size above its size, holes in its ids) ... */
  readonly padded: number;
  /** ... and how many are special tokens. */
  readonly special: number;
}

export interface TargetParts {
  readonly parts: EncodedPart[];
  /** Set where the prompt's tokens are not a prefix of the encoding of prompt + target. */
  readonly warning?: string;
}

/** The ids a model reads before any text: [BOS] where the tokenizer's config adds one, else none. */
export function leadIds(tokenizer: Tokenizer): number[] {
  return promptIds(tokenizer, '');
}

/** A prompt's ids as the model reads it (promptParts()). */
export function promptIds(tokenizer: Tokenizer, prompt: string): number[] {
  return tokenizer.promptParts(prompt).flatMap((p) => p.ids);
}
