// Byte-level BPE as tiktoken does it: the text split by the encoding's pattern, each
// piece's UTF-8 bytes merged pair by pair, always the lowest-ranked adjacent pair (the
// leftmost of equal ranks) until no pair is a token; a token's rank is its id. The
// pairs wait in a heap, so a word of n bytes takes O(n log n): rescanning every pair
// after each merge, as js-tiktoken does, takes hours on a 100,000-character word.

/** The id of the token whose bytes are bytes[start, end), or -1 when none is. */
export type RankOf = (bytes: Uint8Array, start: number, end: number) => number;

/** Ids of `text`, split as `pattern` splits it and merged by `rankOf`; every special token is allowed. */
export function encodeBytePairs(text: string, pattern: string, rankOf: RankOf, special: Readonly<Record<string, number>>): number[] {
  const names = Object.keys(special).map((s) => s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&'));
  const ids: number[] = [];
  const utf8 = new TextEncoder();
  const words = new RegExp(pattern, 'gu');
  const segments = names.length === 0 ? [text] : text.split(new RegExp(`(${names.join('|')})`, 'u'));
  for (const [i, segment] of segments.entries()) {
    // split() with a capture group alternates text and the special tokens between it.
    if (i % 2 === 1) {
      ids.push(special[segment]!);
      continue;
    }
    for (const [word] of segment.matchAll(words)) {
      const bytes = utf8.encode(word);
      const whole = rankOf(bytes, 0, bytes.length);
      if (whole >= 0) ids.push(whole);
      else mergeWord(bytes, rankOf, ids);
    }
  }
  return ids;
}

/** Heap entry: merging the part at `left` with the one at `right` (ending at `end`) gives token `rank`. */
type Pair = [rank: number, left: number, right: number, end: number];

const before = (a: Pair, b: Pair): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** Appends the ids of one word's bytes to `ids`. */
function mergeWord(word: Uint8Array, rankOf: RankOf, ids: number[]): void {
  const n = word.length;
  // Parts are [start, next[start]); merging absorbs the right part into the left one.
  const next = Int32Array.from({ length: n }, (_, i) => i + 1);
  const prev = Int32Array.from({ length: n + 1 }, (_, i) => i - 1);
  const alive = new Uint8Array(n).fill(1);
  const heap: Pair[] = [];
  const offer = (left: number, right: number) => {
    if (left < 0 || right >= n) return;
    const rank = rankOf(word, left, next[right]!);
    if (rank >= 0) push(heap, [rank, left, right, next[right]!]);
  };
  for (let i = 0; i + 1 < n; i++) offer(i, i + 1);
  for (let p = pop(heap); p; p = pop(heap)) {
    const [, left, right, end] = p;
    // Stale: one of the two parts has changed since this pair was offered.
    if (!alive[left] || next[left] !== right || next[right] !== end) continue;
    next[left] = end;
    alive[right] = 0;
    if (end < n) prev[end] = left;
    offer(prev[left]!, left);
    offer(left, end);
  }
  for (let i = 0; i < n; i = next[i]!) ids.push(rankOf(word, i, next[i]!));
}

function push(heap: Pair[], p: Pair): void {
  heap.push(p);
  for (let i = heap.length - 1; i > 0;) {
    const up = (i - 1) >> 1;
    if (!before(heap[i]!, heap[up]!)) break;
    [heap[i], heap[up]] = [heap[up]!, heap[i]!];
    i = up;
  }
}

function pop(heap: Pair[]): Pair | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || !last) return top;
  heap[0] = last;
  for (let i = 0; ;) {
    const [l, r] = [2 * i + 1, 2 * i + 2];
    let m = i;
    if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
    if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
    if (m === i) break;
    [heap[i], heap[m]] = [heap[m]!, heap[i]!];
    i = m;
  }
  return top;
}
