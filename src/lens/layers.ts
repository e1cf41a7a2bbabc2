// The layer-list grammar ("0-11", "0,3,5-7") that the CLI's --layers and the web
// app's layers field both take, so the two accept and refuse the same text.
import { BadInputError } from './prepare.ts';

export type LayerRange = readonly [from: number, to: number];

/** Comma-separated items, trimmed; an empty item is refused. `what` names the option or field. */
export function commaItems(value: string, what: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new BadInputError(`${what} "${value}": an empty item; separate items with single commas`);
  return items;
}

/** "0-11", "0,3,5-7" as ranges; expanded once the model's depth is known. */
export function parseLayers(value: string, what = '--layers'): LayerRange[] {
  return commaItems(value, what).map((item) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) throw new BadInputError(`${what} "${value}": "${item}" is not a layer or a range like 3-7`);
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (from > to) throw new BadInputError(`${what} "${value}": the range ${item} runs backwards; write ${to}-${from}`);
    return [from, to] as const;
  });
}

/** Sorted, without repeats. */
export function expandLayers(ranges: readonly LayerRange[], nLayer: number, what = '--layers'): number[] {
  const layers = new Set<number>();
  for (const [from, to] of ranges) {
    if (to >= nLayer) throw new BadInputError(`${what}: layer ${to} does not exist: this model has layers 0-${nLayer - 1}`);
    for (let l = from; l <= to; l++) layers.add(l);
  }
  return [...layers].sort((a, b) => a - b);
}
