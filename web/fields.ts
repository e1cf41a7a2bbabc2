// The form fields read as values: an empty or non-numeric field is an error that
// names it, never a silent 0 or NaN passed on to the engine.
import { layersIn, parseRanges } from '../src/data/ranges.ts';
import { BadInputError } from '../src/errors.ts';
import { $ } from './dom.ts';

/** A number field's value; `whole` refuses fractions. */
export function numberField(id: string, label: string, whole = false): number {
  const input = $<HTMLInputElement>(id);
  const text = input.value.trim();
  const kind = whole ? 'a whole number' : 'a number';
  // A type=number input reports text it cannot parse as '' with badInput set.
  if (input.validity.badInput) throw new BadInputError(`the ${label} field is not ${kind}`);
  if (text === '') throw new BadInputError(`the ${label} field is empty: give ${kind}`);
  const value = Number(text);
  if (!Number.isFinite(value) || (whole && !Number.isInteger(value))) throw new BadInputError(`the ${label} field "${text}" is not ${kind}`);
  return value;
}

/** The layers field in the CLI's --layers grammar ("0-2,5"); empty or "all": every layer. */
export function layersField(nLayer: number): number[] | undefined {
  return layerList($<HTMLInputElement>('layers').value, nLayer);
}

/** The layers field's text as layers (undefined: all), refused in the field's words. */
export function layerList(value: string, nLayer: number): number[] | undefined {
  const text = value.trim();
  if (text === '' || text === 'all') return undefined;
  const fail = (problem: string) => new BadInputError(`the layers field "${text}": ${problem}`);
  return layersIn(parseRanges(text, { noun: 'layer', fail }), nLayer, fail);
}
