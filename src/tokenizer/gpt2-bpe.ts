// GPT-2 byte-level BPE (r50k_base, via js-tiktoken), optionally restricted to a
// model's reduced vocabulary. Model ids are what the model's embedding rows are
// indexed by; GPT-2 ids are what r50k_base assigns. Without a reduced vocabulary
// the two coincide.
import { Tiktoken } from 'js-tiktoken/lite';
import r50k from 'js-tiktoken/ranks/r50k_base';
import { checkId, concatBytes, displayBytes, lenientUtf8, TokenizerError } from './bytes.ts';
import { encodeLong } from './bpe-long.ts';
import type { EncodedPart, LensExclusion, TargetParts, Tokenizer } from './tokenizer.ts';

export { TokenizerError };

const GPT2_VOCAB_SIZE = 50257;
/** <|endoftext|>: GPT-2 begins and ends a text with it. */
const END_OF_TEXT = 50256;

// Building either table parses ~1 MB of base64 ranks (~100 ms), so both are made
// on first use and shared by every Tokenizer.
let sharedEncoder: WeakRef<Tiktoken> | undefined;
let sharedBytes: TokenBytes | undefined;
let sharedRanks: Map<string, number> | undefined;

// js-tiktoken's maps take ~16 MiB of V8's heap (~40 MiB resident): held weakly, so
// once the prompts are encoded an analysis's own objects can reuse that space.
function encoder(): Tiktoken {
  const kept = sharedEncoder?.deref();
  if (kept) return kept;
  const made = new Tiktoken(r50k);
  sharedEncoder = new WeakRef(made);
  return made;
}

/**
 * Every token's bytes end to end in one array, so the table is two allocations
 * (0.5 MB) instead of one typed array per token (14-25 MiB resident).
 */
interface TokenBytes {
  readonly data: Uint8Array;
  /** Token id's bytes are data[offsets[id], offsets[id + 1]). */
  readonly offsets: Uint32Array;
  /** single[b]: the GPT-2 id of the token that is exactly the byte b. */
  readonly single: Int32Array;
}

function tokenBytesTable(): TokenBytes {
  return (sharedBytes ??= buildTokenBytes());
}

/** The bytes of GPT-2 token `id` (a view into the shared table). */
function gpt2Bytes(id: number): Uint8Array {
  const { data, offsets } = tokenBytesTable();
  return data.subarray(offsets[id]!, offsets[id + 1]!);
}

/**
 * Calls `visit` with each rank's id and where its base64 lies in `ranks`, a line
 * being "<first token> <rank of the first entry> <base64 entries, consecutive ranks>".
 */
function forEachRank(ranks: string, visit: (id: number, from: number, to: number) => void): void {
  const endOf = (char: string, from: number) => (ranks.indexOf(char, from) + 1 || ranks.length + 1) - 1;
  for (let line = 0; line < ranks.length;) {
    const lineEnd = endOf('\n', line);
    const first = endOf(' ', line);
    const second = endOf(' ', first + 1);
    let id = Number(ranks.slice(first + 1, second));
    for (let at = second + 1; at < lineEnd; id++) {
      const end = Math.min(endOf(' ', at), lineEnd);
      visit(id, at, end);
      at = end + 1;
    }
    line = lineEnd + 1;
  }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const SEXTET = new Uint8Array(128);
for (let i = 0; i < BASE64.length; i++) SEXTET[BASE64.charCodeAt(i)] = i;
const PAD = '='.charCodeAt(0);

function base64Length(text: string, from: number, to: number): number {
  return ((to - from) / 4) * 3 - (text.charCodeAt(to - 1) === PAD ? 1 : 0) - (text.charCodeAt(to - 2) === PAD ? 1 : 0);
}

/** Decodes text[from, to) into out from `at` on, making no strings on the way. */
function decodeBase64(text: string, from: number, to: number, out: Uint8Array, at: number): void {
  const end = at + base64Length(text, from, to);
  for (let i = from; i < to; i += 4) {
    const word = (SEXTET[text.charCodeAt(i)]! << 18) | (SEXTET[text.charCodeAt(i + 1)]! << 12) | (SEXTET[text.charCodeAt(i + 2)]! << 6) | SEXTET[text.charCodeAt(i + 3)]!;
    for (let shift = 16; shift >= 0 && at < end; shift -= 8) out[at++] = (word >> shift) & 255;
  }
}

// js-tiktoken keeps its id → bytes map private, so the ranks are read here too.
function buildTokenBytes(): TokenBytes {
  const ranks = r50k.bpe_ranks;
  const special = Object.entries(r50k.special_tokens).map(([text, id]) => ({ id, bytes: new TextEncoder().encode(text) }));
  const lengths = new Int32Array(GPT2_VOCAB_SIZE).fill(-1);
  forEachRank(ranks, (id, from, to) => { if (id < GPT2_VOCAB_SIZE) lengths[id] = base64Length(ranks, from, to); });
  for (const { id, bytes } of special) lengths[id] = bytes.length;
  const offsets = new Uint32Array(GPT2_VOCAB_SIZE + 1);
  for (let id = 0; id < GPT2_VOCAB_SIZE; id++) {
    if (lengths[id]! < 0) throw new TokenizerError(`js-tiktoken's r50k_base ranks lack GPT-2 token ${id}; reinstall js-tiktoken ^1.0.21`);
    offsets[id + 1] = offsets[id]! + lengths[id]!;
  }
  const data = new Uint8Array(offsets[GPT2_VOCAB_SIZE]!);
  forEachRank(ranks, (id, from, to) => { if (id < GPT2_VOCAB_SIZE) decodeBase64(ranks, from, to, data, offsets[id]!); });
  for (const { id, bytes } of special) data.set(bytes, offsets[id]!);
  const single = new Int32Array(256);
  for (let id = 0; id < GPT2_VOCAB_SIZE; id++) if (lengths[id] === 1) single[data[offsets[id]!]!] = id;
  return { data, offsets, single };
}

/** GPT-2 id of each token's bytes, as a latin1 string (for bpe-long.ts). */
function latin1Ranks(): Map<string, number> {
  if (sharedRanks) return sharedRanks;
  const special = new Set(Object.values(r50k.special_tokens));
  const ranks = new Map<string, number>();
  for (let id = 0; id < GPT2_VOCAB_SIZE; id++) if (!special.has(id)) ranks.set(String.fromCharCode(...gpt2Bytes(id)), id);
  return (sharedRanks = ranks);
}

// A GPT-2 word is a run of letters, digits, other symbols or whitespace; only text
// with a run this long can hold a word js-tiktoken would take seconds on.
const LONG_RUN = /\S{256}|\s{256}/;

/** GPT-2 ids of `text`, every special token allowed. */
function gpt2Encode(text: string): number[] {
  return LONG_RUN.test(text) ? encodeLong(text, r50k.pat_str, latin1Ranks(), r50k.special_tokens) : encoder().encode(text, 'all');
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
