// Number formatting shared by the terminal and HTML reports, so both show the same digits.

/** Three significant digits; exponent form outside [0.001, 10000) where fixed digits would hide them. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(2);
}

/** A probability as a percentage down to 0.1 %, then in exponent form. */
export function prob(p: number): string {
  return p >= 1e-3 ? `${Number((p * 100).toPrecision(3))}%` : p.toExponential(1);
}

/** Token text for a grid cell or column: a token of spaces only shows them as ␣, or it would look like a blank cell. */
export function visible(text: string): string {
  return /^ +$/.test(text) ? text.replace(/ /g, '␣') : text;
}

/** Token text in quotes, so leading spaces stay visible. */
export function quoted(text: string): string {
  return `"${text}"`;
}
