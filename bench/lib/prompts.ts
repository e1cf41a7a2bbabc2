// Prompts of an exact token count for benches that scale with prompt length.
import type { Tokenizer } from '../../src/tokenizer/tokenizer.ts';

// Plain English prose, long enough for 128 tokens and more when repeated.
const PASSAGE = 'The Eiffel Tower, which was completed in 1889, is located in the city of Paris. ' +
  'It was designed by the engineering company of Gustave Eiffel for the world fair, and for forty years it was the tallest structure ever built. ' +
  'Visitors climb its stairs or ride the lifts to three levels, where restaurants and a small museum look out over the river Seine and the roofs of the old town. ' +
  'Painters and writers first called it an eyesore, yet within a generation it had become the best known symbol of France.';

/** The passage, repeated until it is longer than `n` tokens. */
function passageOver(tokenizer: Tokenizer, n: number): string {
  let text = PASSAGE;
  while (tokenizer.encode(text).length < n + 1) text += ' ' + PASSAGE;
  return text;
}

/** Text that the tokenizer encodes to exactly `n` tokens. */
export function promptOfLength(tokenizer: Tokenizer, n: number): string {
  const text = passageOver(tokenizer, n);
  // Cutting the ids and decoding can merge across the cut; drop tokens until it does not.
  for (let cut = n; cut > 0; cut--) {
    const prefix = tokenizer.decode(tokenizer.encode(text).slice(0, cut));
    const extra = ' the'.repeat(n - cut);
    if (tokenizer.encode(prefix + extra).length === n) return prefix + extra;
  }
  throw new Error(`no prompt of ${n} tokens`);
}

/**
 * The passage's start, then `end`: exactly `n` prompt tokens as the model reads them
 * (BOS included where the tokenizer adds one), for a prompt of a set length that ends
 * as a real question does (" Lionel Messi plays for").
 */
export function promptEndingWith(tokenizer: Tokenizer, n: number, end: string): string {
  const count = (text: string) => tokenizer.promptParts(text).reduce((c, p) => c + p.ids.length, 0);
  const text = passageOver(tokenizer, n);
  for (let cut = n; cut > 0; cut--) {
    const prefix = tokenizer.decode(tokenizer.encode(text).slice(0, cut));
    const short = n - count(prefix + end);
    if (short >= 0 && count(prefix + ' the'.repeat(short) + end) === n) return prefix + ' the'.repeat(short) + end;
  }
  throw new Error(`no prompt of ${n} tokens ending ${JSON.stringify(end)}`);
}
