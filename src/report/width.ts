// Terminal column widths of token text, so that grid cells line up even when a
// token is CJK, an emoji or carries combining marks. An approximation of Unicode's
// East Asian Width: a terminal may still disagree on a rare character.

const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff],
  [0xa000, 0xa4cf], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60],
  [0xffe0, 0xffe6], [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x20000, 0x3fffd],
];
const ZERO_WIDTH = /^[\p{M}\u200b-\u200f\u2060\ufeff]$/u;

function charWidth(ch: string): number {
  if (ZERO_WIDTH.test(ch)) return 0;
  const cp = ch.codePointAt(0)!;
  return WIDE.some(([lo, hi]) => cp >= lo && cp <= hi) ? 2 : 1;
}

export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch);
  return w;
}

/** At most `width` columns: cut with an ellipsis when too long. */
export function cut(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** Exactly `width` columns: cut, then padded with spaces. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const out = cut(text, width);
  const pad = ' '.repeat(Math.max(0, width - displayWidth(out)));
  return align === 'left' ? out + pad : pad + out;
}
