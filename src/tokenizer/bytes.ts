// What every tokenizer shares about bytes: a token's one-line display, joining token
// bytes, the range check on ids, and the bytes behind byte-level BPE's characters.
import { BadInputError } from '../errors.ts';

export class TokenizerError extends BadInputError {
  override name = 'TokenizerError';
}

export const lenientUtf8 = new TextDecoder('utf-8');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Length of the valid UTF-8 character starting at bytes[i], or 0 if none does. */
function utf8CharLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i]!;
  const n = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
  if (n === 0 || i + n > bytes.length) return 0;
  try {
    // The platform decoder already rejects overlong forms, surrogates and stray bytes.
    strictUtf8.decode(bytes.subarray(i, i + n));
    return n;
  } catch {
    return 0;
  }
}

const hexByte = (b: number): string => `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\\': '\\\\' };

// Controls, invisible format characters and line separators would break or hide in a
// one-line display, so they are shown as their bytes.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** One-line rendering of arbitrary bytes; see Tokenizer.tokenText. */
export function displayBytes(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const n = utf8CharLength(bytes, i);
    const char = bytes.subarray(i, i + Math.max(n, 1));
    const text = n > 0 ? lenientUtf8.decode(char) : '';
    out += NAMED_ESCAPES[text] ?? (n === 0 || UNPRINTABLE.test(text) ? Array.from(char, hexByte).join('') : text);
    i += char.length;
  }
  return out;
}

/** Any text in tokenText's one-line form, so a prompt echoed to a terminal cannot drive it. */
export function displayText(text: string): string {
  return displayBytes(new TextEncoder().encode(text));
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function checkId(id: number, size: number, kind: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= size) {
    throw new TokenizerError(`${kind} id ${id} is out of range: expected an integer in [0, ${size}); pass ids produced by this tokenizer`);
  }
}

/**
 * GPT-2's byte-level alphabet, as byte-level BPE vocabularies (GPT-2, Llama 3, Qwen2,
 * NeoX) spell their tokens: printable Latin-1 bytes stand for themselves, the other
 * 68 bytes take the characters from U+0100 on, in byte order. Character -> byte.
 */
export const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let next = 0x100;
  for (let b = 0; b < 256; b++) map.set(String.fromCharCode(printable(b) ? b : next++), b);
  return map;
})();
