// The JSON report: every number of every analysis with the model it came from.
// README.md ("JSON output") documents the schema; bump `version` on any change
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
 * The text of JSON.stringify(r, null, 1) plus a newline, one result at a time: a
 * --pairs file of thousands makes a report longer than one string may be.
 */
export function* jsonChunks(r: Report): Generator<string> {
  const nested = (value: unknown, pad: string) => JSON.stringify(value, null, 1).replace(/\n/g, `\n${pad}`);
  const list = function* (key: string, items: readonly unknown[]): Generator<string> {
    yield ` ${JSON.stringify(key)}: [`;
    for (let i = 0; i < items.length; i++) yield `${i ? ',' : ''}\n  ${nested(items[i], '  ')}`;
    yield items.length ? '\n ]' : ']';
  };
  yield `{\n "version": ${JSON.stringify(r.version)},\n "model": ${nested(r.model, ' ')},\n`;
  yield* list('results', r.results);
  if (r.neurons) {
    yield ',\n';
    yield* list('neurons', r.neurons);
  }
  yield '\n}\n';
}
