// The JSON report: every number of every analysis with the model it came from.
// docs/cli/json.md documents the schema; bump `version` on any change
// that would break a reader.
import type { EditMethod } from '../edit/types.ts';
import type { NeuronView } from '../lens/neurons/types.ts';
import type { Analysis } from '../lens/types.ts';
import type { ModelSizes } from '../model/config.ts';
import type { WeightMemory } from '../model/memory.ts';

export const REPORT_VERSION = 1;

export interface ModelInfo extends ModelSizes {
  /** The model directory or file as given, or "default" for the embedded model. */
  readonly source: string;
  /** Bytes the weights take on the device. */
  readonly memory?: WeightMemory;
  /** Edits applied in memory before the analysis (the web app's edit stack), oldest first; absent when none. */
  readonly edits?: readonly AppliedEdit[];
}

/** One edit as applied: its pair and its settings with the defaults filled in. */
export interface AppliedEdit {
  readonly prompt: string;
  readonly target: string;
  readonly method: EditMethod;
  readonly layers: readonly number[];
  readonly lr: number;
  /** shift: at most this many passes; sgd, adam: steps. */
  readonly steps: number;
}

export interface Report {
  readonly version: typeof REPORT_VERSION;
  readonly model: ModelInfo;
  readonly results: readonly Analysis[];
  /** With --neurons: the per-neuron view of each result, in the same order. */
  readonly neurons?: readonly NeuronView[];
}

export function report(model: ModelInfo, results: readonly Analysis[], neurons?: readonly NeuronView[]): Report {
  return { version: REPORT_VERSION, model, results, ...(neurons ? { neurons } : {}) };
}

export function renderJson(r: Report): string {
  return [...jsonChunks(r)].join('');
}

/**
 * The text of JSON.stringify(r, null, 1) plus a newline, in pieces of about 64k
 * characters: a --pairs file of thousands makes a report longer than one string may
 * be, and even one analysis's text (MBs at gpt2-medium) held whole, with its copies
 * on the way to the file, set the peak memory of `analyze`.
 */
export function* jsonChunks(r: Report): Generator<string> {
  // Down to a result's modules (report, results, a result, layers, a layer, modules).
  yield* joined(stringified(r, '', 6, false));
  yield '\n';
}

/** JSON.stringify(r) in pieces of about 64k characters (the HTML report embeds it). */
export function compactJsonChunks(r: Report): Generator<string> {
  return joined(stringified(r, '', 6, true));
}

/** Small pieces joined into pieces of about JSON_CHUNK_CHARS. */
function* joined(pieces: Iterable<string>): Generator<string> {
  let pending = '';
  for (const piece of pieces) {
    pending += piece;
    if (pending.length >= JSON_CHUNK_CHARS) {
      yield pending;
      pending = '';
    }
  }
  if (pending) yield pending;
}

const JSON_CHUNK_CHARS = 1 << 16;

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * JSON.stringify(value, null, 1) with every line after the first indented by `pad`
 * (`compact`: JSON.stringify(value)), in pieces: arrays and objects `depth` levels down
 * are written a member at a time, the rest whole.
 */
function* stringified(value: unknown, pad: string, depth: number, compact: boolean): Generator<string> {
  if (depth === 0 || value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    yield compact ? JSON.stringify(value) : JSON.stringify(value, null, 1).replace(/\n/g, `\n${pad}`);
    return;
  }
  const array = Array.isArray(value);
  const members: [string, unknown][] = array ? Array.from(value as unknown[], (v) => ['', omitted(v) ? null : v]) : Object.entries(value).filter(([, v]) => !omitted(v));
  const [open, close] = array ? ['[', ']'] : ['{', '}'];
  if (members.length === 0) {
    yield open + close;
    return;
  }
  const inner = compact ? '' : `${pad} `;
  const [line, colon] = compact ? ['', ':'] : ['\n', ': '];
  yield open;
  for (const [i, [key, v]] of members.entries()) {
    yield `${i ? ',' : ''}${line}${inner}${array ? '' : `${JSON.stringify(key)}${colon}`}`;
    yield* stringified(v, inner, depth - 1, compact);
  }
  yield `${line}${compact ? '' : pad}${close}`;
}
