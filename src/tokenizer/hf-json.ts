// A checkpoint's tokenizer.json (Llama, Mistral, Qwen2, NeoX) behind the Tokenizer
// interface. @huggingface/tokenizers runs the normalizer, pre-tokenizer and BPE as
// Hugging Face's tokenizers do; this file adds what the engine needs besides: each
// id's bytes (SentencePiece's ▁ and <0xNN> byte tokens, or byte-level BPE's GPT-2
// alphabet), BOS as tokenizer_config.json says, and the target-token rule.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { BYTE_OF_CHAR, checkId, concatBytes, displayBytes, lenientUtf8, TokenizerError } from './bytes.ts';
import type { EncodedPart, LensExclusion, TargetParts, Tokenizer } from './tokenizer.ts';

/** A checkpoint's tokenizer files as text: the caller reads them (no file system here). */
export interface HfTokenizerFiles {
  /** tokenizer.json */
  readonly tokenizer: string;
  /** tokenizer_config.json, where the checkpoint has one. */
  readonly config?: string;
}

type Json = Record<string, unknown>;

interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special?: boolean;
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

function parse(text: string, file: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${file} is not valid JSON (${(e as Error).message}); use the one that came with the checkpoint`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenizerError(`${file} is not a JSON object; use the one that came with the checkpoint`);
  return value as Json;
}

/** Every object of a component tree (normalizer, pre-tokenizer, decoder): a Sequence nests others. */
function components(node: unknown): Json[] {
  if (typeof node !== 'object' || node === null) return [];
  if (Array.isArray(node)) return node.flatMap(components);
  return [node as Json, ...Object.values(node).flatMap(components)];
}

/** tokenizer_config.json names a special token by its text or as an AddedToken object. */
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = typeof value === 'object' && value !== null ? (value as Json).content : undefined;
  return typeof content === 'string' ? content : undefined;
}

/** A vocabulary token's bytes in a SentencePiece-style vocabulary: ▁ is a space, <0xNN> one byte. */
function pieceBytes(token: string, byteFallback: boolean): Uint8Array {
  const byte = byteFallback ? BYTE_TOKEN.exec(token) : null;
  return byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : utf8.encode(token.replaceAll('▁', ' '));
}

/** A vocabulary token's bytes in a byte-level vocabulary: each character one byte of GPT-2's alphabet. */
function byteLevelBytes(token: string): Uint8Array {
  return Uint8Array.from(Array.from(token).flatMap((c) => {
    const b = BYTE_OF_CHAR.get(c);
    return b === undefined ? [...utf8.encode(c)] : [b];
  }));
}

export class HfJsonTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  /** What a prompt starts with (BOS, where the config asks for it). */
  private readonly prefix: readonly number[];
  private readonly hf: HfTokenizer;
  private readonly config: Json;
  /** bytes[id]; undefined for ids the tokenizer has no token for. */
  private readonly bytes: readonly (Uint8Array | undefined)[];
  private readonly special: ReadonlySet<number>;
  private continuing?: HfTokenizer;
  private excluded?: LensExclusion;

  /**
   * `vocabSize`: the model's vocab_size (config.json), which may exceed the tokenizer's
   * size; the rows above it stand for no token. Without it, the tokenizer's size.
   */
  constructor(private readonly files: HfTokenizerFiles, vocabSize?: number) {
    const json = parse(files.tokenizer, 'tokenizer.json');
    this.config = files.config === undefined ? {} : parse(files.config, 'tokenizer_config.json');
    const model = (json.model ?? {}) as Json;
    const type = model.type ?? (Array.isArray(model.merges) ? 'BPE' : undefined);
    if (type !== 'BPE' || typeof model.vocab !== 'object' || model.vocab === null) {
      throw new TokenizerError(`tokenizer.json has a ${type === undefined ? 'model of no type' : `${JSON.stringify(type)} model`}; this engine reads BPE tokenizers (Llama, Mistral, Qwen2, NeoX)`);
    }
    const byteLevel = components([json.pre_tokenizer, json.decoder]).some((c) => c.type === 'ByteLevel');
    const byteFallback = model.byte_fallback === true;
    const bytes: (Uint8Array | undefined)[] = [];
    for (const [token, id] of Object.entries(model.vocab as Record<string, number>)) bytes[id] = byteLevel ? byteLevelBytes(token) : pieceBytes(token, byteFallback);
    const special = new Set<number>();
    // Added tokens are matched in the text as written, so their bytes are their text.
    for (const t of (json.added_tokens ?? []) as AddedToken[]) {
      bytes[t.id] = utf8.encode(t.content);
      if (t.special) special.add(t.id);
    }
    this.bytes = bytes;
    this.special = special;
    this.vocabSize = vocabSize ?? bytes.length;
    if (bytes.length > this.vocabSize) {
      throw new TokenizerError(`tokenizer.json has tokens up to id ${bytes.length - 1} but the model has ${this.vocabSize} vocabulary rows; use the tokenizer that came with the checkpoint`);
    }
    try {
      this.hf = new HfTokenizer(json, this.config);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json cannot be read: ${(e as Error).message}`);
    }
    this.bos = this.idOf('bos_token');
    this.eos = this.idOf('eos_token');
    this.prefix = this.promptPrefix();
  }

  /** The text's ids, no special tokens added (a special token's text in it is that token). */
  encode(text: string): number[] {
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  /** One part per token: a tokenizer.json vocabulary spells any text, so none is `spelled`. */
  encodeParts(text: string): EncodedPart[] {
    return this.parts(this.encode(text));
  }

  promptParts(prompt: string): EncodedPart[] {
    return this.parts([...this.prefix, ...this.encode(prompt)]);
  }

  /**
   * The tokens that follow the prompt's in the encoding of prompt + target: " Paris"
   * after "Lionel Messi plays for" is Llama 2's ▁Paris, where the target on its own
   * would start with a lone ▁. Where the whole text is cut across the prompt's end,
   * the target is cut as text that continues a line, and the warning says so.
   */
  targetParts(prompt: string, target: string): TargetParts {
    const head = this.encode(prompt);
    const whole = this.encode(prompt + target);
    if (whole.length > head.length && head.every((id, i) => whole[i] === id)) return { parts: this.parts(whole.slice(head.length)) };
    const ids = this.continuation().encode(target, { add_special_tokens: false }).ids;
    const quoted = (list: readonly number[]) => list.map((id) => `"${this.tokenText(id)}"`).join(' ');
    return {
      parts: this.parts(ids),
      warning: `the prompt's tokens are not a prefix of the tokens of prompt + target (${quoted(whole)}): the target runs as ${quoted(ids)}, a cut the tokenizer would not make of the whole text (end the prompt where a word ends)`,
    };
  }

  /** Answers are stored without the space that separates them from the prompt. */
  answerIds(prompt: string, answer: string): number[] {
    return this.targetParts(prompt, ` ${answer}`).parts.flatMap((p) => p.ids);
  }

  isReal(id: number): boolean {
    checkId(id, this.vocabSize, 'model token');
    return this.bytes[id] !== undefined && !this.special.has(id);
  }

  /** Every id that is not isReal(): the rows above the tokenizer's size, holes in its ids, its special tokens. */
  get lensExcluded(): LensExclusion {
    if (this.excluded) return this.excluded;
    const ids: number[] = [];
    let padded = 0;
    for (let id = 0; id < this.vocabSize; id++) {
      if (this.bytes[id] === undefined) padded++;
      if (!this.isReal(id)) ids.push(id);
    }
    return (this.excluded = { ids, padded, special: ids.length - padded });
  }

  /** Text of model ids: their bytes joined, then UTF-8 decoded (a special token is its text, e.g. <s>). */
  decode(ids: readonly number[]): string {
    return lenientUtf8.decode(concatBytes(ids.map((id) => this.bytesOf(id))));
  }

  /** The bytes a model id stands for (a copy); none for a row the tokenizer has no token for. */
  tokenBytes(id: number): Uint8Array {
    return this.bytesOf(id).slice();
  }

  /** As Gpt2Tokenizer.tokenText; `<row N>` for a row the tokenizer has no token for. */
  tokenText(id: number): string {
    checkId(id, this.vocabSize, 'model token');
    const bytes = this.bytes[id];
    return bytes ? displayBytes(bytes) : `<row ${id}>`;
  }

  private bytesOf(id: number): Uint8Array {
    checkId(id, this.vocabSize, 'model token');
    return this.bytes[id] ?? new Uint8Array(0);
  }

  private parts(ids: readonly number[]): EncodedPart[] {
    return ids.map((id) => ({ text: this.tokenText(id), ids: [id], spelled: false }));
  }

  private idOf(key: 'bos_token' | 'eos_token'): number | undefined {
    const name = tokenName(this.config[key]);
    if (name === undefined) return undefined;
    const id = this.hf.token_to_id(name);
    if (id === undefined) throw new TokenizerError(`tokenizer_config.json's ${key} ${JSON.stringify(name)} is not a token of tokenizer.json; use the two files that came with the checkpoint`);
    return id;
  }

  /**
   * Transformers' LlamaTokenizerFast rebuilds tokenizer.json's template from
   * add_bos_token; other classes (Llama 3's, Qwen2's) add what the template adds.
   * Only the special tokens before the text count: a prompt never ends in EOS.
   */
  private promptPrefix(): number[] {
    const add = this.config.add_bos_token;
    if (typeof add === 'boolean') {
      if (add && this.bos === undefined) throw new TokenizerError('tokenizer_config.json sets add_bos_token but names no bos_token; add the bos_token that came with the checkpoint');
      return add ? [this.bos!] : [];
    }
    const ids = this.hf.encode('a').ids;
    const start = ids.findIndex((id) => !this.special.has(id));
    return ids.slice(0, start < 0 ? ids.length : start);
  }

  /** The tokenizer without the space SentencePiece or a byte-level prefix puts before a text, for text that continues a line. */
  private continuation(): HfTokenizer {
    if (this.continuing) return this.continuing;
    const json = parse(this.files.tokenizer, 'tokenizer.json');
    for (const c of components([json.normalizer, json.pre_tokenizer])) {
      if (c.type === 'Prepend') c.prepend = '';
      if (c.type === 'Metaspace') Object.assign(c, { prepend_scheme: 'never', add_prefix_space: false });
      if (c.type === 'ByteLevel') c.add_prefix_space = false;
    }
    return (this.continuing = new HfTokenizer(json, this.config));
  }
}
