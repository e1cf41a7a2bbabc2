// GPT-2's vocabulary (r50k_base) both ways, in two compact tables built from
// js-tiktoken's ranks file on first use: token id -> bytes (every token's bytes end to
// end, 0.5 MB) and bytes -> id (an open-addressed hash over those bytes, 0.5 MB).
// js-tiktoken's own encoder holds the same as two 50k-entry maps of strings and
// arrays: ~16 MiB of V8's heap, ~45 MiB resident once built.
import r50k from 'js-tiktoken/ranks/r50k_base';
import type { RankOf } from './byte-bpe.ts';
import { TokenizerError } from './bytes.ts';

export const GPT2_VOCAB_SIZE = 50257;
/** The pattern that splits text into words before their bytes are merged. */
export const GPT2_PATTERN = r50k.pat_str;
/** <|endoftext|> -> 50256: allowed in any text, as in Hugging Face's GPT-2 tokenizer. */
export const GPT2_SPECIAL: Readonly<Record<string, number>> = r50k.special_tokens;

interface TokenBytes {
  readonly data: Uint8Array;
  /** Token id's bytes are data[offsets[id], offsets[id + 1]). */
  readonly offsets: Uint32Array;
  /** single[b]: the GPT-2 id of the token that is exactly the byte b. */
  readonly single: Int32Array;
}

// Building a table parses ~0.5 MB of base64 (tens of ms), so each is made once and shared by every Tokenizer.
let sharedBytes: TokenBytes | undefined;
let sharedRankOf: RankOf | undefined;

export function tokenBytesTable(): TokenBytes {
  return (sharedBytes ??= buildTokenBytes());
}

/** The bytes of GPT-2 token `id` (a view into the shared table). */
export function gpt2Bytes(id: number): Uint8Array {
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

function buildTokenBytes(): TokenBytes {
  const ranks = r50k.bpe_ranks;
  const special = Object.entries(GPT2_SPECIAL).map(([text, id]) => ({ id, bytes: new TextEncoder().encode(text) }));
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

/** FNV-1a of bytes[start, end). */
function hashOf(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * The id of a byte string, for the BPE merges. Special tokens are left out: their text
 * inside a word is ordinary bytes, as in js-tiktoken (they are split off before).
 */
export function gpt2RankOf(): RankOf {
  if (sharedRankOf) return sharedRankOf;
  const { data, offsets } = tokenBytesTable();
  const special = new Set(Object.values(GPT2_SPECIAL));
  // A power of two above twice the vocabulary: probes stay short.
  const slots = new Int32Array(1 << 17).fill(-1);
  const mask = slots.length - 1;
  for (let id = 0; id < GPT2_VOCAB_SIZE; id++) {
    if (special.has(id)) continue;
    let s = hashOf(data, offsets[id]!, offsets[id + 1]!) & mask;
    while (slots[s]! >= 0) s = (s + 1) & mask;
    slots[s] = id;
  }
  const equal = (id: number, bytes: Uint8Array, start: number, end: number): boolean => {
    const from = offsets[id]!;
    if (offsets[id + 1]! - from !== end - start) return false;
    for (let i = 0; i < end - start; i++) if (data[from + i] !== bytes[start + i]) return false;
    return true;
  };
  return (sharedRankOf = (bytes, start, end) => {
    for (let s = hashOf(bytes, start, end) & mask; ; s = (s + 1) & mask) {
      const id = slots[s]!;
      if (id < 0 || equal(id, bytes, start, end)) return id;
    }
  });
}
