// Fluency as ROME measures it: the weighted bi- and tri-gram entropy of generated text.
// H_n = -sum f log2 f over the relative frequencies f of the text's word n-grams;
// score = mean(2/3 H_2, 4/3 H_3) = (2/3 H_2 + 4/3 H_3) / 2 (SPEC §5).

/**
 * Words for the n-grams: runs of letters, digits, marks and underscores, and every
 * other non-space character on its own (a simple stand-in for NLTK's word_tokenize:
 * "Paris, France." -> Paris , France .).
 */
export function words(text: string): string[] {
  return text.match(/[\p{L}\p{N}\p{M}_]+|[^\s\p{L}\p{N}\p{M}_]/gu) ?? [];
}

/** Entropy in bits of the word n-grams of `tokens`; 0 when there are none. */
export function ngramEntropy(tokens: readonly string[], n: number): number {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const total = Math.max(0, tokens.length - n + 1);
  let h = 0;
  for (const c of counts.values()) {
    const f = c / total;
    h -= f * Math.log2(f);
  }
  return h;
}

/** The weighted 2-/3-gram entropy of one text (not yet x100). */
export function fluency(text: string): number {
  const w = words(text);
  return ((2 / 3) * ngramEntropy(w, 2) + (4 / 3) * ngramEntropy(w, 3)) / 2;
}
