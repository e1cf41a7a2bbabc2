// GPT-2 byte-level BPE (r50k_base: js-tiktoken's ranks, merged by byte-bpe.ts), optionally restricted to a
// model's reduced vocabulary. Model ids are what the model's embedding rows are
// indexed by; GPT-2 ids are what r50k_base assigns. Without a reduced vocabulary
// the two coincide.
import { checkId, concatBytes, displayBytes, lenientUtf8, TokenizerError } from './bytes.ts';
import { encodeBytePairs } from './byte-bpe.ts';
import { GPT2_PATTERN, GPT2_SPECIAL, GPT2_VOCAB_SIZE, gpt2Bytes, gpt2RankOf, tokenBytesTable } from './gpt2-table.ts';
import type { EncodedPart, LensExclusion, TargetParts, Tokenizer } from './tokenizer.ts';

export { TokenizerError };

/** <|endoftext|>: GPT-2 begins and ends a text with it. */
const END_OF_TEXT = 50256;

/** GPT-2 ids of `text`, every special token allowed: js-tiktoken's ids, from tables a fraction of its size. */
function gpt2Encode(text: string): number[] {
  return encodeBytePairs(text, GPT2_PATTERN, gpt2RankOf(), GPT2_SPECIAL);
}

/** Widens [start, end) to whole UTF-8 characters so a token cut mid-character names the character. */
function characterSpan(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const isContinuation = (i: number): boolean => (bytes[i]! & 0xc0) === 0x80;
  while (start > 0 && isContinuation(start)) start--;
  while (end < bytes.length && isContinuation(end)) end++;
  return bytes.subarray(start, end);
}

function validateVocab(vocab: readonly number[]): void {
  if (vocab.length === 0) {
    throw new TokenizerError('the reduced vocabulary is empty; list at least one GPT-2 token id, or omit it to use the full GPT-2 vocabulary');
  }
  const seen = new Map<number, number>();
  vocab.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= GPT2_VOCAB_SIZE) {
      throw new TokenizerError(`reduced vocabulary entry ${i} is ${id}, not a GPT-2 token id (an integer in [0, ${GPT2_VOCAB_SIZE})); fix the model's vocabulary list`);
    }
    const first = seen.get(id);
    if (first !== undefined) {
      throw new TokenizerError(`reduced vocabulary lists GPT-2 token ${id} twice (entries ${first} and ${i}); each id may appear once, fix the model's vocabulary list`);
    }
    seen.set(id, i);
  });
}

