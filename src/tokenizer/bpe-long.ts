// Byte-pair encoding in O(n log n) per word, for text holding very long words:
// js-tiktoken rescans every pair of a word after each merge, so one 100,000-character
// word would take hours. The merges are the same: always the lowest-ranked adjacent
// pair, the leftmost of equal ranks, kept in a heap instead of found by a scan.

/** GPT-2 ids of `text`, split as GPT-2 splits it (`pattern`) and merged by `ranks` (token bytes as latin1 -> id). */
export function encodeLong(text: string, pattern: string, ranks: ReadonlyMap<string, number>, special: Readonly<Record<string, number>>): number[] {
  const names = Object.keys(special).map((s) => s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&'));
  const ids: number[] = [];
  const utf8 = new TextEncoder();
  const segments = names.length === 0 ? [text] : text.split(new RegExp(`(${names.join('|')})`, 'u'));
  for (const [i, segment] of segments.entries()) {
    // split() with a capture group alternates text and the special tokens between it.
    if (i % 2 === 1) {
      ids.push(special[segment]!);
      continue;
    }
    for (const [word] of segment.matchAll(new RegExp(pattern, 'gu'))) {
      const bytes = latin1(utf8.encode(word));
      const whole = ranks.get(bytes);
      if (whole !== undefined) ids.push(whole);
      else ids.push(...mergeWord(bytes, ranks));
    }
  }
  return ids;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

/** Heap entry: merging the part at `left` with the one at `right` (ending at `end`) gives token `rank`. */
type Pair = [rank: number, left: number, right: number, end: number];

const before = (a: Pair, b: Pair): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

function mergeWord(word: string, ranks: ReadonlyMap<string, number>): number[] {
  const n = word.length;
  // Parts are [start, next[start]); merging absorbs the right part into the left one.
  const next = Int32Array.from({ length: n }, (_, i) => i + 1);
  const prev = Int32Array.from({ length: n + 1 }, (_, i) => i - 1);
  const alive = new Uint8Array(n).fill(1);
  const heap: Pair[] = [];
  const offer = (left: number, right: number) => {
    if (left < 0 || right >= n) return;
    const rank = ranks.get(word.slice(left, next[right]));
    if (rank !== undefined) push(heap, [rank, left, right, next[right]!]);
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
  const ids: number[] = [];
  for (let i = 0; i < n; i = next[i]!) ids.push(ranks.get(word.slice(i, next[i]))!);
  return ids;
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
