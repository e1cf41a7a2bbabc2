// One grammar for lists of whole numbers: layers (`--layers 0,3,5-7`, the page's
// layers field), records (`--records 0-99`, `case:2,3,8-12`) and the layers of an
// eval method (`memit:layers=0-3`, joined by `+` there, since `,` separates its
// parameters). An item is N or an inclusive range A-B with A <= B.
import { BadInputError } from '../errors.ts';

export type Range = readonly [from: number, to: number];

export interface RangeRules {
  /** Between items (default ','). */
  separator?: string;
  /** What one number is, for messages (default 'number'). */
  noun?: string;
  /** Wraps a problem in the caller's words and error class. */
  fail?: (problem: string) => Error;
}

/** No range may expand to more numbers than this: a typo must not exhaust memory. */
const MAX_SPAN = 10_000_000;

export function parseRanges(text: string, { separator = ',', noun = 'number', fail = (p) => new BadInputError(p) }: RangeRules = {}): Range[] {
  return text.split(separator).map((raw) => {
    const item = raw.trim();
    if (item === '') throw fail(`an empty item; separate ${noun}s with a single "${separator}"`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) throw fail(`"${item}" is not a ${noun} or range a-b`);
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (from > to) throw fail(`the range ${item} runs backwards; write ${to}-${from}`);
    if (to - from > MAX_SPAN) throw fail(`the range ${item} is too large`);
    return [from, to] as const;
  });
}

/** Every number of the ranges, sorted, without repeats. */
export function expandRanges(ranges: readonly Range[]): number[] {
  const out = new Set<number>();
  for (const [from, to] of ranges) for (let x = from; x <= to; x++) out.add(x);
  return [...out].sort((a, b) => a - b);
}

/** The layers the ranges name in a model of `nLayer` layers, sorted; one past the last is an error. */
export function layersIn(ranges: readonly Range[], nLayer: number, fail: (problem: string) => Error): number[] {
  const last = Math.max(...ranges.map(([, to]) => to));
  if (last >= nLayer) throw fail(`layer ${last} does not exist: this model has layers 0-${nLayer - 1}`);
  return expandRanges(ranges);
}

/** Sorted numbers back into the grammar, runs as ranges: [0, 1, 2, 5] -> "0-2,5". */
export function formatRanges(sorted: readonly number[], separator = ','): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(separator);
}