export class Gpt2Tokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  /** toGpt2[modelId] = GPT-2 id. */
  private readonly toGpt2: readonly number[];
  /** fromGpt2[gpt2Id] = model id, or -1 when the model lacks that token. */
  private readonly fromGpt2: Int32Array;

  /**
   * The GPT-2 tokenizer. With `vocab` (model id i ↔ GPT-2 id vocab[i]), ids are the
   * model's; without it they are GPT-2's own (vocabSize 50257).
   */
  constructor(vocab?: readonly number[]) {
    if (vocab !== undefined) validateVocab(vocab);
    const toGpt2 = vocab === undefined ? Array.from({ length: GPT2_VOCAB_SIZE }, (_, i) => i) : [...vocab];
    this.toGpt2 = toGpt2;
    this.vocabSize = toGpt2.length;
    this.fromGpt2 = new Int32Array(GPT2_VOCAB_SIZE).fill(-1);
    toGpt2.forEach((gpt2, model) => { this.fromGpt2[gpt2] = model; });
    this.bos = this.eos = this.modelId(END_OF_TEXT);
  }

  /**
   * Model ids for `text`, as GPT-2 tokenizes it (a literal `<|endoftext|>` becomes
   * that special token, as in Hugging Face's GPT-2 tokenizer). A GPT-2 token missing
   * from a reduced vocabulary is spelled with single-byte tokens instead; if one of
   * those is missing too, throws TokenizerError naming the text. Lone surrogates
   * are encoded as U+FFFD, so they do not survive decode(encode(text)).
   */
  encode(text: string): number[] {
    return this.gpt2Parts(text).flatMap((p) => p.ids);
  }

  /**
   * encode(), one part per GPT-2 token, saying which were spelled in bytes because
   * the reduced vocabulary lacks them: such text is not the token the user meant.
   */
  encodeParts(text: string): EncodedPart[] {
    return this.gpt2Parts(text).map(({ gpt2, ids, spelled }) => ({ text: displayBytes(gpt2Bytes(gpt2)), ids, spelled }));
  }

  /** GPT-2 adds no BOS to a prompt (Hugging Face's GPT-2 tokenizer neither). */
  promptParts(prompt: string): EncodedPart[] {
    return this.encodeParts(prompt);
  }

  /** The target on its own: GPT-2 words carry the space before them, so " Paris" is one token whatever precedes it. */
  targetParts(_prompt: string, target: string): TargetParts {
    return { parts: this.encodeParts(target) };
  }

  /**
   * None: <|endoftext|> stays in GPT-2's lists and ranks, so they are those of every
   * run before the lens left special tokens out.
   */
  readonly lensExcluded: LensExclusion = { ids: [], padded: 0, special: 0 };

  /** Every id but <|endoftext|>, r50k's one special token. */
  isReal(id: number): boolean {
    checkId(id, this.vocabSize, 'model token');
    return id !== this.bos;
  }

  /** GPT-2 words carry the space before them: an answer follows a prompt as " " + answer. */
  answerIds(_prompt: string, answer: string): number[] {
    return this.encode(` ${answer}`);
  }

  /** Text of model ids: their bytes joined, then UTF-8 decoded (invalid sequences become U+FFFD). */
  decode(ids: readonly number[]): string {
    return lenientUtf8.decode(concatBytes(ids.map((id) => this.bytesOf(id))));
  }

  /** The bytes a model id stands for (a copy). */
  tokenBytes(id: number): Uint8Array {
    return this.bytesOf(id).slice();
  }

  /**
   * A one-line display form of a token: its UTF-8 text (a leading space stays a
   * space), with newline, tab and carriage return as `\n`, `\t`, `\r`, a backslash as
   * `\\` (so a literal `\n` token stays distinguishable), and control/format
   * characters or bytes that are not valid UTF-8 on their own as `\xNN`.
   */
  tokenText(id: number): string {
    return displayBytes(this.bytesOf(id));
  }

  gpt2Id(modelId: number): number {
    checkId(modelId, this.vocabSize, 'model token');
    return this.toGpt2[modelId]!;
  }

  /** The model id of a GPT-2 token, or undefined if the reduced vocabulary lacks it. */
  modelId(gpt2Id: number): number | undefined {
    checkId(gpt2Id, GPT2_VOCAB_SIZE, 'GPT-2 token');
    const id = this.fromGpt2[gpt2Id]!;
    return id >= 0 ? id : undefined;
  }

  private gpt2Parts(text: string): { gpt2: number; ids: number[]; spelled: boolean }[] {
    const gpt2Ids = gpt2Encode(text);
    return gpt2Ids.map((gpt2) => {
      const id = this.fromGpt2[gpt2]!;
      if (id >= 0) return { gpt2, ids: [id], spelled: false };
      return { gpt2, ids: this.spellInBytes(gpt2, () => this.unencodable(gpt2Ids, gpt2)), spelled: true };
    });
  }

  private bytesOf(modelId: number): Uint8Array {
    return gpt2Bytes(this.gpt2Id(modelId));
  }

  private spellInBytes(gpt2: number, fail: () => TokenizerError): number[] {
    const { single } = tokenBytesTable();
    return Array.from(gpt2Bytes(gpt2), (b) => {
      const id = this.fromGpt2[single[b]!]!;
      if (id < 0) throw fail();
      return id;
    });
  }

  private unencodable(gpt2Ids: readonly number[], gpt2: number): TokenizerError {
    const at = gpt2Ids.indexOf(gpt2);
    const start = gpt2Ids.slice(0, at).reduce((n, id) => n + gpt2Bytes(id).length, 0);
    const text = concatBytes(gpt2Ids.map(gpt2Bytes));
    const fragment = displayBytes(characterSpan(text, start, start + gpt2Bytes(gpt2).length));
    return new TokenizerError(
      `cannot encode "${fragment}": GPT-2 token ${gpt2} is not in this model's ${this.vocabSize}-token vocabulary and neither are all of its single-byte tokens; remove or rephrase that text, or use a model with the full GPT-2 vocabulary`,
    );
  }
}
