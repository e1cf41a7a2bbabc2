// ROME's prompt segments (Meng et al. 2022, causal-tracing averages), used by the
// paper's Figs. 6, 7 and 16-18: each prompt token is labelled by where it sits
// relative to the record's subject. Found on bytes, since GPT-2 tokens are byte
// sequences that need not align with characters.
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export const SEGMENTS = [
  'before subject',
  'first subject token',
  'middle subject tokens',
  'last subject token',
  'first subsequent token',
  'further tokens',
  'last token',
] as const;

export type Segment = (typeof SEGMENTS)[number];

export interface Segmentation {
  /**
   * Per prompt token, the segments it belongs to. As in ROME's averages a token can
   * hold two (a one-token subject is its first and last token; the token right after
   * the subject may also be the last token), and tokens before the subject sit in
   * none of ROME's six: they get the extra label 'before subject'.
   */
  readonly labels: readonly (readonly Segment[])[];
  /** Subject token range [first, last], inclusive. */
  readonly subject: readonly [number, number];
  /** The subject occurs more than once: the last occurrence is used (it is the one the answer follows). */
  readonly repeated: boolean;
}

/** Segments of `ids` (the prompt's token ids), or undefined when `subject` is not in `prompt`. */
export function segmentPrompt(tokenizer: Tokenizer, prompt: string, ids: readonly number[], subject: string): Segmentation | undefined {
  const at = subject === '' ? -1 : prompt.lastIndexOf(subject);
  if (at < 0) return undefined;
  const utf8 = new TextEncoder();
  const start = utf8.encode(prompt.slice(0, at)).length;
  const end = start + utf8.encode(subject).length;
  // A token belongs to the subject if any of its bytes do (" Yasuda" carries the space before it).
  // Counted back from the prompt's end, so what a tokenizer puts before the text (BOS,
  // SentencePiece's ▁ on the first word) falls before byte 0.
  let offset = utf8.encode(prompt).length - ids.reduce((n, id) => n + tokenizer.tokenBytes(id).length, 0);
  const spans = ids.map((id) => {
    const from = offset;
    offset += tokenizer.tokenBytes(id).length;
    return [from, offset] as const;
  });
  const inSubject = spans.map(([a, b]) => a < end && b > start);
  const first = inSubject.indexOf(true);
  const last = inSubject.lastIndexOf(true);
  if (first < 0) return undefined;
  const n = ids.length;
  const labels = ids.map((_, i) => {
    const l: Segment[] = [];
    if (i < first) l.push('before subject');
    if (i === first) l.push('first subject token');
    if (i > first && i < last) l.push('middle subject tokens');
    if (i === last) l.push('last subject token');
    if (i === last + 1) l.push('first subsequent token');
    if (i > last + 1 && i < n - 1) l.push('further tokens');
    if (i === n - 1) l.push('last token');
    return l;
  });
  return { labels, subject: [first, last], repeated: prompt.indexOf(subject) !== at };
}
